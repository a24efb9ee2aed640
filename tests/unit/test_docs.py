"""The README stays a ten-minute read, and no link in it or in docs/ leads nowhere.

A page moved or a heading renamed breaks links silently on GitHub; these tests read the
Markdown as GitHub renders it (links outside code, headings turned into anchors) and fail
on the first link whose file or heading is gone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

from tests.helpers import REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
MAX_README_LINES = 400

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", flags=re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", flags=re.M)


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _without_code(text: str) -> str:
    # Links and headings inside code blocks are not rendered as such ("# a shell comment").
    return _FENCE.sub("", text)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 suffixes on repeats."""
    seen: dict[str, int] = {}
    found = set()
    for match in _HEADING.finditer(_without_code(path.read_text())):
        base = anchor(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    """The targets of the links GitHub renders, other than to the web or mail."""
    text = _INLINE_CODE.sub("", _without_code(path.read_text()))
    return [target for target in _LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def broken_links(path: Path) -> list[str]:
    """Each relative link of ``path`` whose file does not exist, or whose anchor is not a heading there."""
    broken = []
    for target in relative_links(path):
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no such heading")
    return broken


def test_the_readme_is_a_ten_minute_read() -> None:
    lines = README.read_text().count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move the depth to a docs/ page and link it"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_reaches_a_file_and_heading(path: Path) -> None:
    assert broken_links(path) == []


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README)}
    unlinked = [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert unlinked == [], "docs pages the README does not link"


def test_the_readme_route_table_names_the_documented_routes() -> None:
    # GIVEN the README's table of routes and the OpenAPI document generated from the route table
    readme = README.read_text()
    table = readme[readme.index("| method | path | what for |"):].split("\n\n", 1)[0]
    rows = {(m, p) for m, p in re.findall(r"^\| `([A-Z]+)` \| `([^`]+)` \|", table, flags=re.M)}
    spec = json.loads((DOCS / "openapi.json").read_text())
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    # THEN a route added or removed shows in the README as a row
    assert rows == documented


def _table(heading_row: str) -> list[str]:
    """The body rows of the README table that starts with ``heading_row``."""
    readme = README.read_text()
    return readme[readme.index(heading_row):].split("\n\n", 1)[0].splitlines()[2:]


def _first_column_names(rows: list[str], pattern: str) -> set[str]:
    return {name for row in rows for name in re.findall(pattern, row.split("|")[1])}


def test_the_readme_parameter_table_names_every_template_parameter() -> None:
    # GIVEN the template's parameters and the names in the first column of the README's table
    template = cfn_yaml.load(str(REPO_ROOT / "template.yaml"))
    documented = _first_column_names(_table("| parameter | default | meaning |"), r"`([A-Za-z0-9]+)`")
    # THEN a parameter added or removed shows in the README as a row
    assert documented == set(template["Parameters"])


def test_the_readme_environment_table_names_every_variable() -> None:
    # GIVEN every variable name the shared core defines, and the README's table
    from lambda_shared import env

    named = {value for key, value in vars(env).items() if key.isupper() and isinstance(value, str)}
    documented = _first_column_names(_table("| variable | function |"), r"`([A-Z0-9_]+)`")
    # THEN each is documented; the table adds only boto3's own endpoint variable, which the
    # local tools set and no code of ours reads
    assert documented - named == {"AWS_ENDPOINT_URL_S3"}
    assert named - documented == set()


# --- the checker itself finds what it is meant to find -------------------------------------------

def test_the_checker_reports_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    # GIVEN a page with a good link, a link to a missing file, a link to a missing heading, a link
    # inside code (not rendered) and a web link
    (tmp_path / "other.md").write_text("# Other\n\n## The `make serve` way: both tiers\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#the-make-serve-way-both-tiers) [self](#page) [web](https://example.com)\n"
        "[gone](missing.md) [no heading](other.md#nowhere) `[code](missing-too.md)`\n\n"
        "```\n[in a block](missing-three.md)\n# not a heading\n```\n")
    # WHEN its links are checked THEN exactly the two broken ones are reported
    assert broken_links(page) == ["missing.md: no such file", "other.md#nowhere: no such heading"]


def test_repeated_headings_get_numbered_anchors(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A\n\n## Limits\n\n## Limits\n\n### OpenAI's API: `POST /v1/embeddings`\n")
    assert anchors(page) == {"a", "limits", "limits-1", "openais-api-post-v1embeddings"}


@pytest.mark.parametrize("name", ["presets", "defaults"])
def test_the_cost_tables_are_make_costs_output(name: str) -> None:
    # GIVEN the cost tables the README and docs/deploy.md show WHEN tools.cost prices the committed
    # template again THEN they are what it computes (python -m tools.docs_costs --write rewrites them)
    from tools import docs_costs

    assert docs_costs.written(name) == docs_costs.tables()[name], "run: python -m tools.docs_costs --write"
