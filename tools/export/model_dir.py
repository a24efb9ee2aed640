"""Read a local Hugging Face model directory: what it is, and what the artifact must say about it.

Only files are read here (no torch): ``config.json``, the tokenizer's files, and
sentence-transformers' ``modules.json``, ``sentence_bert_config.json``,
``config_sentence_transformers.json`` and pooling configuration when present. The task
is inferred in this order, the first rule that applies winning:

1. ``TASK`` given: that task (checked against what the directory holds);
2. a sentence-transformers CrossEncoder directory (``config_sentence_transformers.json``
   says ``CrossEncoder``, or ``config.json`` carries a cross-encoder activation), or a
   ``*ForSequenceClassification`` architecture with one label: reranking;
3. a ``*ForSequenceClassification`` architecture: classification;
4. anything else (a sentence-transformers directory, a bare encoder): embeddings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference_runtime.artifact.spec import ScoreActivation, Task

from .errors import ExportError

# sentence-transformers' pooling modes (sentence_transformers.sentence_transformer.modules.Pooling),
# each of which the exported graph computes the same way.
POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
# (pairs, not a dict literal: bandit takes a key ending in "_token" for a password's name)
_LEGACY_POOLING_KEYS = dict((
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
))
# sentence-transformers modules the export reproduces, by class name (the module path changed
# between versions: sentence_transformers.models.Pooling, ...sentence_transformer.modules.pooling.Pooling).
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")
# CrossEncoder activations, as sentence-transformers stores them, and the runtime's names.
_ACTIVATIONS = {
    "torch.nn.modules.activation.Sigmoid": ScoreActivation.SIGMOID,
    "torch.nn.Sigmoid": ScoreActivation.SIGMOID,
    "torch.nn.modules.linear.Identity": ScoreActivation.IDENTITY,
    "torch.nn.Identity": ScoreActivation.IDENTITY,
}
# A tokenizer_config.json model_max_length this large means "no limit" (transformers' VERY_LARGE_INTEGER).
_NO_LIMIT = 10**6
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


@dataclass(frozen=True)
class ExportPlan:
    """What a model directory holds and how to export it (the artifact's contract is ``ModelSpec``)."""

    path: Path                     # the Hugging Face model (config.json, weights, tokenizer)
    task: Task
    task_reason: str               # why this task: shown by the build
    architecture: str
    model_type: str
    pooling: tuple[str, ...] = ()  # embeddings only
    normalize: bool = False        # embeddings only
    labels: tuple[str, ...] = ()   # classification: id2label, in logit order
    multi_label: bool = False
    score_activation: ScoreActivation = ScoreActivation.SIGMOID   # reranking
    max_sequence_length: int | None = None                  # from sentence-transformers or the tokenizer
    weights: tuple[Path, ...] = ()
    # embeddings: sentence-transformers' prompts and default (config_sentence_transformers.json)
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ExportError(f"{path} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else {}


def inspect_model(model_dir: Path, *, task: Task | str | None = None, pooling: str | None = None) -> ExportPlan:
    """Read ``model_dir`` into an ExportPlan; ``task`` and ``pooling`` override what is inferred."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ExportError(f"{model_dir} is not a directory; give a local Hugging Face model directory "
                          "(config.json, model.safetensors, tokenizer.json)")
    if task is not None:
        try:
            task = Task(task)
        except ValueError:
            raise ExportError(f"TASK={task!r} is not a task; use one of {', '.join(Task)}") from None
    modules = _modules(model_dir)
    hf_dir = model_dir / modules.get("Transformer", "")
    config = read_json(hf_dir / "config.json")
    if not config:
        raise ExportError(f"no config.json in {hf_dir}; a Hugging Face model directory has one "
                          "(save_pretrained writes it)")
    weights = tuple(sorted(p for pattern in WEIGHT_PATTERNS for p in hf_dir.glob(pattern)))
    if not weights:
        raise ExportError(f"no weights in {hf_dir}: expected model.safetensors (or sharded "
                          "model-*.safetensors, or pytorch_model.bin)")
    if not (hf_dir / "tokenizer.json").is_file() and not (hf_dir / "tokenizer_config.json").is_file():
        raise ExportError(f"no tokenizer.json in {hf_dir}; save the tokenizer beside the model "
                          "(tokenizer.save_pretrained)")
    architectures = config.get("architectures") or []
    architecture = str(architectures[0]) if architectures else "unknown"
    model_type = str(config.get("model_type", "unknown"))
    num_labels = _num_labels(config)
    has_head = architecture.endswith("ForSequenceClassification")
    cross_encoder, activation = _cross_encoder(model_dir, config)

    if task is None:
        if cross_encoder and num_labels == 1:
            task, reason = Task.RERANKING, "a sentence-transformers CrossEncoder with one output"
        elif has_head and num_labels == 1:
            task, reason = Task.RERANKING, f"{architecture} with one label (a cross-encoder's relevance score)"
        elif has_head:
            task, reason = Task.CLASSIFICATION, f"{architecture} with {num_labels} labels"
        elif modules:
            task, reason = Task.EMBEDDINGS, "a sentence-transformers model (modules.json)"
        else:
            task, reason = Task.EMBEDDINGS, f"{architecture}: no classification head, so the encoder's embeddings"
    else:
        reason = "TASK given"
        if task in (Task.CLASSIFICATION, Task.RERANKING) and not has_head:
            raise ExportError(f"TASK={task} needs a sequence-classification head, and {hf_dir} is a "
                              f"{architecture}; export it with TASK=embeddings, or fine-tune a "
                              "*ForSequenceClassification model")
        if task is Task.RERANKING and num_labels != 1:
            raise ExportError(f"TASK=reranking needs one output (a relevance score); {architecture} has "
                              f"{num_labels} labels: export it with TASK=classification")

    spec: dict[str, Any] = {}
    if task is Task.EMBEDDINGS:
        spec["pooling"] = _pooling(model_dir, modules, pooling)
        spec["normalize"] = "Normalize" in modules
        st_config = read_json(model_dir / "config_sentence_transformers.json")
        prompts = st_config.get("prompts") or {}
        if not isinstance(prompts, dict):
            raise ExportError(f"the prompts in {model_dir / 'config_sentence_transformers.json'} must be an object")
        spec["prompts"] = {str(k): str(v) for k, v in prompts.items()}
        spec["default_prompt_name"] = st_config.get("default_prompt_name") or None
    elif pooling is not None:
        raise ExportError(f"POOLING applies to embeddings; this export is {task}")
    if task is Task.CLASSIFICATION:
        id2label = config.get("id2label") or {str(i): f"LABEL_{i}" for i in range(num_labels)}
        by_index = {int(k): str(v) for k, v in id2label.items()}
        if sorted(by_index) != list(range(len(by_index))):
            raise ExportError(f"the id2label of {hf_dir} must number its labels 0..{len(by_index) - 1}, "
                              f"got {sorted(by_index)}")
        spec["labels"] = tuple(by_index[i] for i in range(len(by_index)))
        spec["multi_label"] = config.get("problem_type") == "multi_label_classification"
    if task is Task.RERANKING:
        if activation is not None and activation not in _ACTIVATIONS:
            raise ExportError(f"the cross-encoder's activation {activation!r} is not one the runtime applies "
                              f"({', '.join(sorted(set(_ACTIVATIONS.values())))})")
        # sentence-transformers' default for a one-label cross-encoder is Sigmoid.
        spec["score_activation"] = _ACTIVATIONS.get(activation or "", ScoreActivation.SIGMOID)

    return ExportPlan(path=hf_dir, task=task, task_reason=reason, architecture=architecture,
                     model_type=model_type, max_sequence_length=_max_sequence_length(model_dir, hf_dir),
                     weights=weights, **spec)


def _modules(model_dir: Path) -> dict[str, str]:
    """sentence-transformers modules by class name -> their path; empty without modules.json."""
    path = model_dir / "modules.json"
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ExportError(f"{path} is not valid JSON: {exc}") from exc
    found: dict[str, str] = {}
    for entry in entries:
        kind = str(entry.get("type", "")).rsplit(".", 1)[-1]
        if kind not in _SUPPORTED_MODULES:
            raise ExportError(f"{path}: module {entry.get('type')!r} ({entry.get('path')}) is not one this exporter "
                              f"reproduces ({', '.join(_SUPPORTED_MODULES)}); the served embeddings would differ "
                              "from the model's")
        found[kind] = str(entry.get("path", ""))
    return found


def _pooling(model_dir: Path, modules: dict[str, str], override: str | None) -> tuple[str, ...]:
    if override is not None:
        modes = tuple(m.strip() for m in override.split(",") if m.strip())
    elif "Pooling" in modules:
        config = read_json(model_dir / modules["Pooling"] / "config.json")
        if "pooling_mode" in config:
            raw = config["pooling_mode"]
            modes = (raw,) if isinstance(raw, str) else tuple(raw)
        else:
            modes = tuple(mode for key, mode in _LEGACY_POOLING_KEYS.items() if config.get(key)) or ("mean",)
    else:
        # A bare encoder says nothing: mean pooling is what sentence-transformers gives such a model.
        modes = ("mean",)
    unknown = [m for m in modes if m not in POOLING_MODES]
    if unknown or not modes:
        raise ExportError(f"pooling {', '.join(unknown) or '(none)'} is not one of {', '.join(POOLING_MODES)}")
    return modes


def _num_labels(config: dict[str, Any]) -> int:
    if "num_labels" in config:
        return int(config["num_labels"])
    return len(config.get("id2label") or {}) or 2


def _cross_encoder(model_dir: Path, config: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether sentence-transformers saved this as a CrossEncoder, and the activation it stored."""
    st_config = read_json(model_dir / "config_sentence_transformers.json")
    if st_config.get("model_type") == "CrossEncoder":
        return True, st_config.get("activation_fn")
    nested = config.get("sentence_transformers")
    if isinstance(nested, dict) and "activation_fn" in nested:          # sentence-transformers 4 and 5
        return True, nested["activation_fn"]
    if config.get("sbert_ce_default_activation_function"):               # before 4
        return True, config["sbert_ce_default_activation_function"]
    return False, None


def _max_sequence_length(model_dir: Path, hf_dir: Path) -> int | None:
    """The length sentence-transformers (or the tokenizer) truncates at; the export caps it by the positions."""
    configured = read_json(model_dir / "sentence_bert_config.json").get("max_seq_length")
    if configured:
        return int(configured)
    tokenizer_max = read_json(hf_dir / "tokenizer_config.json").get("model_max_length")
    if isinstance(tokenizer_max, (int, float)) and 0 < tokenizer_max < _NO_LIMIT:
        return int(tokenizer_max)
    return None
