"""`make cost`: the monthly idle cost of the stack per resource, from the translated template.

``estimate(overrides)`` -> ``Estimate`` (lines and total); ``python -m tools.cost`` prints the
tables. Prices and every assumption: ``prices-us-east-1.json`` (dated, with sources).
"""

from __future__ import annotations

from pathlib import Path

from .model import PRICE_FILE, Estimate, Line, estimate, load_prices

#: The parameter sets issue 14 asks to see, on top of the template's defaults. Premium is
#: opened by a source CIDR: a token would need HTTPS (Rule PremiumTokenNeedsHttps).
PRESETS: dict[str, dict[str, str]] = {
    "defaults": {},
    "premium-open": {"PremiumAllowedCidr": "203.0.113.0/24", "PremiumProvisionedConcurrency": "2"},
    "snapstart": {"StandardSnapStart": "true"},
    "gpu": {"GpuTier": "true", "GpuSubnetIds": "subnet-0ccc,subnet-0ddd"},
    "rag": {},
}
#: Presets priced on a generated template instead of template.yaml (issue 15's RAG example).
TEMPLATES: dict[str, Path] = {"rag": Path(__file__).resolve().parents[2] / "examples" / "rag" / "template.yaml"}

__all__ = ["PRESETS", "PRICE_FILE", "TEMPLATES", "Estimate", "Line", "estimate", "load_prices"]
