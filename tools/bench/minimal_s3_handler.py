"""The S3 floor: the least an ONNX Runtime handler does to start from a published artifact.

What tools/bench/minimal_handler.py is for bundled files, for S3: the objects ``tools.publish``
wrote (independent zstd frames) fetched by plain parallel ranged GETs (S3_PARALLELISM, 8
like the template's default), each frame decompressed and written in place, then the
session created from the files, as the template does from its /tmp cache. No sha256 of
anything, not even the manifest's (it is read as plain JSON): it is not a handler to
deploy. The bench runs it to give each S3 cold start its own floor at the speed this
storage gives.

    FLOOR_S3_SOURCE=s3://bucket/prefix/name/version/  FLOOR_DIR=/tmp/empty-dir
    (and AWS_ENDPOINT_URL_S3 for a non-AWS endpoint, read by boto3 itself)
"""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import numpy as np
import onnxruntime as ort
import zstandard
from botocore.config import Config
from tokenizers import Tokenizer

PARALLELISM = int(os.environ.get("S3_PARALLELISM", "8"))
BUCKET, _, PREFIX = os.environ["FLOOR_S3_SOURCE"].removeprefix("s3://").partition("/")
TARGET = os.environ["FLOOR_DIR"]
started = time.perf_counter()
client = boto3.client("s3", config=Config(max_pool_connections=PARALLELISM, s3={"addressing_style": "path"}))
manifest = json.loads(client.get_object(Bucket=BUCKET, Key=PREFIX + "manifest.json")["Body"].read())
os.makedirs(TARGET, exist_ok=True)
handles = {}
for entry in manifest["files"]:
    handles[entry["path"]] = os.open(os.path.join(TARGET, entry["path"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(handles[entry["path"]], entry["size"])


def fetch(job):
    path, key, frame = job
    offset, size, _sha256, raw_offset, raw_size = frame[:5]  # a sixth, the frame's BLAKE3, is not checked here
    body = client.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={offset}-{offset + size - 1}")["Body"].read()
    os.pwrite(handles[path], zstandard.ZstdDecompressor().decompress(body, max_output_size=raw_size), raw_offset)
    return size


jobs = [(e["path"], e["compressed"]["key"], frame) for e in manifest["files"] for frame in e["compressed"]["frames"]]
with ThreadPoolExecutor(PARALLELISM) as pool:
    compressed_bytes = sum(pool.map(fetch, jobs))
for handle in handles.values():
    os.close(handle)
fetched_s = time.perf_counter() - started
raw_bytes = sum(e["size"] for e in manifest["files"])
BENCH_STATS = {"fetch_s": fetched_s, "bytes": raw_bytes, "compressed_bytes": compressed_bytes,
               "mib_per_s": raw_bytes / 2**20 / fetched_s}

tokenizer = Tokenizer.from_file(os.path.join(TARGET, "tokenizer.json"))
tokenizer.enable_truncation(max_length=256)
tokenizer.enable_padding()
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # optimised at build time
session = ort.InferenceSession(os.path.join(TARGET, "model.onnx"), options, providers=["CPUExecutionProvider"])
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
