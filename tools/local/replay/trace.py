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

import random
from dataclasses import dataclass
from pathlib import Path

from lambda_shared.tiers import TIERS as ALL_TIERS
from tools.azure_trace import ATTRIBUTION, DEFAULT_TRACE, TraceError, read_rows

__all__ = ["ATTRIBUTION", "DEFAULT_TRACE", "Arrival", "PlannedRequest", "TraceError", "load_trace", "plan",
           "text_for"]
# Each of these is one token to all-MiniLM-L6-v2's WordPiece tokenizer.
WORDS = ("the", "model", "server", "request", "cold", "start", "function", "environment", "warm", "data",
         "code", "python", "lambda", "inference", "fast", "first", "token", "query", "answer", "cache")
#: The tiers a replay can send to: those every deployment has (the tier table's non-optional
#: ones); the local deployment runs no GPU fleet.
TIERS = tuple(tier.name for tier in ALL_TIERS if not tier.optional)


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
    return [Arrival(row.offset_s, row.context_tokens) for row in read_rows(path)]


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
