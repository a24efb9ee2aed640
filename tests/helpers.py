"""Test helpers: the one loader of events/ files, and module loading by path."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO_ROOT / "events"
ARTIFACT_DIR = REPO_ROOT / "build" / "artifacts" / "all-MiniLM-L6-v2"


def load_event(name: str) -> dict[str, Any]:
    """An event from events/, exactly as `sam local invoke -e` would send it."""
    return json.loads((EVENTS_DIR / name).read_text())


def event_files(prefix: str = "") -> list[str]:
    return sorted(p.name for p in EVENTS_DIR.glob(f"{prefix}*.json"))


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file under a unique module name (both functions' modules are called app)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def body(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of an ALB response."""
    return json.loads(result["body"])


def corrupt(path: Path, offset: int = 4096) -> None:
    """Flip every bit of one byte of ``path`` (a file a test may damage: a copy)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
