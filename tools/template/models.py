"""The stack's model list: which models of models.json get a function of their own in the template.

models.json is the runtime's registry (name -> where the weights live); a model entry may also
carry a ``serve`` object, and then the stack serves that model with a function of its own:

    {"models": {
       "all-MiniLM-L6-v2":       {"source": "bundled"},
       "ms-marco-MiniLM-L-6-v2": {"source": "s3://...", "manifest_sha256": "...",
                                  "serve": {"memory_mb": 2048, "id": "Reranker"}}}}

Models without ``serve`` are what the tier functions may load (StandardModelName,
PremiumModelName, GpuModelName pick one each): the default list has one model and no ``serve``,
so the default template is today's, byte for byte. Each served model gets, from
tools/template/generate.py: a function (its own cold start, memory, timeout), its log group, a
target group and invoke permission, a listener rule for ``/models/<name>`` and
``/models/<name>/*``, a keep-warm target (StandardWarmCount environments), a cold-start alarm
and a row of the models' dashboard. Served models have the standard tier only: their rule comes
before the tier rules' header conditions, so ``X-Latency-Tier`` does not reach them (a premium or
GPU function per extra model would multiply provisioned concurrency and GPU capacity, the
expensive parts, by the number of models; nothing asked for it yet).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS = REPO_ROOT / "functions" / "inference" / "models.json"
#: The Docker build argument naming the registry file the image copies to /var/task/models.json
#: (functions/inference/Dockerfile; default functions/inference/models.json).
REGISTRY_BUILD_ARG = "MODEL_REGISTRY_FILE"
#: Listener rule priorities the served models use, in list order: after OperatorRoutesRule (1),
#: before the tier rules (10 and up), so a model's path wins over any X-Latency-Tier header.
FIRST_PRIORITY = 2
MAX_SERVED = 8
#: Characters an ALB path pattern takes literally (no wildcard, no escaping), and a model name is a path part.
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ID = re.compile(r"^[A-Z][A-Za-z0-9]{0,40}$")
_SERVE_KEYS = {"id", "memory_mb", "timeout_s", "docker_build_args"}


class ModelListError(ValueError):
    """Raised for a models.json the generator cannot write a template from; the message says what to change."""


@dataclass(frozen=True)
class ServedModel:
    """One model served by its own function."""

    name: str
    #: Prefix of its logical ids: <id>Function, <id>TargetGroup, ...
    id: str
    #: Its position in the list: its listener rule's priority and its target group's short name.
    index: int
    memory_mb: int = 3008
    timeout_s: int | None = None
    docker_build_args: tuple[tuple[str, str], ...] = ()
    #: The list it came from: the image its function runs must carry that list as its registry
    #: (MODEL_REGISTRY_FILE), since the function refuses a MODEL_NAME its registry lacks.
    registry: Path | None = None

    @property
    def priority(self) -> int:
        return FIRST_PRIORITY + self.index

    @property
    def short(self) -> str:
        """In its target group's name, inference-<short>-<stack id suffix> (at most 32 characters)."""
        return f"m{self.index + 1}"

    @property
    def service(self) -> str:
        """Its POWERTOOLS_SERVICE_NAME: the `service` dimension of its EMF metrics."""
        return f"inference-{self.short}"

    @property
    def path(self) -> str:
        return f"/models/{self.name}"


def logical_id(name: str) -> str:
    """A CloudFormation logical-id prefix from a model name: ms-marco-MiniLM-L-6-v2 -> MsMarcoMiniLML6V2."""
    parts = [part for part in re.split(r"[^A-Za-z0-9]+", name) if part]
    text = "".join(part[0].upper() + part[1:] for part in parts)
    return text if text[:1].isalpha() else f"Model{text}"


def registry_in_context(model: ServedModel) -> str | None:
    """The list ``model`` came from, relative to the repository root (the image's build context); None for the
    default list, which the image carries anyway."""
    if model.registry is None or model.registry == DEFAULT_MODELS:
        return None
    try:
        return model.registry.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        raise ModelListError(f"{model.registry}: a list that serves models must sit inside the repository "
                             f"({REPO_ROOT}): its functions' images are built from there and carry it as their "
                             "registry") from None


def served_models(path: Path = DEFAULT_MODELS) -> tuple[ServedModel, ...]:
    """The models of ``path`` that have a ``serve`` object, in file order, checked."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelListError(f"{path}: cannot read the model list: {exc}") from exc
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict) or not models:
        raise ModelListError(f"{path}: needs a non-empty \"models\" object (name -> entry)")
    served: list[ServedModel] = []
    for name, entry in models.items():
        if not isinstance(entry, dict):
            raise ModelListError(f"{path}: model {name!r} must be an object")
        serve = entry.get("serve")
        if serve is None:
            continue
        where = f"{path}: model {name!r}"
        if not isinstance(serve, dict):
            raise ModelListError(f"{where}: \"serve\" must be an object ({', '.join(sorted(_SERVE_KEYS))})")
        unknown = set(serve) - _SERVE_KEYS
        if unknown:
            raise ModelListError(f"{where}: unknown serve setting(s) {', '.join(sorted(unknown))}; "
                                 f"known: {', '.join(sorted(_SERVE_KEYS))}")
        if not _NAME.match(name):
            # The name is a path part of a listener rule's path pattern, where * and ? are wildcards.
            raise ModelListError(f"{where}: a served model's name is a URL path part: letters, digits, '.', '_', "
                                 "'-' only, at most 64")
        model_id = serve.get("id", logical_id(name))
        if not isinstance(model_id, str) or not _ID.match(model_id):
            raise ModelListError(f"{where}: serve.id {model_id!r} must be a logical-id prefix: a capital letter, "
                                 "then letters and digits (at most 41)")
        memory = serve.get("memory_mb", 3008)
        if not isinstance(memory, int) or isinstance(memory, bool) or not 128 <= memory <= 10240:
            raise ModelListError(f"{where}: serve.memory_mb must be an integer from 128 to 10240 (Lambda's range)")
        timeout = serve.get("timeout_s")
        if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)
                                    or not 1 <= timeout <= 900):
            raise ModelListError(f"{where}: serve.timeout_s must be an integer from 1 to 900")
        args = serve.get("docker_build_args", {})
        if not isinstance(args, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in args.items()):
            raise ModelListError(f"{where}: serve.docker_build_args must map names to strings")
        if REGISTRY_BUILD_ARG in args:
            raise ModelListError(f"{where}: serve.docker_build_args sets {REGISTRY_BUILD_ARG}; the generator sets it "
                                 "to the list the model is served from")
        served.append(ServedModel(name, model_id, len(served), memory, timeout, tuple(sorted(args.items())),
                                  Path(path).resolve()))
    if len(served) > MAX_SERVED:
        raise ModelListError(f"{path}: {len(served)} served models; at most {MAX_SERVED} (listener rule priorities "
                             f"{FIRST_PRIORITY}-{FIRST_PRIORITY + MAX_SERVED - 1} sit between the operator rule and "
                             "the tier rules)")
    ids = [model.id for model in served]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ModelListError(f"{path}: served models share the logical id(s) {', '.join(duplicates)}: set serve.id")
    return tuple(served)
