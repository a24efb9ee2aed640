"""The pre-traffic hook's own package: check a new version's environments, then tell CodeDeploy.

Shipped in the hook function's code (``functions/pretraffic/``, its CodeUri) beside ``app.py``;
the shared core (``lambda_shared``) comes from its layer. Standard library only: the boto3
clients, the clock and the sleep are passed in by ``app.py`` (tests pass fakes or clients
pointed at loopback servers). It never imports the inference runtime or keep-warm.

- ``hook``: ``run_hook`` (one lifecycle event, start to reported verdict), ``check_version``;
- ``provisioned``: ``wait_provisioned``, GetProvisionedConcurrencyConfig polled to READY;
- ``checks``: the overlapping /warm invocations and the smoke /predict;
- ``settings``: ``HookConfig.from_env``; ``errors``: what turns into a Failed verdict.
"""

from __future__ import annotations

from .checks import ping, smoke_predict, warm_environments
from .errors import CheckFailedError, DeadlineError, HookEventError, PreTrafficError, ProvisioningFailedError
from .hook import FAILED, SUCCEEDED, LifecycleEvent, Verdict, check_version, run_hook
from .provisioned import wait_provisioned
from .settings import DEFAULT_SMOKE_BODY, HookConfig

__all__ = [
    "DEFAULT_SMOKE_BODY", "FAILED", "SUCCEEDED", "CheckFailedError", "DeadlineError", "HookConfig", "HookEventError",
    "LifecycleEvent", "PreTrafficError", "ProvisioningFailedError", "Verdict", "check_version", "ping",
    "run_hook", "smoke_predict", "wait_provisioned", "warm_environments",
]
