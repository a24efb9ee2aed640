"""Write the API's OpenAPI 3.1 document, generated from ``inference_runtime/api/table.py``.

    python -m tools.openapi                 # print it
    python -m tools.openapi -o docs/openapi.json
    python -m tools.openapi --check docs/openapi.json   # exit 1 if the file is out of date

This is the generic document (no model: every route, every task's schema, the default
limits MAX_INPUTS, MAX_INPUT_CHARS and MAX_WARM_HOLD_MS). A running deployment serves its
own at ``GET /openapi.json``, with its model's name, task and dimensions and its limits.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference_runtime.api.model import Limits
from inference_runtime.api.openapi import openapi_document
from inference_runtime.config import RuntimeConfig


def render() -> str:
    """The generic document as the file holds it: sorted keys, two-space indent, a final newline."""
    document = openapi_document(Limits.from_config(RuntimeConfig.from_env({})))
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, help="write the document here instead of stdout")
    parser.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE differs from the document")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.check.is_file() or args.check.read_text(encoding="utf-8") != text:
            print(f"{args.check} is out of date; regenerate it with: python -m tools.openapi -o {args.check}",
                  file=sys.stderr)
            return 1
        return 0
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_suffix(args.output.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.output)  # atomic: a reader never sees half a document
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
