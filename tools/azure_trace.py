"""The Azure LLM inference trace, read once for the replay (tools/local/replay) and the simulator (tools/prewarm).

The trace is a copy of the shared data in ``tools/data/azure-llm-inference-2023/``: one
row per request of a production LLM service at Azure, its arrival ``TIMESTAMP`` and its
prompt's ``ContextTokens`` (and ``GeneratedTokens``). Licensed CC-BY 4.0: ``ATTRIBUTION``
goes wherever the data is used or shipped (every report that uses it prints it).

    rows = read_rows()          # every request, as seconds after the first, in arrival order
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

TRACE_DIR = Path(__file__).resolve().parent / "data" / "azure-llm-inference-2023"
DEFAULT_TRACE = TRACE_DIR / "code.csv"
ATTRIBUTION = ("Azure LLM inference trace 2023 (code service), from the AzurePublicDataset repository "
               "(data/AzureLLMInferenceTrace_code.csv), described in \"Splitwise: Efficient generative LLM "
               "inference using phase splitting\" (Patel et al., ISCA 2024); licensed CC-BY 4.0.")
REQUIRED_COLUMNS = ("TIMESTAMP", "ContextTokens")


class TraceError(ValueError):
    """Raised when the trace file cannot be read as the Azure trace (its columns, its timestamps)."""


@dataclass(frozen=True)
class TraceRow:
    """One request: seconds after the trace's first, its prompt tokens, and a key naming the row."""

    offset_s: float
    context_tokens: int
    #: TIMESTAMP|ContextTokens|GeneratedTokens, as the file has them: the same row, the same key
    key: str


@functools.cache
def read_rows(path: Path = DEFAULT_TRACE) -> tuple[TraceRow, ...]:
    """Every row of the trace in arrival order (parsed once per path: the simulator asks often)."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise TraceError(f"cannot read the trace {path}: {exc}; it ships in the repository (tools/data/), "
                         "restore it with git") from exc
    if not rows or not set(REQUIRED_COLUMNS) <= set(rows[0]):
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
    parsed = [TraceRow((t - first).total_seconds(), n,
                       f"{row['TIMESTAMP']}|{row['ContextTokens']}|{row.get('GeneratedTokens', '')}")
              for row, t, n in zip(rows, times, tokens, strict=True)]
    return tuple(sorted(parsed, key=lambda row: row.offset_s))
