"""Export a model to one ONNX graph with torch + transformers (build time only).

Embeddings: transformer, pooling (sentence-transformers' modes: cls, mean, max,
mean_sqrt_len_tokens, weightedmean, lasttoken) and, when the model says so, L2
normalisation, in one graph whose output ``sentence_embedding`` is what
``SentenceTransformer.encode`` returns. Classification and reranking: the
sequence-classification model's ``logits``; the runtime applies softmax, sigmoid or
nothing (``inference_runtime.tasks``), so the graph stays the model's own.

The graph takes the inputs the model's tokenizer gives and its forward accepts
(``input_ids``, ``attention_mask``, and ``token_type_ids`` for BERT-like models), with
batch and sequence as dynamic axes. Attention is exported in its eager form (plain
MatMul and Softmax), which ONNX Runtime's offline optimisation fuses itself.

The exporter is torch's TorchScript one (``dynamo=False``): the torch.export-based one
needs onnxscript, which the build stage does not install, and the traced graph is
checked against torch on every build anyway (parity.py).
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference_runtime.artifact.spec import Task

from .errors import ExportError

if TYPE_CHECKING:
    from .model_dir import ExportPlan

# Opset 17 is the newest every onnxruntime release we target runs fully optimised.
ONNX_OPSET = 17
# The order inputs are declared in (and listed in the manifest).
INPUT_ORDER = ("input_ids", "attention_mask", "token_type_ids")
EMBEDDING_OUTPUT = "sentence_embedding"
LOGITS_OUTPUT = "logits"


def load_tokenizer(plan: ExportPlan) -> Any:
    """The model's own tokenizer, as transformers loads it (a fast, tokenizers-backed one)."""
    from transformers import AutoTokenizer

    try:
        # A local directory only: the export never downloads anything (bandit's B615 is about
        # hub downloads without a pinned revision).
        tokenizer = AutoTokenizer.from_pretrained(str(plan.path), local_files_only=True)  # nosec B615
    except (OSError, ValueError) as exc:
        raise ExportError(f"transformers could not load the tokenizer of {plan.path}: {exc}") from exc
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ExportError(f"the tokenizer of {plan.path} is not backed by the tokenizers library (no "
                          "tokenizer.json), which is what the runtime runs; save a fast tokenizer with the model")
    if tokenizer.pad_token is None:
        # Decoder-style embedding models (last-token pooling) often have none; their EOS pads them.
        if tokenizer.eos_token is None:
            raise ExportError(f"the tokenizer of {plan.path} has neither a padding nor an end-of-sequence token")
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.padding_side != "right":
        # The graph's last-token pooling and the runtime both pad on the right.
        tokenizer.padding_side = "right"
    return tokenizer


def load_model(plan: ExportPlan, *, attn_implementation: str | None = None) -> Any:
    """The torch model for ``plan.task`` in float32, eval mode; eager attention when exporting."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification

    auto = AutoModel if plan.task is Task.EMBEDDINGS else AutoModelForSequenceClassification
    kwargs: dict[str, Any] = {"dtype": torch.float32, "local_files_only": True}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        model = auto.from_pretrained(str(plan.path), **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise ExportError(f"transformers could not load {plan.path} as {auto.__name__}: {exc}") from exc
    return model.eval()


def usable_positions(model: Any) -> int | None:
    """How many tokens the model's position embeddings cover (RoBERTa and MPNet reserve padding_idx + 1)."""
    embeddings = getattr(getattr(model, "base_model", model), "embeddings", None)
    positions = getattr(embeddings, "position_embeddings", None)
    count = getattr(positions, "num_embeddings", None)
    if count is None:
        limit = getattr(model.config, "max_position_embeddings", None)
        return int(limit) if limit else None
    padding_idx = getattr(positions, "padding_idx", None)
    return int(count - (padding_idx + 1 if padding_idx is not None else 0))


def graph_inputs(model: Any, tokenizer: Any) -> list[str]:
    """The inputs the tokenizer gives and the model's forward takes, in INPUT_ORDER."""
    accepted = set(inspect.signature(model.forward).parameters)
    given = set(tokenizer.model_input_names) | {"attention_mask"}
    names = [name for name in INPUT_ORDER if name in given and name in accepted]
    if "input_ids" not in names or "attention_mask" not in names:
        raise ExportError(f"{type(model).__name__} does not take input_ids and attention_mask; "
                          "this exporter handles text encoders")
    return names


def pool(hidden: Any, mask: Any, modes: tuple[str, ...]) -> Any:
    """sentence-transformers' Pooling on right-padded batches, one mode after the other, concatenated."""
    import torch

    mask_f = mask.unsqueeze(-1).to(hidden.dtype)
    counts = mask_f.sum(dim=1).clamp(min=1e-9)
    pooled = []
    for mode in modes:
        if mode == "cls":
            pooled.append(hidden[:, 0])
        elif mode == "mean":
            pooled.append((hidden * mask_f).sum(dim=1) / counts)
        elif mode == "mean_sqrt_len_tokens":
            pooled.append((hidden * mask_f).sum(dim=1) / torch.sqrt(counts))
        elif mode == "max":
            pooled.append(hidden.masked_fill(mask_f == 0, float("-inf")).max(dim=1).values)
        elif mode == "weightedmean":
            weights = torch.arange(1, hidden.shape[1] + 1, dtype=hidden.dtype).view(1, -1, 1) * mask_f
            pooled.append((hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9))
        elif mode == "lasttoken":
            # The last real token of each row: right padding puts it at (number of tokens - 1).
            last = (mask.sum(dim=1) - 1).clamp(min=0).to(torch.int64)
            index = last.view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])
            pooled.append(torch.gather(hidden, 1, index).squeeze(1))
        else:  # model_dir.py refuses other modes before this point
            raise ExportError(f"pooling mode {mode!r} is not supported")
    return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=-1)


def export_onnx(plan: ExportPlan, model: Any, tokenizer: Any, sample: dict[str, Any], out_path: Path) -> dict[str, Any]:
    """Trace ``model`` (+ pooling for embeddings) into ``out_path``; return the graph's manifest fields.

    ``sample`` is a tokenized batch (rows of different lengths) to trace with: real
    tokens rather than a constant, so no model sees an input it would never get.
    """
    import torch

    names = graph_inputs(model, tokenizer)
    output = EMBEDDING_OUTPUT if plan.task is Task.EMBEDDINGS else LOGITS_OUTPUT

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            feeds = dict(zip(names, inputs, strict=True))
            if plan.task is not Task.EMBEDDINGS:
                return self.model(**feeds).logits
            hidden = self.model(**feeds)[0]
            pooled = pool(hidden, feeds["attention_mask"], plan.pooling)
            if plan.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
            return pooled

    graph = Graph().eval()
    axes = {0: "batch", 1: "sequence"}
    args = tuple(sample[name] for name in names)
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer warns about every shape it reads as a Python value, and torch about its
        # TorchScript exporter being the older one; what the trace got right or wrong, the
        # parity check on texts of other lengths than the trace's measures instead.
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message=".*aten::index operator of advanced indexing")
        probe = graph(*args)
        torch.onnx.export(
            graph, args, str(out_path),
            input_names=names, output_names=[output],
            dynamic_axes={**{name: axes for name in names}, output: {0: "batch"}},
            opset_version=ONNX_OPSET, dynamo=False,
        )
    # width: the embedding's size, or the number of logits
    return {"inputs": names, "output": output, "width": int(probe.shape[-1])}
