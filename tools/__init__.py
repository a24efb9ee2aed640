"""Build-time and local-only tools: artifact build, local Lambda runtime, front door, demo.

None of this is shipped in the image. The runtime package lives in layers/runtime;
run the tools from the repository root (``python -m tools.<name>``) and this makes it
importable without installing anything.
"""

import sys
from pathlib import Path

_RUNTIME = str(Path(__file__).resolve().parents[1] / "layers" / "runtime")
if _RUNTIME not in sys.path:
    sys.path.insert(0, _RUNTIME)
