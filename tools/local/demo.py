"""`make demo`: serve the real model through the real Lambda runtime, cold then warm.

Starts both tiers under the Runtime Interface Emulator behind the local front door,
then sends, over HTTP, what a client would: a cold /predict, warm /predicts, a
premium request, /warm, a bad request and the good request after it; with --models (a list
that serves further models, e.g. examples/rag/models.json), one request to each served model's
/models/<name>/ prefix, its own fleet. Prints what each answer said and where the cold start's
time went.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .deployment import LocalDeployment, ModelOptions, TierOptions
from .serve import models_from

PREDICT_BODY = {"inputs": ["How do I keep a Lambda function warm?",
                           "Provisioned concurrency keeps environments initialised."]}


class Client:
    """A keep-alive HTTP client for the front door that times each request."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], float]:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        started = time.perf_counter()
        self._conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                              **(headers or {})})
        response = self._conn.getresponse()
        payload = response.read()
        elapsed_ms = (time.perf_counter() - started) * 1000
        if "json" in (response.getheader("Content-Type") or ""):
            return response.status, json.loads(payload or b"{}"), elapsed_ms
        return response.status, {"text": payload.decode(errors="replace")}, elapsed_ms

    def close(self) -> None:
        self._conn.close()


def model_request(model: ModelOptions) -> dict[str, Any]:
    """A /predict body for a served model, in the shape of its artifact's task (its manifest says which)."""
    manifest = json.loads((model.artifact_dir / "manifest.json").read_text())
    task = (manifest.get("model") or {}).get("task", "embeddings")
    if task == "reranking":
        return {"query": "Why is the first request slow?", "documents": PREDICT_BODY["inputs"]}
    return PREDICT_BODY


def run_demo(warm_requests: int = 5, models: dict[str, ModelOptions] | None = None) -> list[dict[str, Any]]:
    """The demo's requests, a row each; then, for each served model of ``models``, one /predict to its prefix."""
    rows: list[dict[str, Any]] = []
    with LocalDeployment(models=models) as deployment:
        client = Client(deployment.front_door.url)

        def send(label: str, method: str, path: str, body: Any = None, **headers: str) -> dict[str, Any]:
            status, answer, ms = client.request(method, path, body, headers)
            row = {"request": label, "status": status, "ms": ms, "tier": answer.get("tier", "-"),
                   "cold_start": answer.get("cold_start", "-"), "instance": answer.get("instance", "-"),
                   "answer": answer}
            if "error" in answer:
                row["tier"] = f"error: {answer['error']['code']}"
            rows.append(row)
            return answer

        send("POST /predict (cold)", "POST", "/predict", PREDICT_BODY)
        for i in range(warm_requests):
            send(f"POST /predict (warm {i + 1})", "POST", "/predict", PREDICT_BODY)
        send("POST /predict premium", "POST", "/predict", PREDICT_BODY, **{"X-Latency-Tier": "premium"})
        send("GET /warm", "GET", "/warm")
        send("GET /health premium", "GET", "/health", **{"X-Latency-Tier": "premium"})
        send("POST /predict bad JSON", "POST", "/predict", b'{"inputs": [')
        send("POST /predict after bad", "POST", "/predict", PREDICT_BODY)
        for name, model in (models or {}).items():
            send(f"POST /models/{name}/predict", "POST", f"/models/{name}/predict", model_request(model))
        client.close()
    return rows


def print_report(rows: list[dict[str, Any]]) -> None:
    # As wide as the longest label: 28 for the default list's rows (its output unchanged), more for a model's path.
    width = max(28, *(len(row["request"]) for row in rows))
    print(f"\n{'request':<{width}} {'status':>6} {'ms':>9}  {'tier':<22} {'cold_start':<10} instance")
    print("-" * (width + 64))
    for row in rows:
        print(f"{row['request']:<{width}} {row['status']:>6} {row['ms']:>9.1f}  {str(row['tier']):<22} "
              f"{str(row['cold_start']):<10} {row['instance']}")

    cold = rows[0]
    warm = [r["ms"] for r in rows if r["request"].startswith("POST /predict (warm")]
    init = next((r["answer"].get("init") for r in rows if r["request"] == "GET /warm"), None) or {}
    premium_init = next((r["answer"].get("init") for r in rows if "health premium" in r["request"]), None) or {}
    print()
    print(f"cold /predict, end to end through the front door: {cold['ms']:.0f} ms")
    if warm:
        print(f"warm /predict: median {statistics.median(warm):.1f} ms over {len(warm)} requests "
              f"(cold/warm = {cold['ms'] / statistics.median(warm):.0f}x)")
    for tier, summary in (("standard", init), ("premium", premium_init)):
        if summary:
            phases = ", ".join(f"{name} {ms:.0f}" for name, ms in summary.get("phases", {}).items())
            print(f"{tier} init: {summary.get('total_ms', 0):.0f} ms since process start ({phases})")
    print("premium was initialised before traffic, as provisioned concurrency does; its request was warm.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm-requests", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    parser.add_argument("--models", type=Path, metavar="MODELS_JSON",
                        help="a model list (e.g. examples/rag/models.json): one request more to each served model's "
                             "/models/<name>/ prefix, its own fleet")
    parser.add_argument("--model-artifact", action="append", default=[], metavar="NAME=DIR",
                        help="a served model's artifact (default build/artifacts/<name>); repeatable")
    args = parser.parse_args(argv)
    models = models_from(args, TierOptions(max_environments=4))
    rows = run_demo(args.warm_requests, models)
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "answer"} for r in rows], indent=2))
    else:
        print_report(rows)
    expected = [200] * (args.warm_requests + 4) + [400, 200] + [200] * len(models)
    if [r["status"] for r in rows] != expected:
        print("demo: unexpected status codes; see the table above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
