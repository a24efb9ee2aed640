"""`make demo` answers as it did before the redesign (issue 13): the same rows, the same bodies.

GIVEN the demo's rows recorded from the code before the redesign (tests/golden/demo.json,
``python -m tests.golden.demo --record``), WHEN the demo runs on this tree, THEN every
request gets the same status, tier, cold-start flag, environment reuse and body (floats
within the golden files' tolerance; timings are not compared).
"""

from __future__ import annotations

import json

import pytest

from tests.golden.cases import differences
from tests.golden.demo import GOLDEN, run

pytestmark = pytest.mark.integration


def test_the_demo_answers_as_recorded() -> None:
    expected = json.loads(GOLDEN.read_text())
    actual = json.loads(json.dumps(run()))  # the same JSON round trip the recording made
    assert differences(expected, actual, "demo") == []
