"""The model server's batch queue: closing by tokens and by wait (an injected clock), grouping
by length, and routing each output row back to its request."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from inference_runtime.config import RuntimeConfig
from inference_runtime.modelserver.batching import (
    CPU_MAX_BATCH_TOKENS,
    GPU_MAX_BATCH_TOKENS,
    BatchQueue,
    Request,
    batch_tokens,
    max_batch_tokens_for,
    merge,
    select,
    split,
)
from lambda_shared.settings import ConfigError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def req(rows: int, length: int, tag: str = "") -> Request:
    request = Request(rows=rows, length=length)
    request.tag = tag  # type: ignore[attr-defined]
    return request


def tags(batch: list[Request]) -> list[str]:
    return [r.tag for r in batch]  # type: ignore[attr-defined]


def test_a_lone_request_closes_at_once_with_no_wait() -> None:
    # GIVEN the default queue (MAX_BATCH_WAIT_MS=0) and a clock that never moves
    clock = FakeClock()
    queue = BatchQueue(max_batch_tokens=1000, max_wait_s=0.0, clock=clock)
    # WHEN one request is queued
    queue.put(req(1, 10, "a"))
    # THEN it is a batch at once: nothing waits for company
    batch, wait = queue.poll()
    assert tags(batch) == ["a"] and wait is None
    assert len(queue) == 0


def test_a_batch_waits_for_company_until_max_wait_then_closes() -> None:
    # GIVEN a 1 s wait (times exact in binary, so the clock's sums are exact)
    clock = FakeClock()
    queue = BatchQueue(max_batch_tokens=1000, max_wait_s=1.0, clock=clock)
    queue.put(req(1, 10, "a"))
    # WHEN less than the wait has passed THEN no batch yet, and the queue says how long is left
    clock.now += 0.25
    batch, wait = queue.poll()
    assert batch == [] and wait == 0.75
    # WHEN another arrives and the wait runs out THEN both leave together
    queue.put(req(1, 12, "b"))
    clock.now += 0.75
    batch, _ = queue.poll()
    assert tags(batch) == ["a", "b"]


def test_a_batch_closes_early_when_full_by_tokens() -> None:
    # GIVEN a long wait but room for 40 padded tokens
    clock = FakeClock()
    queue = BatchQueue(max_batch_tokens=40, max_wait_s=10.0, clock=clock)
    for tag in "abc":
        queue.put(req(1, 15, tag))
    # WHEN polled before any wait has passed
    batch, _ = queue.poll()
    # THEN two rows of 15 (30 tokens) leave now: a third would make 45
    assert tags(batch) == ["a", "b"]
    # AND the third waits for its own company
    batch, wait = queue.poll()
    assert batch == [] and wait == pytest.approx(10.0)


def test_the_oldest_request_always_leaves_even_alone_over_the_limit() -> None:
    chosen, full = select([req(8, 256, "big"), req(1, 4, "small")], max_batch_tokens=100)
    assert tags(chosen) == ["big"] and full


def test_requests_join_the_oldest_nearest_in_length_first() -> None:
    # GIVEN the oldest at 100 tokens, others at 10, 95 and 110; room for 3 rows of 110
    pending = [req(1, 100, "oldest"), req(1, 10, "short"), req(1, 95, "near"), req(1, 110, "longer")]
    chosen, full = select(pending, max_batch_tokens=330)
    # THEN the near lengths join; the short one is left for a batch of its own length
    assert tags(chosen) == ["oldest", "near", "longer"] and full
    assert batch_tokens(chosen) == 330


def test_merge_repads_to_the_batchs_longest_real_row_and_split_routes_rows_back() -> None:
    # GIVEN two requests padded to their own longest rows (pad id 0 in the ids, mask 0)
    a = Request(rows=2, length=3, feeds={"input_ids": np.array([[101, 7, 102, 0, 0], [101, 8, 9, 10, 102]]),
                                         "attention_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])})
    b = Request(rows=1, length=3, feeds={"input_ids": np.array([[101, 5, 102]]),
                                         "attention_mask": np.array([[1, 1, 1]])})
    # WHEN merged with padding id 9
    merged = merge([a, b], ["input_ids", "attention_mask"], pad_token_id=9)
    # THEN one array of 3 rows, 5 wide (the longest real row), padded with the model's id and mask 0
    assert merged["input_ids"].tolist() == [[101, 7, 102, 0, 0], [101, 8, 9, 10, 102], [101, 5, 102, 9, 9]]
    assert merged["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert merged["input_ids"].dtype == np.int64
    # AND the output's rows go back to their requests, in order
    output = np.arange(6, dtype=np.float32).reshape(3, 2)
    parts = split(output, [a, b])
    assert [p.tolist() for p in parts] == [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0]]]


def test_merge_cuts_padding_beyond_the_longest_real_row() -> None:
    # GIVEN a request padded wider than any of its real rows (a worker's fixed padding)
    a = Request(rows=1, length=2, feeds={"input_ids": np.array([[101, 102, 0, 0, 0, 0]]),
                                         "attention_mask": np.array([[1, 1, 0, 0, 0, 0]])})
    merged = merge([a], ["input_ids", "attention_mask"], pad_token_id=0)
    # THEN the batch is only as wide as the real tokens
    assert merged["input_ids"].shape == (1, 2)


def test_take_returns_the_queued_requests_and_close_hands_back_the_rest() -> None:
    queue = BatchQueue(max_batch_tokens=10, max_wait_s=0.0)
    replies: list[Any] = []
    queue.put(Request(rows=1, length=8, reply=lambda out, err: replies.append(err)))
    queue.put(Request(rows=1, length=8))
    assert len(queue.take(timeout=1.0)) == 1  # 16 tokens would not fit in 10
    left = queue.close()
    assert len(left) == 1
    assert queue.take(timeout=1.0) == []  # closed: nothing waits


def test_queued_rows_are_shared_out_among_the_free_batch_loops() -> None:
    # GIVEN four one-row requests queued and two batch loops free (a 2-core server)
    queue = BatchQueue(max_batch_tokens=10_000, max_wait_s=0.0, clock=FakeClock())
    for tag in "abcd":
        queue.put(req(1, 256, tag))
    # WHEN the first loop polls THEN it takes half: the other loop gets the rest, not nothing
    batch, _ = queue.poll(idle_loops=2)
    assert tags(batch) == ["a", "b"]
    batch, _ = queue.poll(idle_loops=1)
    assert tags(batch) == ["c", "d"]


def test_the_loop_that_went_idle_last_takes_the_next_batch() -> None:
    # GIVEN two batch loops waiting, "first" idle before "second" (as after two lone requests)
    queue = BatchQueue(max_batch_tokens=10_000, max_wait_s=0.0)
    taken: dict[str, list[Request]] = {}

    def loop(name: str) -> None:
        taken[name] = queue.take(timeout=5.0)

    first = threading.Thread(target=loop, args=("first",))
    first.start()
    wait_until(lambda: queue.idle_loops == 1)
    second = threading.Thread(target=loop, args=("second",))
    second.start()
    wait_until(lambda: queue.idle_loops == 2)
    # WHEN a lone request arrives
    queue.put(req(1, 32, "lone"))
    second.join(timeout=5.0)
    # THEN the loop idle the shortest time runs it (its thread's caches are the warm ones);
    # the other keeps waiting, and leaves when the queue closes
    assert tags(taken["second"]) == ["lone"]
    assert first.is_alive() and "first" not in taken
    queue.close()
    first.join(timeout=5.0)
    assert taken["first"] == []


def wait_until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the batch loops never went idle"
        time.sleep(0.001)


def test_max_batch_tokens_auto_is_small_on_the_cpu_and_large_on_a_gpu() -> None:
    # GIVEN MAX_BATCH_TOKENS unset or auto: the server chooses by where its graph runs
    assert RuntimeConfig.from_env({}).max_batch_tokens is None
    assert RuntimeConfig.from_env({"MAX_BATCH_TOKENS": "auto"}).max_batch_tokens is None
    # THEN a core gets batches of a few rows (its cost per row does not fall with the batch),
    # a GPU TEI's large ones (its throughput does)
    assert max_batch_tokens_for(None, ["CPUExecutionProvider"]) == CPU_MAX_BATCH_TOKENS == 256
    assert max_batch_tokens_for(None, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == GPU_MAX_BATCH_TOKENS
    # AND a number set wins anywhere; a word that is not auto is refused by name
    assert RuntimeConfig.from_env({"MAX_BATCH_TOKENS": "4096"}).max_batch_tokens == 4096
    assert max_batch_tokens_for(4096, ["CPUExecutionProvider"]) == 4096
    with pytest.raises(ConfigError, match="MAX_BATCH_TOKENS"):
        RuntimeConfig.from_env({"MAX_BATCH_TOKENS": "lots"})


def test_a_request_run_where_it_arrived_holds_an_idle_loops_core_until_released() -> None:
    # GIVEN one batch loop (a 1-core server), idle
    queue = BatchQueue(max_batch_tokens=10_000, max_wait_s=0.0)
    order: list[str] = []

    def loop() -> None:
        batch = queue.take(timeout=5.0)
        order.append("taken " + ",".join(tags(batch)))

    thread = threading.Thread(target=loop)
    thread.start()
    wait_until(lambda: queue.idle_loops == 1)
    # WHEN a request finds nothing queued: the thread that read it may run it there (one claim per idle loop)
    assert queue.claim()
    assert not queue.claim()
    # AND another arrives while that run holds the core
    queue.put(req(1, 32, "next"))
    time.sleep(0.05)  # room for a loop that ignored the claim to take it (a wrong order below)
    assert len(queue) == 1 and not queue.claim()  # queued work is never overtaken by a claim
    order.append("released")
    queue.release()
    thread.join(timeout=5.0)
    # THEN the loop took the queued request only once the core was free again
    assert order == ["released", "taken next"]


def test_a_request_is_never_run_where_it_arrived_when_requests_wait_for_company() -> None:
    # GIVEN an idle batch loop and MAX_BATCH_WAIT_MS set: a lone request is to wait for company
    queue = BatchQueue(max_batch_tokens=10_000, max_wait_s=5.0)
    thread = threading.Thread(target=lambda: queue.take(timeout=5.0))
    thread.start()
    wait_until(lambda: queue.idle_loops == 1)
    # WHEN a request finds nothing queued
    # THEN it may not skip the wait by running where it arrived: it goes to the queue
    assert not queue.claim()
    # (the same idle loop with no wait set lends its core: what is refused above is the wait's doing)
    queue.max_wait_s = 0.0
    assert queue.claim()
    queue.release()
    queue.close()
    thread.join(timeout=5.0)
