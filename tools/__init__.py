"""Build-time and local-only tools: artifact build, local Lambda runtime, front door, demo.

None of this is shipped in the image. Both this package and the runtime package it
uses (layers/runtime/inference_runtime) are installed into the development venv by
`make setup` (`pip install -e .`, see pyproject.toml): no path is edited here.
"""
