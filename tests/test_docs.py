"""The README stays the newcomer's page and every link in the docs lands: pages, anchors, and no hand-kept counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.__main__ import VERBS
from settings.stacks import PROJECT_DIR

README = PROJECT_DIR / "README.md"
DOCS = sorted((PROJECT_DIR / "docs").glob("*.md"))
README_MAX_LINES = 200
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A number of tests, registrations or resources typed by hand goes stale with the next change; the commands print
# them (`python -m infra plan` per stack, pytest at the end of a run).
HAND_COUNT = re.compile(r"\b\d[\d,]* (?:AWS |Vercel |GitHub )?(?:tests|registrations|resources|to create)\b")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {_anchor(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans: a regex's `](` is no link
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def test_the_readme_is_a_page_a_newcomer_reads_in_five_minutes() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move reference material into docs/"


def test_ci_runs_the_readmes_test_command() -> None:
    readme = README.read_text(encoding="utf-8")
    ci = (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert re.search(r"^make test\b", readme, re.M), "README.md must give `make test` as the test command"
    assert "make test" in ci, ".ci/run must run the README's test command, `make test`"


@pytest.mark.parametrize("page", DOCS, ids=lambda page: page.name)
def test_the_readme_links_every_docs_page(page: Path) -> None:
    assert f"docs/{page.name}" in _links(README), f"README.md's 'Where to read on' table lacks docs/{page.name}"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda page: page.name)
def test_every_relative_link_lands(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        landing = (page.parent / path).resolve() if path else page
        if not landing.exists():
            broken.append(f"{target}: no such file")
        elif anchor and landing.suffix == ".md" and anchor not in _anchors(landing):
            broken.append(f"{target}: no heading with that anchor in {landing.name}")
    assert not broken, f"{page.name} links nowhere: {broken}"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda page: page.name)
def test_no_page_keeps_a_count_by_hand(page: Path) -> None:
    found = HAND_COUNT.findall(page.read_text(encoding="utf-8"))
    assert not found, f"{page.name} states counts by hand ({found}); point at the command that prints them"


def test_the_verbs_table_lists_every_verb_the_cli_dispatches() -> None:
    page = (PROJECT_DIR / "docs" / "offline-tooling.md").read_text(encoding="utf-8")
    section = page.split("## The verbs", 1)[1].split("\n## ", 1)[0]
    documented = [row.split("`")[1].split()[0] for row in section.splitlines() if row.startswith("| `")]
    assert documented == list(VERBS), f"docs/offline-tooling.md lists verbs {documented}, the CLI has {list(VERBS)}"
