"""Reading a model directory: which task, pooling, labels and length the export infers, and the
refusals that say what to do. Files only: no torch, no weights are loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.export import ExportError, inspect_model
from tools.export.packages import packaged_model_dir


def model_dir(root: Path, *, architecture: str = "BertModel", config: dict | None = None,
              files: dict[str, object] | None = None) -> Path:
    """A directory with config.json, (empty) weights and a tokenizer file, plus ``files``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"architectures": [architecture], "model_type": "bert",
                                                  **(config or {})}))
    (root / "model.safetensors").write_bytes(b"")
    (root / "tokenizer.json").write_text("{}")
    for name, content in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return root


ST_MODULES = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
              {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
              {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]


def test_the_packaged_minilm_is_a_normalised_mean_pooled_embedder() -> None:
    spec = inspect_model(packaged_model_dir("all-MiniLM-L6-v2"))
    assert (spec.task, spec.pooling, spec.normalize, spec.max_sequence_length) == ("embeddings", ("mean",), True, 256)
    assert "sentence-transformers" in spec.task_reason


@pytest.mark.parametrize("pooling_config, expected", [
    ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, ("cls",)),      # sentence-transformers < 6
    ({"pooling_mode": "lasttoken"}, ("lasttoken",)),                                       # sentence-transformers 6
    ({"pooling_mode": ["cls", "mean"]}, ("cls", "mean")),
    ({}, ("mean",)),
])
def test_pooling_is_read_in_both_formats(tmp_path: Path, pooling_config: dict, expected: tuple) -> None:
    directory = model_dir(tmp_path, files={"modules.json": ST_MODULES[:2], "1_Pooling/config.json": pooling_config})
    spec = inspect_model(directory)
    assert (spec.task, spec.pooling, spec.normalize) == ("embeddings", expected, False)


def test_a_classifier_gets_its_labels_and_multi_label_from_the_config(tmp_path: Path) -> None:
    directory = model_dir(tmp_path, architecture="RobertaForSequenceClassification", config={
        "id2label": {"0": "toxic", "1": "obscene", "2": "threat"}, "problem_type": "multi_label_classification"})
    spec = inspect_model(directory)
    assert spec.task == "classification" and spec.multi_label is True
    assert spec.labels == ("toxic", "obscene", "threat")      # in logit order


@pytest.mark.parametrize("config, files, reason", [
    ({"num_labels": 1}, {}, "one label"),
    ({"id2label": {"0": "LABEL_0"}}, {"config_sentence_transformers.json": {"model_type": "CrossEncoder"}},
     "CrossEncoder"),
    ({"num_labels": 1, "sentence_transformers": {"activation_fn": "torch.nn.modules.activation.Sigmoid"}}, {},
     "CrossEncoder"),
])
def test_one_label_or_a_cross_encoder_is_a_reranker(tmp_path: Path, config: dict, files: dict, reason: str) -> None:
    directory = model_dir(tmp_path, architecture="BertForSequenceClassification", config=config, files=files)
    spec = inspect_model(directory)
    assert spec.task == "reranking" and reason in spec.task_reason
    assert spec.score_activation == "sigmoid"


def test_a_cross_encoder_with_identity_activation_serves_raw_logits(tmp_path: Path) -> None:
    directory = model_dir(tmp_path, architecture="BertForSequenceClassification", config={"num_labels": 1}, files={
        "config_sentence_transformers.json": {"model_type": "CrossEncoder",
                                              "activation_fn": "torch.nn.modules.linear.Identity"}})
    assert inspect_model(directory).score_activation == "identity"


def test_a_cross_encoder_with_several_labels_is_a_classifier(tmp_path: Path) -> None:
    # An NLI cross-encoder (contradiction / entailment / neutral): labels, not one relevance score.
    directory = model_dir(tmp_path, architecture="DebertaV2ForSequenceClassification", config={
        "id2label": {"0": "contradiction", "1": "entailment", "2": "neutral"}},
        files={"config_sentence_transformers.json": {"model_type": "CrossEncoder"}})
    assert inspect_model(directory).task == "classification"


def test_task_overrides_what_is_inferred(tmp_path: Path) -> None:
    directory = model_dir(tmp_path, architecture="BertForSequenceClassification", config={"num_labels": 1})
    spec = inspect_model(directory, task="embeddings")
    assert (spec.task, spec.task_reason, spec.pooling) == ("embeddings", "TASK given", ("mean",))


@pytest.mark.parametrize("architecture, config, task, message", [
    ("BertModel", {}, "classification", "needs a sequence-classification head"),
    ("BertForSequenceClassification", {"num_labels": 3}, "reranking", "export it with TASK=classification"),
    ("BertModel", {}, "summarisation", "is not a task"),
])
def test_impossible_tasks_are_refused_with_advice(tmp_path: Path, architecture: str, config: dict, task: str,
                                                  message: str) -> None:
    directory = model_dir(tmp_path, architecture=architecture, config=config)
    with pytest.raises(ExportError, match=message):
        inspect_model(directory, task=task)


def test_modules_the_export_cannot_reproduce_are_refused(tmp_path: Path) -> None:
    dense = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    modules = [*ST_MODULES[:2], dense]
    directory = model_dir(tmp_path, files={"modules.json": modules, "1_Pooling/config.json": {}})
    with pytest.raises(ExportError, match="sentence_transformers.models.Dense.*served embeddings would differ"):
        inspect_model(directory)


def test_the_maximum_length_comes_from_sentence_transformers_then_the_tokenizer(tmp_path: Path) -> None:
    directory = model_dir(tmp_path / "a", files={"tokenizer_config.json": {"model_max_length": 512}})
    assert inspect_model(directory).max_sequence_length == 512
    directory = model_dir(tmp_path / "b", files={"tokenizer_config.json": {"model_max_length": 10**30},
                                                 "sentence_bert_config.json": {"max_seq_length": 128}})
    assert inspect_model(directory).max_sequence_length == 128
    directory = model_dir(tmp_path / "c", files={"tokenizer_config.json": {"model_max_length": 10**30}})
    assert inspect_model(directory).max_sequence_length is None     # the export caps it by the positions


@pytest.mark.parametrize("remove, message", [
    ("config.json", "no config.json"),
    ("model.safetensors", "no weights"),
    ("tokenizer.json", "no tokenizer.json"),
])
def test_missing_files_are_named(tmp_path: Path, remove: str, message: str) -> None:
    directory = model_dir(tmp_path)
    (directory / remove).unlink()
    with pytest.raises(ExportError, match=message):
        inspect_model(directory)


def test_not_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="is not a directory"):
        inspect_model(tmp_path / "nowhere")
