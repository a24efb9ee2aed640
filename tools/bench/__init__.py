"""`make bench`: the template's cold start against the naive handler, measured in one run."""
