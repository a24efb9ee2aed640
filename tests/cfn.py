"""Offline CloudFormation for the template tests: the helpers live in tools/template/cfn.py.

They moved there so that tools (tools/cost) translate and evaluate the template the same way
the tests do; this module keeps the tests' import path (``from tests.cfn import ...``).
"""

from __future__ import annotations

from typing import Any

from tools.template.cfn import (
    IMAGE_URI,
    LAYER_URI,
    REQUIRED,
    Evaluator,
    Stack,
    parameter_values,
    source_template,
    translate,
)

__all__ = ["IMAGE_URI", "LAYER_URI", "REQUIRED", "Evaluator", "Stack", "deployed", "parameter_values",
           "source_template", "translate"]


def deployed(source: dict[str, Any], **overrides: str) -> tuple[dict[str, Any], Evaluator]:
    """The translated template for these parameter values, and an evaluator of its conditions and Rules."""
    params = parameter_values(source, **overrides)
    template = translate(params)
    return template, Evaluator(template, params)
