"""Every route's response for the real all-MiniLM-L6-v2 is what it was before issue 13's API redesign.

As tests/unit/test_golden_responses.py (which explains the recording), for the real
model: events/*.json and every embedding route's good and bad requests, through
functions/inference/app.py's handler in process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.cases import REAL, replay, serve
from tests.unit.test_golden_responses import check

pytestmark = pytest.mark.integration


def test_every_route_answers_the_real_model_as_before(artifact_dir: Path) -> None:
    check(REAL, replay(serve(artifact_dir, "golden_app_real"), "embeddings", name=REAL, dimensions=384))
