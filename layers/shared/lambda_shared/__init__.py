"""What the inference function and the keep-warm function have in common, and nothing else.

- ``env``: the environment variable names both functions read, and those Lambda sets
  (constants only: importing it imports nothing);
- ``settings``: one way to resolve a setting (explicit argument, environment variable,
  default) and ``ConfigError``;
- ``tiers``: the latency tiers (standard, premium, gpu) as one table;
- ``log``: JSON log lines on stdout; ``emf``: CloudWatch EMF documents and the metric names
  the runtime writes and keep-warm reads back;
- ``events``: the ALB request event, and the ``/warm`` ping built from it.

Standard library only, cheap to import. The inference runtime (``inference_runtime``) and
keep-warm (``keepwarm/warming``) each import this package; neither imports the other, and
this package imports neither (tests/unit/test_import_graph.py holds all three to it).
"""
