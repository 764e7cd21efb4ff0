"""The user's pages (README.md, docs/, the notebooks' prose): no dates, no paths outside the repository,
links that resolve, and a package layout list that matches the layering test's floors."""

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_layering import FLOORS, PACKAGE

DOCS = sorted((ROOT / "docs").glob("*.md"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAGES = [ROOT / "README.md", *DOCS, ROOT / "notebooks" / "README.md"]
MEASUREMENTS = ROOT / "docs" / "benchmarks.md"  # measured tables keep the date they were measured

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_YEAR = r"(?:19|20)\d\d"
DATE = re.compile(
    "|".join(
        (
            rf"\b{_YEAR}-(?:0[1-9]|1[0-2])(?:-\d\d)?\b",  # 2026-12-06, 2026-12
            rf"\b\d{{1,2}}/\d{{1,2}}/{_YEAR}\b",  # 12/06/2026
            rf"\b{_MONTH}\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?{_YEAR}\b",  # Dec 2026, December 6, 2026
            rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+{_YEAR}\b",  # 6 December 2026
        )
    )
)
OUTSIDE = re.compile(r"/work/|\bshared/|\.\./")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _markdown(path: Path) -> str:
    """A page's text; for a notebook, its markdown cells."""
    if path.suffix != ".ipynb":
        return path.read_text()
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _dates(text: str) -> list[str]:
    return [match.group(0) for match in DATE.finditer(text)]


def _outside_paths(text: str, folder: Path) -> list[str]:
    """Mentions of paths outside the repository; a link whose relative target stays inside it is fine."""
    inside = set()
    for match in LINK.finditer(text):
        target = match.group(1).split("#")[0]
        if target and "://" not in target:
            resolved = (folder / target).resolve()
            if resolved.is_relative_to(ROOT) and resolved.exists():
                inside.add(match.span(1))
    return [
        text[max(0, m.start() - 20) : m.end() + 20]
        for m in OUTSIDE.finditer(text)
        if not any(start <= m.start() < end for start, end in inside)
    ]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize(
    "path", [p for p in PAGES if p != MEASUREMENTS], ids=lambda p: str(p.relative_to(ROOT))
)
def test_user_pages_mention_no_date(path):
    assert _dates(_markdown(path)) == []


@pytest.mark.parametrize("path", [*PAGES, *NOTEBOOKS], ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_name_no_path_outside_the_repository(path):
    assert _outside_paths(_markdown(path), path.parent) == []


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_reach_a_file_and_its_heading(path):
    for target in LINK.findall(_markdown(path)):
        if "://" in target or target.startswith("mailto:"):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.exists(), f"{path.name}: {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{path.name}: {target}"


def test_the_checks_catch_what_they_are_for():
    """The patterns find the dates and paths the pages once held, and let ordinary text through."""
    dated = "measured 2026-12-02; on 2026-12 runs; Dec 6, 2026; 6 December 2026; 12/06/2026"
    assert len(_dates(dated)) == 5
    assert _dates("Pierzchlewicz et al. 2022, TF 2.21, 1.56 M poses, S9, batch 1024, 12-06") == []
    for outside in ("`--data-dir ../shared/data/cmu`", "/work/meas", "shared/data", "[x](../../y)"):
        assert _outside_paths(outside, ROOT / "docs"), outside
    assert _outside_paths("[the README](../README.md#install)", ROOT / "docs") == []


def _layout_floors(text: str) -> list[set[str]]:
    """The numbered lines of the package layout block: floor number -> module names listed."""
    block = text.split("## Package layout", 1)[1].split("```", 2)[1]
    floors: dict[int, set[str]] = {}
    floor = None
    for line in block.splitlines():
        match = re.match(r"^  (\d)  (.*)$", line) or re.match(r"^     (\S.*)$", line)
        if not match:
            floor = None
            continue
        if len(match.groups()) == 2:
            floor = int(match.group(1))
            names = match.group(2)
        elif floor is None:
            continue
        else:
            names = match.group(1)
        column = re.split(r"\s{2,}", names.strip())[0]
        floors.setdefault(floor, set()).update(re.findall(r"\b([a-z_]+)(?:\.py|/)(?=\s|$)", column))
    return [floors[level] for level in sorted(floors)]


def test_the_layout_list_matches_the_layering_floors():
    listed = _layout_floors((ROOT / "docs" / "architecture.md").read_text())
    assert listed == [set(names) for names in FLOORS]
    for names in listed:
        for name in names:
            assert (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name).is_dir(), name


def test_the_readme_is_a_short_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_the_training_settings_table_is_the_config_fields_own():
    """docs/training.md holds `fields_markdown()` verbatim: one text per field, in the docs as in --help."""
    from graphmdn_tf.config import fields_markdown

    page = (ROOT / "docs" / "training.md").read_text()
    table = page.split("<!-- fields_markdown: start -->\n")[1].split(
        "<!-- fields_markdown: end -->"
    )[0]
    assert table == fields_markdown().rstrip() + "\n"
