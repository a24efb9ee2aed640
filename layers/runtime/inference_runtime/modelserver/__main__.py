"""``python -m inference_runtime.modelserver``: the environment's model server (a worker starts it)."""

import sys

from .server import main

sys.exit(main())
