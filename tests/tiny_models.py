"""Tiny random-weight Hugging Face models, written to a directory as a user's would be.

For architectures and tasks no PyPI package ships weights for: a transformers config
(hidden 32, 2 layers, 2 heads), random weights (seeded), and a real tokenizer of the
architecture's kind (WordPiece for BERT, DistilBERT and MPNet; byte-level BPE for
RoBERTa; Unigram for XLM-RoBERTa) over a small vocabulary, saved with
``save_pretrained``; embedding models as sentence-transformers directories
(modules.json, pooling config), rerankers as sentence-transformers CrossEncoder
directories, classifiers as plain transformers ones. Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inference_runtime.artifact import Task

ARCHITECTURES = ("bert", "roberta", "xlm-roberta", "distilbert", "mpnet")
TASKS = tuple(Task)
LABELS = {0: "negative", 1: "neutral", 2: "positive"}
# Small: position embeddings cover 40 tokens, so the parity texts are truncated.
MAX_POSITIONS = 40
SIZE: dict[str, Any] = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
# Ten times transformers' default: logits of order 1 rather than 0.01, so that an absolute
# logit difference means as much as it would for a trained model.
INIT_RANGE = 0.2

_WORDS = ("the a an is are was of to in on for and or with from by at as it this that how do does what why "
          "hello world man eating food quick brown fox jumps over lazy dog cat window serverless function "
          "functions start quickly cold model document query weather paris spring version released issue "
          "word appears very long goes upper lower mixed emoji too inference latency provisioned concurrency "
          "keeps environments before requests arrive reduced exporting build time onnx").split()
_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.,;:!?-#'\"()«»—"


def _wordpiece_vocab(specials: list[str]) -> dict[str, int]:
    tokens = specials + sorted(set(_WORDS)) + list(_CHARS) + [f"##{c}" for c in _CHARS]
    return {token: index for index, token in enumerate(dict.fromkeys(tokens))}


def _tokenizer(architecture: str) -> Any:
    if architecture in ("bert", "distilbert"):
        from transformers import BertTokenizer, DistilBertTokenizer

        cls = BertTokenizer if architecture == "bert" else DistilBertTokenizer
        return cls(vocab=_wordpiece_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    if architecture == "mpnet":
        from transformers import MPNetTokenizer

        return MPNetTokenizer(vocab=_wordpiece_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>", "[UNK]"]))
    if architecture == "roberta":
        from transformers import RobertaTokenizer
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        alphabet = sorted(set(bytes_to_unicode().values()))
        vocab = {token: index for index, token in enumerate(["<s>", "<pad>", "</s>", "<unk>", *alphabet, "<mask>"])}
        # A few merges so that common words are single tokens, as in a trained BPE.
        merges = [("Ġ", "t"), ("Ġt", "h"), ("Ġth", "e"), ("h", "e"), ("l", "l"), ("Ġ", "a"), ("o", "r"), ("e", "r")]
        for left, right in merges:
            vocab.setdefault(left + right, len(vocab))
        # transformers annotates merges as list[str], but hands them as they are to tokenizers' BPE,
        # which takes (left, right) pairs.
        return RobertaTokenizer(vocab=vocab, merges=merges)  # type: ignore[arg-type]
    if architecture == "xlm-roberta":
        from transformers import XLMRobertaTokenizer

        pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
        pieces += [(f"▁{w}", -2.0 - i * 0.01) for i, w in enumerate(sorted(set(_WORDS)))]
        pieces += [(c, -8.0) for c in _CHARS] + [("▁", -5.0), ("<mask>", 0.0)]
        return XLMRobertaTokenizer(vocab=pieces)
    raise ValueError(architecture)


def _config(architecture: str, vocab_size: int, task: str) -> Any:
    import transformers

    labelled = {"id2label": dict(LABELS), "label2id": {v: k for k, v in LABELS.items()}}
    # Any: the configs' keyword arguments each have their own type, which a dict of them cannot carry.
    heads: dict[str, Any] = ({"num_labels": 1} if task == Task.RERANKING
                             else labelled if task == Task.CLASSIFICATION else {})
    if architecture == "distilbert":
        return transformers.DistilBertConfig(vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                             max_position_embeddings=MAX_POSITIONS, pad_token_id=0,
                                             initializer_range=INIT_RANGE, **heads)
    if architecture == "bert":
        return transformers.BertConfig(vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS, pad_token_id=0,
                                       initializer_range=INIT_RANGE, **SIZE, **heads)
    # RoBERTa, XLM-R and MPNet number positions from padding_idx + 1 (pad_token_id 1).
    cls = {"roberta": transformers.RobertaConfig, "xlm-roberta": transformers.XLMRobertaConfig,
           "mpnet": transformers.MPNetConfig}[architecture]
    extra = {"type_vocab_size": 1} if architecture != "mpnet" else {}
    return cls(vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS + 2, pad_token_id=1, bos_token_id=0,
               eos_token_id=2, initializer_range=INIT_RANGE, **SIZE, **extra, **heads)


def make_model(root: Path, architecture: str, task: str, *, pooling: str = "mean", normalize: bool = True,
               multi_label: bool = False, seed: int = 0, prompts: dict[str, str] | None = None,
               default_prompt_name: str | None = None, name: str | None = None) -> Path:
    """Write a tiny random ``architecture`` model for ``task`` under ``root``; return its directory.

    ``prompts`` and ``default_prompt_name`` (embeddings) go into config_sentence_transformers.json,
    where sentence-transformers saves them."""
    import torch
    import transformers

    torch.manual_seed(seed)
    directory = root / (name or f"{architecture}-{task}")
    tokenizer = _tokenizer(architecture)
    config = _config(architecture, len(tokenizer), task)
    if multi_label:
        config.problem_type = "multi_label_classification"
    if task == Task.EMBEDDINGS:
        model = transformers.AutoModel.from_config(config)
    else:
        model = transformers.AutoModelForSequenceClassification.from_config(config)
    model.eval()
    model.save_pretrained(directory)
    tokenizer.model_max_length = MAX_POSITIONS
    tokenizer.save_pretrained(directory)
    if task == Task.EMBEDDINGS:
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        if normalize:
            modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                            "type": "sentence_transformers.models.Normalize"})
        (directory / "modules.json").write_text(json.dumps(modules))
        (directory / "2_Normalize").mkdir(exist_ok=True)
        (directory / "1_Pooling").mkdir()
        (directory / "1_Pooling" / "config.json").write_text(json.dumps(
            {"embedding_dimension": config.hidden_size if hasattr(config, "hidden_size") else config.dim,
             "pooling_mode": pooling, "include_prompt": True}))
        (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": MAX_POSITIONS}))
        if prompts is not None:
            (directory / "config_sentence_transformers.json").write_text(json.dumps(
                {"prompts": prompts, "default_prompt_name": default_prompt_name, "similarity_fn_name": "cosine"}))
    if task == Task.RERANKING:
        (directory / "config_sentence_transformers.json").write_text(json.dumps(
            {"model_type": "CrossEncoder", "activation_fn": "torch.nn.modules.activation.Sigmoid"}))
    return directory


#: what an E5-style model carries: a query prefix, a document prefix, and the default for neither
PROMPTS = {"query": "query: ", "passage": "passage: ", "classification": "classify this: "}
DEFAULT_PROMPT = "query"
#: the sizes a tiny (32-wide) model is declared Matryoshka-trained at
MATRYOSHKA = (16, 8)


def prompted_artifact(root: Path, architecture: str = "bert") -> Path:
    """A tiny embedding model with prompts and a default, declared Matryoshka-trained, exported
    by the real builder (its parity against sentence-transformers checked) into ``root / 'artifact'``."""
    from tools.export import build

    directory = make_model(root / "models", architecture, Task.EMBEDDINGS, prompts=PROMPTS,
                           default_prompt_name=DEFAULT_PROMPT, name=f"{architecture}-prompted")
    build(root / "artifact", model_dir=directory, name=f"tiny-{architecture}-prompted",
          matryoshka_dimensions=MATRYOSHKA)
    return root / "artifact"


def tiny_artifact(root: Path, task: Task = Task.EMBEDDINGS, architecture: str = "bert") -> Path:
    """A tiny model exported by the real builder into ``root / 'artifact'``: what unit tests load
    instead of the real 87 MB model (the same runtime path, in a few kilobytes)."""
    from tools.export import build

    directory = make_model(root / "models", architecture, task)
    build(root / "artifact", model_dir=directory, name=f"tiny-{architecture}-{task}")
    return root / "artifact"
