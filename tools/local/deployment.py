"""The whole template on loopback: a fleet per tier, the Lambda API, the front door.

    with LocalDeployment() as deployment:
        deployment.front_door.url                # curl it, with or without X-Latency-Tier
        deployment.lambda_service.endpoint_url   # boto3 Lambda client endpoint_url
        deployment.summary()                     # every lifecycle event, counted per function

Each tier is a ``Fleet`` (tools/local/fleet): environments start on demand up to the
tier's limit (429 from the Lambda API beyond it, 503 from the front door), idle ones are
reclaimed after a time drawn from the lifecycle model and old ones recycled, and the
premium tier's provisioned environments (``TierOptions.provisioned``) are initialised
before traffic, as provisioned concurrency does. The emulator runs init only as part of
an invocation, so a provisioned environment's init is one /warm; that ping is its first
invocation. The model's times are divided by ``compression``, so a replay ``compression``
times faster than the traffic it replays meets reclaims at the same points of it.

``TierOptions.workers`` runs a tier's environments with N worker processes each, as
Lambda Managed Instances do (one ``MODEL_CACHE_DIR`` per environment, shared by its
workers); ``TierOptions.snapstart`` starts them from one initialised process by forking
it (tools/local/fleet/forking.py).

``models`` adds a fleet per served model (models.json's ``serve``: tools/template/models.py), each
its own function (``<id>Function``, the standard tier, that model's artifact) behind
``/models/<name>/`` on the front door, as the template's listener rule per model routes it.

``clock`` is the fleets' and the log's clock (``time.monotonic`` by default): a test that
passes one it moves itself decides when environments are idle or old, whatever the speed of
the machine; the processes, the requests and their answers stay real.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lambda_shared.events import warm_event
from tools.lifecycle_model import DEFAULT_LIFECYCLE, LifecycleModel

from .emulator import FUNCTIONS, REPO_ROOT, FunctionSpec, check_runtime_ready
from .fleet import Fleet, FleetConfig, LifecycleLog
from .frontdoor import FrontDoor, PremiumAccess
from .lambda_service import LambdaService

TIER_FUNCTIONS = {"standard": "StandardFunction", "premium": "PremiumFunction"}


@dataclass(frozen=True)
class TierOptions(FleetConfig):
    """One tier's fleet (its limit, provisioned environments, workers), and whether it starts SnapStart-like.

    The deployment gives every tier the same lifecycle and seed (``lifecycle``, ``seed`` are replaced).
    """

    snapstart: bool = False


@dataclass(frozen=True)
class ModelOptions:
    """A served model: its logical-id prefix (the template's), its artifact here, and its fleet's options."""

    id: str
    artifact_dir: Path
    options: TierOptions = TierOptions()
    #: The models.json that lists it (MODEL_REGISTRY): the function refuses a MODEL_NAME its registry lacks.
    registry: Path | None = None


#: Where `make artifact MODEL=... NAME=<name>` builds a model: a served model's artifact here by default.
ARTIFACTS_DIR = REPO_ROOT / "build" / "artifacts"


class ModelArtifactMissingError(ValueError):
    """Raised when a served model of the list has no artifact here; the message says how to build it."""


def models_from_list(registry: Path, options: TierOptions = TierOptions(),
                     artifacts: dict[str, Path] | None = None) -> dict[str, ModelOptions]:
    """Every served model of ``registry`` (a models.json; tools/template/models.py) as the template serves it: its
    logical id, its artifact (``artifacts[name]``, else build/artifacts/<name>), the list as its registry.

    Raises ModelListError for a list the template generator would refuse, ModelArtifactMissingError for a model
    with no artifact built (saying the `make artifact` that builds it, from its serve.docker_build_args).
    """
    from tools.template.models import ModelListError, served_models

    served = served_models(registry)
    unknown = sorted(set(artifacts or {}) - {model.name for model in served})
    if unknown:
        raise ModelListError(f"{registry}: serves no model named {', '.join(unknown)}; it serves "
                             f"{', '.join(m.name for m in served) or 'none'}")
    models: dict[str, ModelOptions] = {}
    for model in served:
        artifact = (artifacts or {}).get(model.name, ARTIFACTS_DIR / model.name)
        if not (artifact / "manifest.json").is_file():
            build = " ".join(f"{key}='{value}'" for key, value in model.docker_build_args
                             if key in ("MODEL", "TASK", "NAME"))
            raise ModelArtifactMissingError(
                f"model {model.name!r} ({registry}) has no artifact at {artifact}: build it with `make artifact "
                f"{build or f'MODEL=<its model> NAME={model.name}'}`")
        models[model.name] = ModelOptions(model.id, artifact, options, registry=Path(registry).resolve())
    return models


def model_spec(name: str, model: ModelOptions) -> FunctionSpec:
    """A served model's function as the emulator runs it: the standard tier's, with its model and artifact."""
    standard = FUNCTIONS["StandardFunction"]
    registry = {"MODEL_REGISTRY": str(model.registry)} if model.registry else {}
    return replace(standard, logical_id=f"{model.id}Function", environment={
        **standard.environment, "MODEL_NAME": name, "MODEL_ARTIFACT_DIR": str(model.artifact_dir), **registry})


class LocalDeployment:
    def __init__(self, *, max_environments: int = 4, prewarm_premium: bool = True,
                 env: dict[str, str] | None = None, front_door_port: int = 0,
                 premium_access: PremiumAccess | None = None,
                 standard: TierOptions | None = None, premium: TierOptions | None = None,
                 lifecycle: LifecycleModel | None = None, compression: float = 1.0, seed: int = 0,
                 log_path: Path | None = None, run_dir: Path | None = None,
                 clock: Callable[[], float] = time.monotonic, models: dict[str, ModelOptions] | None = None) -> None:
        check_runtime_ready()
        tiers = {
            "standard": standard or TierOptions(max_environments=max_environments),
            "premium": premium or TierOptions(max_environments=max_environments,
                                              provisioned=1 if prewarm_premium else 0),
        }
        self.lifecycle = (lifecycle or DEFAULT_LIFECYCLE).scaled(compression)
        self.log = LifecycleLog(log_path, clock=clock)
        self.fleets: dict[str, Fleet] = {}
        for tier, options in tiers.items():
            config = replace(options, lifecycle=self.lifecycle, seed=seed)
            self.fleets[tier] = _make_fleet(TIER_FUNCTIONS[tier], config, env=env,
                                            warm=warm_event(tier=tier), log=self.log,
                                            run_dir=run_dir / tier if run_dir else None, clock=clock)
        self.model_fleets: dict[str, Fleet] = {}
        for name, model in (models or {}).items():
            config = replace(model.options, lifecycle=self.lifecycle, seed=seed)
            self.model_fleets[name] = _make_fleet(f"{model.id}Function", config, env=env,
                                                  warm=warm_event(tier="standard"), log=self.log,
                                                  run_dir=run_dir / "models" / name if run_dir else None, clock=clock,
                                                  spec=model_spec(name, model))
        functions = {TIER_FUNCTIONS[t]: f for t, f in self.fleets.items()}
        functions.update({f"{models[n].id}Function": f for n, f in self.model_fleets.items()} if models else {})
        self.lambda_service = LambdaService(functions)
        self.front_door = FrontDoor(self.fleets, port=front_door_port, premium_access=premium_access,
                                    models=self.model_fleets)

    def start(self) -> LocalDeployment:
        self.lambda_service.start()
        self.front_door.start()
        for fleet in (*self.fleets.values(), *self.model_fleets.values()):
            fleet.start()
        return self

    def stop(self) -> None:
        self.front_door.stop()
        self.lambda_service.stop()
        for fleet in (*self.fleets.values(), *self.model_fleets.values()):
            fleet.stop()

    def summary(self) -> dict[str, Any]:
        """Per tier (and per served model, ``models/<name>``): the fleet's environments now and at most, and its
        lifecycle events counted."""
        summary = {tier: fleet.summary() for tier, fleet in self.fleets.items()}
        summary.update({f"models/{name}": fleet.summary() for name, fleet in self.model_fleets.items()})
        return summary

    def __enter__(self) -> LocalDeployment:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _make_fleet(logical_id: str, config: TierOptions, *, env: dict[str, str] | None,
                warm: dict[str, Any], log: LifecycleLog, run_dir: Path | None,
                clock: Callable[[], float], spec: FunctionSpec | None = None) -> Fleet:
    spec = spec or FUNCTIONS[logical_id]
    if config.snapstart:
        from .fleet.forking import SnapStartFleet

        return SnapStartFleet(spec, config, env=env, warm_event=warm, log=log, run_dir=run_dir, clock=clock)
    return Fleet(spec, config, env=env, warm_event=warm, log=log, run_dir=run_dir, clock=clock)
