"""`make demo`'s rows as the golden file stores them: what each request answered, not how fast.

``python -m tests.golden.demo --record`` runs the demo (the real model under the Runtime
Interface Emulator behind the local front door) and writes ``demo.json``; the integration
test runs it again and compares. Timings are left out; instance ids become the order in
which each environment first answered ("env-1", "env-2"), so the test still sees that the
warm requests reused the cold one's environment and that premium had its own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tests.golden.cases import _normalise

GOLDEN = Path(__file__).with_name("demo.json")


def normalised_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    environments: dict[str, str] = {}

    def environment(instance: Any) -> Any:
        if not isinstance(instance, str) or instance == "-":
            return instance
        return environments.setdefault(instance, f"env-{len(environments) + 1}")

    return [{"request": row["request"], "status": row["status"], "tier": row["tier"],
             "cold_start": row["cold_start"], "environment": environment(row["instance"]),
             "answer": _normalise(row["answer"])} for row in rows]


def run() -> list[dict[str, Any]]:
    from tools.local.demo import run_demo

    return normalised_rows(run_demo())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help=f"write {GOLDEN.name}")
    args = parser.parse_args()
    rows = run()
    text = json.dumps(rows, indent=1, sort_keys=True) + "\n"
    if args.record:
        GOLDEN.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
