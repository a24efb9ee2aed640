"""The cost tables of README.md and docs/deploy.md, written from `make cost`'s own figures.

Issue 14: the README's cost table is the tool's output, not figures typed by hand. The tables
sit between ``<!-- make cost: NAME -->`` and ``<!-- /make cost -->`` markers;
``python -m tools.docs_costs --write`` rewrites them, and tests/unit/test_docs.py fails
while they differ from what the tool computes for the committed template.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

from tools.cost import PRESETS, TEMPLATES, estimate, load_prices
from tools.cost.__main__ import render

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"presets": ROOT / "README.md", "defaults": ROOT / "docs" / "deploy.md"}
LABELS = {
    "defaults": "defaults (premium and GPU closed, no provisioned concurrency)",
    "premium-open": "premium open to a source range, 2 provisioned environments",
    "snapstart": "the standard tier on SnapStart",
    "gpu": "the GPU tier on",
    "rag": "the RAG example: an embedder and a reranker ([docs/rag.md](docs/rag.md))",
}


def tables() -> dict[str, str]:
    """Each marked table's Markdown, computed now."""
    # samtranslator logs notices at WARNING for every translation; they say nothing about cost.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    prices = load_prices()
    rows = ["| stack | parameters | USD a month, idle |", "|---|---|---:|"]
    for name, label in LABELS.items():
        params = ", ".join(f"`{k}={v}`" for k, v in PRESETS[name].items()) or "none"
        result = estimate(PRESETS[name], prices=prices, template=TEMPLATES.get(name))
        rows.append(f"| {label} | {params} | {result.total:.2f} |")
    defaults = render("defaults", estimate(PRESETS["defaults"], prices=prices), PRESETS["defaults"])
    return {"presets": "\n".join(rows), "defaults": defaults}


def _marked(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- make cost: {name} -->\n)(.*?)(\n<!-- /make cost -->)", flags=re.S)


def written(name: str) -> str | None:
    """The table as the page holds it now (None: the page has no such marker)."""
    match = _marked(name).search(PAGES[name].read_text())
    return match.group(2) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the marked tables in place")
    args = parser.parse_args(argv)
    for name, table in tables().items():
        if args.write:
            page = PAGES[name]
            text = page.read_text()
            match = _marked(name).search(text)
            if match is None:
                raise SystemExit(f"{page} has no <!-- make cost: {name} --> marker")
            page.write_text(text[:match.start(2)] + table + text[match.end(2):])
        print(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
