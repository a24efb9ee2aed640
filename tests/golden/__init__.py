"""Golden responses of the HTTP API, recorded from the code before issue 13's API redesign."""
