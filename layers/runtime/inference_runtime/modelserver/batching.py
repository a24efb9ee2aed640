"""Dynamic batching: requests from every worker in one queue, closed into batches by tokens and wait.

The knobs are Text Embeddings Inference's: MAX_BATCH_TOKENS bounds a batch's padded size
(rows x longest row: what the graph computes), and MAX_BATCH_WAIT_MS how long the oldest
request may wait for company. A batch closes when

- it is full: the next request would take it over MAX_BATCH_TOKENS; or
- its oldest request has waited MAX_BATCH_WAIT_MS. The default, 0, is TEI's own queue:
  whatever is queued when the model is free is one batch, so a lone request never waits,
  and under load batches form by themselves while the model runs the previous one.

Grouping by length limits padding: the oldest request is always in the next batch (no
request starves), and the others join it nearest in length first. Each request keeps
its rows; ``merge`` re-pads them to the batch's longest real row (from the attention
mask) and ``split`` routes the output rows back to their requests.

The clock is injected, so tests close batches by wait without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: what fills each graph input's padding: the manifest's padding token for input_ids, 0 otherwise
PADDED_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

#: MAX_BATCH_TOKENS=auto on a GPU: TEI's default; a GPU's throughput grows with the batch
GPU_MAX_BATCH_TOKENS = 16_384
#: MAX_BATCH_TOKENS=auto on the CPU. A core's cost per row hardly falls with the batch and rises
#: for long rows (all-MiniLM-L6-v2, one Xeon thread, ms per row at batch 1/2/8/16: 32 tokens 5.25, 4.91,
#: 4.51, 4.59; 256 tokens 43.8, 43.5, 49.0, 50.3), while a request that joins a batch waits for all
#: of it. 256 keeps 8 short rows (as cheap per row as 16) or one long one. Measured on 2 EPYC
#: cores (`make bench-lmi` points, alternating, two rounds): against 512, the same requests/s or more
#: everywhere, and p99 141-150 against 198-207 ms (MiniLM, 256 tokens, 4 workers), 1036-1053
#: against 1434-1449 ms (mpnet, 256 tokens, 4 workers), 708-717 against 832-835 ms (mpnet, 32
#: tokens, 16 workers); 512 had beaten TEI's 16384 the same way (p99 350 against 750 ms).
CPU_MAX_BATCH_TOKENS = 256


def max_batch_tokens_for(setting: int | None, providers: Sequence[str]) -> int:
    """The batch bound a server uses: MAX_BATCH_TOKENS when set, else by where the graph runs."""
    if setting is not None:
        return setting
    on_gpu = bool(providers) and providers[0] != "CPUExecutionProvider"
    return GPU_MAX_BATCH_TOKENS if on_gpu else CPU_MAX_BATCH_TOKENS


@dataclass
class Request:
    """One worker's request: its input arrays (rows x length) and where its answer goes."""

    rows: int
    length: int
    feeds: Mapping[str, Any] = field(default_factory=dict)
    #: called once with (output rows, None) or (None, the error)
    reply: Callable[[Any, BaseException | None], None] = lambda output, error: None
    arrival: float = 0.0

    @property
    def tokens(self) -> int:
        return self.rows * self.length


def batch_tokens(requests: Sequence[Request]) -> int:
    """The padded size of a batch: its rows times its longest row."""
    if not requests:
        return 0
    return sum(r.rows for r in requests) * max(r.length for r in requests)


def select(pending: Sequence[Request], max_batch_tokens: int,
           max_rows: int | None = None) -> tuple[list[Request], bool]:
    """The next batch from ``pending`` (oldest first), and whether it is full.

    The oldest request is always taken, even alone over the limit (it is refused nowhere
    else); the others join nearest in length first, then oldest first, while the padded
    size stays within ``max_batch_tokens`` (and the rows within ``max_rows``, the batch's
    share when several loops are free). Full: some request was left out for lack of room.
    """
    if not pending:
        return [], False
    oldest = pending[0]
    chosen = [oldest]
    rows, longest, full = oldest.rows, oldest.length, False
    others = sorted(enumerate(pending[1:]), key=lambda item: (abs(item[1].length - oldest.length), item[0]))
    for _, request in others:
        cost = (rows + request.rows) * max(longest, request.length)
        if cost > max_batch_tokens or (max_rows is not None and rows + request.rows > max_rows):
            full = True
            continue
        chosen.append(request)
        rows, longest = rows + request.rows, max(longest, request.length)
    return chosen, full or rows * longest >= max_batch_tokens


