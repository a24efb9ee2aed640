"""What getting one file through the cache did: typed, so the trace, the logs and the bench read fields.

One ``FetchStats`` per file; ``to_dict`` is its trace record (milliseconds, like every
duration in the init trace). Only the fields of what happened are non-zero: a bundled
file is verified in place (``verify_ms``), an S3 one is transferred, verified and
decompressed frame by frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class FetchStats:
    path: str = ""
    #: which tier answered: memory, disk, bundled, s3 (or another source's name)
    tier: str = ""
    bytes: int = 0
    #: S3: the compressed object's bytes, its frames, those resumed from an interrupted fetch,
    #: those fetched now, and the frames fetched again after failing their sha256
    compressed_bytes: int = 0
    frames: int = 0
    frames_resumed: int = 0
    frames_fetched: int = 0
    refetched: int = 0
    #: "this process" or "another process" (it fetched while this one waited on the file's lock)
    fetched_by: str | None = None
    #: milliseconds: waiting on the network (summed over connections), hashing, decompressing,
    #: waiting on another process's lock, and the whole get
    io_wait_ms: float = 0.0
    verify_ms: float = 0.0
    decompress_ms: float = 0.0
    lock_wait_ms: float = 0.0
    wall_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The trace's record of this file: zero fields left out, milliseconds to the microsecond."""
        return {key: round(value, 3) if isinstance(value, float) else value
                for key, value in asdict(self).items() if value not in (0, 0.0, None, "")}
