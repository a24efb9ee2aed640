"""The floor: the least an ONNX Runtime handler for this model does before it can answer.

numpy, onnxruntime and tokenizers at module scope, the session created from the
artifact's files, nothing else: no sha256 verification, no HTTP layer, no warm-up, no
metrics, no logs. It is not a handler to deploy (it loads files it never checked); the
benchmark runs it to show how far the template's cold start is from what this machine,
this model and ONNX Runtime allow at all.
"""

import json
import os

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ARTIFACT_DIR = os.environ["MODEL_ARTIFACT_DIR"]
tokenizer = Tokenizer.from_file(os.path.join(ARTIFACT_DIR, "tokenizer.json"))
tokenizer.enable_truncation(max_length=256)
tokenizer.enable_padding()
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # optimised at build time
session = ort.InferenceSession(os.path.join(ARTIFACT_DIR, "model.onnx"), options, providers=["CPUExecutionProvider"])
# The inputs this graph takes (MPNet's has no token_type_ids).
INPUTS = {i.name for i in session.get_inputs()}


def handler(event, context):
    encodings = tokenizer.encode_batch(json.loads(event["body"])["inputs"])
    feeds = {
        "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
    }
    feeds = {name: value for name, value in feeds.items() if name in INPUTS}
    return {"statusCode": 200, "body": json.dumps({"outputs": session.run(None, feeds)[0].tolist()})}
