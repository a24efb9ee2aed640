"""The peer: fastembed 0.9.1 on the same ONNX weights, as a Lambda user would write the handler.

fastembed is the library people pick for CPU embeddings on Lambda. It runs in its own venv
(.venv-peers: ``make bench-sizes`` makes it; it is never in the runtime's or the tests'),
and never downloads here: the artifact's graph is registered as a custom model
(``TextEmbedding.add_custom_model``) and loaded from FASTEMBED_MODEL_DIR, a directory
tools.bench.peers lays out (the artifact's model.onnx, model.onnx.data and tokenizer.json,
linked, plus the tokenizer's config files fastembed requires). Our graph already pools (and
normalises when the model does), so fastembed's pooling is off, it reads the graph's
``sentence_embedding`` and normalises as the manifest says: the same embedding as ours.
Everything else is fastembed's defaults (ORT_ENABLE_ALL graph optimisation at session
creation, its own thread count): what its users get.
"""

import json
import os

from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType

MODEL_DIR = os.environ["FASTEMBED_MODEL_DIR"]
with open(os.path.join(MODEL_DIR, "manifest.json")) as handle:
    SPEC = json.load(handle)["model"]
DIMENSIONS = int(SPEC["dimensions"])
NAME = "local/" + os.path.basename(os.path.normpath(MODEL_DIR))
TextEmbedding.add_custom_model(model=NAME, pooling=PoolingType.DISABLED, normalization=bool(SPEC["normalize"]),
                               sources=ModelSource(hf=NAME), dim=DIMENSIONS, model_file="model.onnx",
                               additional_files=["model.onnx.data"], output_name="sentence_embedding")
model = TextEmbedding(model_name=NAME, specific_model_path=MODEL_DIR)


def handler(event, context):
    vectors = list(model.embed(json.loads(event["body"])["inputs"]))
    return {"statusCode": 200, "body": json.dumps({"outputs": [vector.tolist() for vector in vectors]})}