class BatchQueue:
    """The server's queue: ``put`` from the connection threads, ``take`` from the batch loops.

    The loop woken for a batch is the one that went idle last (a stack, not the FIFO of a
    shared ``threading.Condition``): a lone request after another then runs on the thread,
    and the core, that ran the last one, whose caches still hold its buffers. Waking the
    loop idle longest made successive lone requests alternate between loops: measured on
    2 cores (MiniLM, 32 tokens), the run 5.3 ms on one loop against 6.0 ms alternating.

    A request that finds nothing queued and a loop idle (and no MAX_BATCH_WAIT_MS to wait out)
    need not wait for that loop at all:
    ``claim`` lets the thread that received it run it there and then, on the idle loop's
    core (no hand-off between threads on the lone request's path), until ``release``. The
    loops count claimed cores as busy, so no more batches run at once than there are loops.
    """

    def __init__(self, *, max_batch_tokens: int, max_wait_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_batch_tokens = max_batch_tokens
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._pending: list[Request] = []
        self._lock = threading.Lock()
        self._closed = False
        #: the batch loops waiting in ``take``, the last to go idle on top; the queued rows are shared out among them
        self._idle: list[threading.Condition] = []
        #: idle loops' cores lent to a request run where it was received (``claim``)
        self._claimed = 0

    def put(self, request: Request) -> None:
        with self._lock:
            request.arrival = self._clock()
            self._pending.append(request)
            self._wake_one()

    def claim(self) -> bool:
        """Whether the caller may run one request itself now: nothing is queued (none waits longer),
        a loop is idle (its core is free), and requests are not to wait for company
        (MAX_BATCH_WAIT_MS=0: with a wait set, a lone request waits in the queue like any other).
        If so, call ``release`` when that run is done."""
        with self._lock:
            if self._closed or self.max_wait_s > 0 or self._pending or len(self._idle) - self._claimed < 1:
                return False
            self._claimed += 1
            return True

    def release(self) -> None:
        """A claimed run is done: its core is a loop's again, for whatever queued meanwhile."""
        with self._lock:
            self._claimed -= 1
            if self._pending:
                self._wake_one()

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def idle_loops(self) -> int:
        """The batch loops waiting in ``take`` now."""
        with self._lock:
            return len(self._idle)

    def close(self) -> list[Request]:
        """Stop taking batches; the requests still queued (the caller answers them)."""
        with self._lock:
            self._closed = True
            left, self._pending = self._pending, []
            for waiting in self._idle:
                waiting.notify()
            return left

    def poll(self, *, idle_loops: int = 1) -> tuple[list[Request], float | None]:
        """The batch to run now (empty if none is closed yet), and how long until one could close
        (None: nothing is queued). Never blocks: ``take`` waits on it, tests call it with a fake clock.

        ``idle_loops``: the batch loops free to run a batch now, this one included; the queued
        rows are shared out among them (a CPU server runs one loop per core, each on one thread:
        one loop taking everything would leave the other cores idle).
        """
        with self._lock:
            return self._poll_locked(idle_loops)

    def take(self, timeout: float | None = None) -> list[Request]:
        """Block until a batch closes and return it (empty when the queue was closed or ``timeout`` passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waiting = threading.Condition(self._lock)
        with self._lock:
            self._idle.append(waiting)
            try:
                while not self._closed:
                    free = len(self._idle) - self._claimed  # idle loops whose core is not lent to a claim
                    batch, wait = self._poll_locked(free) if free >= 1 else ([], None)
                    if batch:
                        self._idle.remove(waiting)
                        if self._pending:
                            self._wake_one()  # what is left is another free loop's share
                        return batch
                    if deadline is not None:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return []
                        wait = left if wait is None else min(wait, left)
                    waiting.wait(wait)
                return []
            finally:
                if waiting in self._idle:
                    self._idle.remove(waiting)

    def _wake_one(self) -> None:
        """Wake the loop that went idle last (the lock held)."""
        if self._idle:
            self._idle[-1].notify()

    def _poll_locked(self, idle_loops: int) -> tuple[list[Request], float | None]:
        if not self._pending:
            return [], None
        queued_rows = sum(r.rows for r in self._pending)
        share = -(-queued_rows // max(1, idle_loops))  # ceil: every row has a loop
        batch, full = select(self._pending, self.max_batch_tokens, share if idle_loops > 1 else None)
        waited = self._clock() - self._pending[0].arrival
        if full or waited >= self.max_wait_s:
            taken = {id(r) for r in batch}
            self._pending = [r for r in self._pending if id(r) not in taken]
            return batch, None
        return [], self.max_wait_s - waited


def merge(requests: Sequence[Request], input_names: Sequence[str], pad_token_id: int) -> dict[str, Any]:
    """The batch's input arrays: every request's rows, re-padded to the longest real row of the batch.

    A request comes padded to its own longest row; its real lengths are its attention
    mask's sums, so rows are cut or padded to the batch's longest (padding: the model's
    padding token for input_ids, 0 for the mask and the token types), which the mask hides
    from pooling exactly as in a request run alone.
    """
    import numpy as np  # the server has it loaded with the backend

    lengths = [int(np.asarray(r.feeds["attention_mask"]).sum(axis=1).max(initial=0)) for r in requests]
    width = max(max(lengths, default=0), 1)
    merged: dict[str, Any] = {}
    for name in input_names:
        fill = pad_token_id if name == "input_ids" else 0
        out = np.full((sum(r.rows for r in requests), width), fill, dtype=np.int64)
        row = 0
        for request in requests:
            array = np.asarray(request.feeds[name], dtype=np.int64)
            keep = min(width, array.shape[1])
            out[row:row + request.rows, :keep] = array[:, :keep]
            row += request.rows
        merged[name] = out
    return merged


def split(output: Any, requests: Sequence[Request]) -> list[Any]:
    """The output's rows back to their requests, in the batch's order (axis 0: one row per input row)."""
    parts, row = [], 0
    for request in requests:
        parts.append(output[row:row + request.rows])
        row += request.rows
    return parts
