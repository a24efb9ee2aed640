"""The trace and the plan made from it: when each request is sent, to which tier, with what input.

The trace is the Azure LLM inference trace 2023 (code service; AzurePublicDataset,
Patel et al., "Splitwise", ISCA 2024; CC-BY 4.0, see tools/data/azure-llm-inference-2023/):
one row per request, its arrival ``TIMESTAMP`` and its prompt's ``ContextTokens``. A plan
keeps the arrival times (offsets from the first row, divided by the compression factor),
sends every ``premium_every``-th request to premium (which ones: fixed by the seed), and
makes each input ``ContextTokens`` words long, up to ``max_tokens`` (the model reads 256;
longer inputs cost the same), from a small vocabulary of one-token words, seeded per request.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..emulator import REPO_ROOT

TRACE_DIR = REPO_ROOT / "tools" / "data" / "azure-llm-inference-2023"
DEFAULT_TRACE = TRACE_DIR / "code.csv"
ATTRIBUTION = ("Azure LLM inference trace 2023 (code service), from the AzurePublicDataset repository "
               "(data/AzureLLMInferenceTrace_code.csv), described in \"Splitwise: Efficient generative LLM "
               "inference using phase splitting\" (Patel et al., ISCA 2024); licensed CC-BY 4.0.")
# Each of these is one token to all-MiniLM-L6-v2's WordPiece tokenizer.
WORDS = ("the", "model", "server", "request", "cold", "start", "function", "environment", "warm", "data",
         "code", "python", "lambda", "inference", "fast", "first", "token", "query", "answer", "cache")
TIERS = ("standard", "premium")


class TraceError(ValueError):
    """Raised when the trace file cannot be read as the Azure trace (its columns, its timestamps)."""


@dataclass(frozen=True)
class Arrival:
    offset_s: float
    context_tokens: int


@dataclass(frozen=True)
class PlannedRequest:
    index: int
    at_s: float  # seconds after the replay starts, on the wall clock
    trace_s: float  # seconds after the replayed window's start, on the trace's clock
    tier: str
    tokens: int


def load_trace(path: Path = DEFAULT_TRACE) -> list[Arrival]:
    """Every row of the trace, as seconds after its first arrival, in arrival order."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise TraceError(f"cannot read the trace {path}: {exc}") from exc
    if not rows or not {"TIMESTAMP", "ContextTokens"} <= set(rows[0]):
        raise TraceError(f"{path} is not the Azure LLM inference trace: it needs the columns TIMESTAMP and "
                         "ContextTokens")
    try:
        # Timestamps carry 7 fractional digits; datetime reads 6.
        times = [datetime.strptime(row["TIMESTAMP"][:26], "%Y-%m-%d %H:%M:%S.%f") for row in rows]
        tokens = [int(row["ContextTokens"]) for row in rows]
    except ValueError as exc:
        raise TraceError(f"{path}: a row does not parse ({exc}); expected 'YYYY-MM-DD HH:MM:SS.fffffff' "
                         "and an integer ContextTokens") from exc
    first = min(times)
    arrivals = [Arrival((t - first).total_seconds(), n) for t, n in zip(times, tokens, strict=True)]
    return sorted(arrivals, key=lambda a: a.offset_s)


def plan(arrivals: list[Arrival], *, duration_s: float, compression: float, tiers: tuple[str, ...] = TIERS,
         premium_every: int = 4, start_s: float = 0.0, max_tokens: int = 256, seed: int = 0) -> list[PlannedRequest]:
    """The requests of the window [start_s, start_s + duration_s) of the trace, compressed in time."""
    if compression <= 0 or duration_s <= 0:
        raise ValueError(f"compression and duration must be positive, got {compression} and {duration_s}")
    unknown = set(tiers) - set(TIERS)
    if not tiers or unknown:
        raise ValueError(f"tiers must be among {', '.join(TIERS)}, got {', '.join(tiers) or 'none'}")
    if premium_every < 1 or max_tokens < 1:
        raise ValueError(f"premium_every and max_tokens must be at least 1, got {premium_every} and {max_tokens}")
    window = [a for a in arrivals if start_s <= a.offset_s < start_s + duration_s]
    offset = random.Random(seed).randrange(premium_every)  # nosec B311 (a seeded split, not a secret)
    requests = []
    for index, arrival in enumerate(window):
        if tiers == ("standard",) or tiers == ("premium",):
            tier = tiers[0]
        else:
            tier = "premium" if (index + offset) % premium_every == 0 else "standard"
        trace_s = arrival.offset_s - start_s
        requests.append(PlannedRequest(index, trace_s / compression, trace_s, tier,
                                       max(1, min(arrival.context_tokens, max_tokens))))
    return requests


def text_for(request: PlannedRequest, seed: int = 0) -> str:
    """The request's input: ``tokens`` words, the same for the same seed and request."""
    rng = random.Random(f"{seed}:{request.index}")  # nosec B311 (seeded test input, not a secret)
    return " ".join(rng.choice(WORDS) for _ in range(request.tokens))
