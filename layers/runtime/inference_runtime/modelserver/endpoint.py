"""Where an environment's model server lives: its socket, locks, pid and event files, under its /tmp.

Everything sits beside the weight cache (MODEL_CACHE_DIR, in /tmp by default): /tmp is the
one directory every worker process of a Managed-Instances environment shares, and it goes
with the environment. The name is a hash of the model's identity, so two models in one
environment (or a test's own cache directory) never meet one server.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import RuntimeConfig

#: the longest socket path used, leaving room for the temporary name the server binds first (sun_path: 108)
MAX_SOCKET_PATH = 90


@dataclass(frozen=True)
class Endpoint:
    """The files of one model server."""

    directory: Path
    key: str

    @classmethod
    def for_config(cls, config: RuntimeConfig) -> Endpoint:
        identity = f"{config.model_name}\0{config.model_registry}\0{config.artifact_dir}"
        return cls(config.cache_dir / "modelserver", hashlib.sha256(identity.encode()).hexdigest()[:12])

    @property
    def socket(self) -> Path:
        beside = self.directory / f"{self.key}.sock"
        if len(str(beside)) <= MAX_SOCKET_PATH:
            return beside
        # A Unix socket's path holds at most 107 bytes (a deep test or fleet directory is longer):
        # then a short name in the system's /tmp, still unique to this directory.
        digest = hashlib.sha256(str(beside).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"modelserver-{digest}.sock"

    @property
    def start_lock(self) -> Path:
        """Held (flock) by a worker while it checks for a live server and starts one: never while it loads."""
        return self.directory / f"{self.key}.start.lock"

    @property
    def pid_file(self) -> Path:
        return self.directory / f"{self.key}.pid"

    @property
    def events(self) -> Path:
        """The server's lifecycle events (loading, ready, load_failed, stopped), one JSON line each."""
        return self.directory / f"{self.key}.events.jsonl"

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def write_pid(self, pid: int) -> None:
        temporary = self.pid_file.with_name(f"{self.pid_file.name}.{os.getpid()}.tmp")
        temporary.write_text(f"{pid}\n")
        os.replace(temporary, self.pid_file)

    def record(self, event: str, **fields: Any) -> None:
        """Append one event line (a few lines per server's life: appends of one short line are atomic)."""
        line = json.dumps({"event": event, "pid": os.getpid(), "at": time.time(), **fields}) + "\n"
        with self.events.open("a") as handle:
            handle.write(line)

    def read_events(self) -> list[dict[str, Any]]:
        try:
            lines = self.events.read_text().splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash mid-write
        return events


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces, so split after its ')'.
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
