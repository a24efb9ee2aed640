"""The new version answers: N overlapping /warm invocations on N distinct environments, then a smoke /predict.

Each /warm asks its environment to stay busy ``hold_ms``: while N are in flight together, none
can be reused, so Lambda routes each to an environment of its own and initialises any it lacks
(the same mechanism keep-warm relies on). The invocations go to the version itself, by its ARN,
as nothing routes there before the verdict. ``invoke`` is the Lambda client's ``invoke``,
passed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambda_shared.events import alb_request_event, warm_event
from lambda_shared.log import LazyLogger

from .errors import CheckFailedError

logger = LazyLogger("pretraffic", default_service="pretraffic")


def _call(invoke: Callable[..., Any], function: str, event: dict[str, Any]) -> tuple[int | None, dict[str, Any], str]:
    """(HTTP status, body, error) of one invocation; error is "" when the function answered at all."""
    try:
        response = invoke(FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event).encode())
        result = json.loads(response["Payload"].read() or b"null")
    except Exception as exc:  # one failed call must not hide the others' answers
        return None, {}, f"{type(exc).__name__}: {exc}"
    if "FunctionError" in response or not isinstance(result, dict):
        return None, {}, f"function error ({response.get('FunctionError', 'no ALB response')}): {str(result)[:300]}"
    try:
        body = json.loads(result.get("body") or "{}")
    except ValueError:
        body = {"raw": str(result.get("body"))[:300]}
    return result.get("statusCode"), body if isinstance(body, dict) else {"body": body}, ""


def _error_text(status: int | None, body: dict[str, Any]) -> str:
    # The runtime's errors are {"error": {"code", "message"}}; the message says why and what to do.
    error = body.get("error", body)
    return f"HTTP {status}: {error.get('message', error) if isinstance(error, dict) else error}"


def ping(invoke: Callable[..., Any], function: str, *, tier: str, hold_ms: int) -> dict[str, Any]:
    """One /warm of the version: what its environment said (instance, cold, init type), or why not."""
    status, body, error = _call(invoke, function, warm_event(hold_ms, tier=tier))
    ok = not error and status == 200 and body.get("model_loaded") is True and bool(body.get("model"))
    answer = {"ok": ok, "status": status, "instance": body.get("instance"), "cold": bool(body.get("first_invocation")),
              "init_type": body.get("init_type"), "model": body.get("model")}
    if not ok:
        answer["error"] = error or _error_text(status, body)
    logger.info("warm ping", extra={"event": "pretraffic_ping", **answer})
    return answer


def warm_environments(invoke: Callable[..., Any], function: str, *, tier: str, count: int,
                      hold_ms: int) -> dict[str, Any]:
    """``count`` overlapping /warm invocations; CheckFailedError unless ``count`` distinct environments answered."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda _: ping(invoke, function, tier=tier, hold_ms=hold_ms), range(count)))
    failed = [a["error"] for a in answers if not a["ok"]]
    if failed:
        raise CheckFailedError(f"{len(failed)} of {count} /warm invocations failed: {'; '.join(failed[:3])}")
    instances = sorted({a["instance"] for a in answers if a["instance"]})
    models = sorted({a["model"] for a in answers})
    summary = {"instances": instances, "cold": sum(a["cold"] for a in answers),
               "init_types": sorted({a["init_type"] for a in answers if a["init_type"]}), "models": models}
    if len(models) != 1:
        raise CheckFailedError(f"the version's environments serve different models: {models}")
    if len(instances) != count:
        raise CheckFailedError(f"{count} overlapping /warm invocations reached {len(instances)} distinct "
                               f"environment(s), not {count}: raise WARM_HOLD_MS ({hold_ms} ms) so they overlap")
    return summary


def served_task(invoke: Callable[..., Any], function: str, *, tier: str) -> str:
    """The task the version's model serves, from its own /openapi.json (``info.x-model.task``)."""
    event = alb_request_event("GET", "/openapi.json", headers={"user-agent": "pretraffic"}, tier=tier)
    status, answer, error = _call(invoke, function, event)
    model = answer.get("info", {}).get("x-model") if isinstance(answer.get("info"), dict) else None
    task = model.get("task") if isinstance(model, dict) else None
    if error or status != 200 or not isinstance(task, str):
        raise CheckFailedError(f"the version's /openapi.json names no model task: "
                               f"{error or _error_text(status, answer)}; set PRETRAFFIC_SMOKE_BODY")
    return task


def smoke_predict(invoke: Callable[..., Any], function: str, *, tier: str, body: str, model: str) -> dict[str, Any]:
    """One /predict of the version; CheckFailedError unless it answers 200 with outputs from ``model``."""
    event = alb_request_event("POST", "/predict", headers={"content-type": "application/json",
                                                           "user-agent": "pretraffic"}, body=body, tier=tier)
    status, answer, error = _call(invoke, function, event)
    outputs = answer.get("outputs")
    result = {"status": status, "instance": answer.get("instance"), "cold": answer.get("cold_start"),
              "model": answer.get("model"), "outputs": len(outputs) if isinstance(outputs, list) else None}
    logger.info("smoke predict", extra={"event": "pretraffic_smoke", **result, "error": error or None})
    if error or status != 200:
        why = error or _error_text(status, answer)
        raise CheckFailedError(f"the smoke /predict failed: {why}")
    if not isinstance(outputs, list) or not outputs:
        raise CheckFailedError(f"the smoke /predict answered 200 with no outputs: {str(answer)[:300]}")
    if answer.get("model") != model:
        raise CheckFailedError(f"the smoke /predict was served by model {answer.get('model')!r}, "
                               f"/warm by {model!r}")
    return result
