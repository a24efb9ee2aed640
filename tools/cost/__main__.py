"""python -m tools.cost [--preset NAME ...] [--param Key=Value ...]: idle cost tables in markdown."""

from __future__ import annotations

import argparse
import logging
import sys

from . import PRESETS, TEMPLATES, estimate, load_prices
from .model import Estimate


def render(title: str, result: Estimate, overrides: dict[str, str]) -> str:
    changed = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "template defaults"
    rows = [f"### {title}: {changed}", "", "| resource | what idles | USD/month |", "|---|---|---:|"]
    rows += [f"| {line.resource} | {line.idles} | {line.usd:.2f} |" for line in result.lines]
    rows.append(f"| **total** | | **{result.total:.2f}** |")
    rows.append(f"| total less the always-free tiers (CloudWatch, Lambda), if nothing else in the account uses them "
                f"| | {result.total - result.free_tier_usd:.2f} |")
    for refusal in result.refused:
        rows.append(f"\nWARNING: the template's Rules refuse this parameter set: {refusal}")
    if result.unpriced:
        rows.append(f"\nNot priced (no rule for it in tools/cost): {'; '.join(result.unpriced)}")
    return "\n".join(rows)


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected Key=Value, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__)
    parser.add_argument("--preset", action="append", choices=sorted(PRESETS),
                        help="a parameter set of issue 14 (repeatable; default: defaults, unless --param is given)")
    parser.add_argument("--param", action="append", type=_pair, default=[], metavar="Key=Value",
                        help="a template parameter, on top of the preset (repeatable)")
    args = parser.parse_args(argv)
    # samtranslator logs feature-toggle and metrics notices at WARNING for every translation;
    # they say nothing about the cost and would interleave with the tables.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    presets = args.preset or ([] if args.param else ["defaults"])
    runs = [(name, {**PRESETS[name], **dict(args.param)}) for name in presets] or [("custom", dict(args.param))]
    prices = load_prices()
    print(f"Monthly idle cost, {prices['region']}, prices of {prices['date']} (tools/cost/prices-us-east-1.json)\n")
    for name, overrides in runs:
        try:
            result = estimate(overrides, prices=prices, template=TEMPLATES.get(name))
        except ValueError as error:
            print(f"tools.cost: {error}", file=sys.stderr)
            return 2
        print(render(name, result, overrides) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
