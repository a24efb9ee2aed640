"""The warm-up protocol: synthetic inputs over batch sizes x sequence lengths, during init.

ONNX Runtime does lazy work on the first run of each input shape (buffer planning,
kernel choices), so the first request of each shape is slower than the rest. Warm-up
pays that during init, before the SnapStart snapshot or provisioned-concurrency
readiness, and records, per shape, the first iteration and the stable time (median of
the iterations after it), so the trace shows what warm-up bought.

Configured with WARMUP_BATCH_SIZES, WARMUP_SEQUENCE_LENGTHS and WARMUP_ITERATIONS. The
last is ``auto`` by default (``iterations_for``): no warm-up where init runs right before
the first request on the CPU (Lambda on demand), one run per shape everywhere else.

It runs the backend's graph directly, whatever the task: a cross-encoder's graph takes
the same [batch, sequence] inputs for a pair as for a single text, so single synthetic
texts warm the shapes every task uses. The loader runs it last: ready means warmed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..lifecycle.environment import ON_DEMAND
from ..lifecycle.phases import InitPhase

if TYPE_CHECKING:
    from ..backends.base import InferenceBackend
    from ..lifecycle.trace import PhaseTrace

# One WordPiece token each for the BERT vocabulary: with [CLS] and [SEP] around
# n - 2 of them, a synthetic input is exactly n tokens long.
_FILLER_WORD = "hello"


def iterations_for(configured: int | None, *, device: str, initialization_type: str, worker_processes: int) -> int:
    """Warm-up runs per shape: WARMUP_ITERATIONS, or for ``auto`` (None) 0 or 1.

    On demand, init runs right before the first request, which waits for both: a warm-up
    there moves the session's first-run work out of that request and adds a run of its
    own. On the CPU that is a loss at every size measured (2 cores, spawn to first answer,
    page cache warm): all-MiniLM-L6-v2 15 ms slower with it (31 runs), XLM-R large (2.2 GB)
    130 ms slower, its first request 5 ms faster (5 runs each). So ``auto`` skips it there.
    It runs where init happens before any request waits (provisioned concurrency, the
    SnapStart snapshot, worker processes of Managed Instances) and on a GPU, whose first
    run (kernels loaded, cuDNN's choices) costs far more than a run.
    """
    if configured is not None:
        return configured
    on_the_request_path = initialization_type == ON_DEMAND and worker_processes == 1
    return 0 if on_the_request_path and device == "cpu" else 1


def synthetic_batch(batch_size: int, sequence_length: int) -> list[str]:
    """``batch_size`` texts that tokenize to exactly ``sequence_length`` tokens."""
    return [" ".join([_FILLER_WORD] * max(sequence_length - 2, 0))] * batch_size


def run_warmup(backend: InferenceBackend, trace: PhaseTrace, *, batch_sizes: tuple[int, ...],
               sequence_lengths: tuple[int, ...], iterations: int) -> list[dict[str, Any]]:
    """Run every shape ``iterations`` times; record first and stable milliseconds per shape."""
    results: list[dict[str, Any]] = []
    if not iterations:
        return results
    with trace.phase(InitPhase.WARMUP) as attrs:
        for batch_size in batch_sizes:
            for sequence_length in sequence_lengths:
                texts = synthetic_batch(batch_size, sequence_length)
                times = []
                for _ in range(iterations):
                    started = time.perf_counter()
                    backend.run(texts)
                    times.append((time.perf_counter() - started) * 1000.0)
                results.append({
                    "batch_size": batch_size,
                    "sequence_length": sequence_length,
                    "first_ms": round(times[0], 3),
                    "stable_ms": round(_median(times[1:]), 3) if len(times) > 1 else None,
                })
        attrs["shapes"] = results
        attrs["iterations"] = iterations
    return results


def _median(values: list[float]) -> float:
    # statistics.median without the module: it imports fractions and decimal (~4 ms of init).
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
