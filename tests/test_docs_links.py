"""The documentation's links lead somewhere: every relative link of every Markdown file of the
repository names a file that exists and, with ``#anchor``, a heading of that file (as GitHub
makes anchors of headings); and the index of docs/, docs/README.md, lists every page of it.

Links in code (fenced blocks and inline code) are not links; links to other sites are not
fetched.
"""

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.helpers.processes import ROOT

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
OTHER_SITE = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto: ...


def markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def prose(text: str) -> str:
    """The text without its code: fenced blocks and inline code."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, links reduced to their text, everything but
    letters, digits, spaces, hyphens and underscores dropped, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of a Markdown file, a repeated heading's as GitHub numbers it."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = anchor(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in LINK.findall(prose(path.read_text())):
        if OTHER_SITE.match(target):
            continue
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}: ({target})"
        if not linked.exists():
            problems.append(f"{where}: no such file")
        elif fragment and linked.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not Markdown")
        elif fragment and unquote(fragment) not in anchors(linked):
            problems.append(f"{where}: no heading makes the anchor #{fragment}")
    return problems


def test_the_checker_reads_links_and_anchors_as_github_does(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Moving a Motia project here\n\n## `config.yaml`: what it becomes\n\n"
        "## Tests\n\n## Tests\n\n```python\n# settings.py\n```\n"
    )
    assert anchors(page) == {
        "moving-a-motia-project-here",
        "configyaml-what-it-becomes",
        "tests",
        "tests-1",
    }
    code = "see [a](a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n"
    assert LINK.findall(prose(code)) == ["a.md"]
    assert LINK.findall('[x](y.md#z "title") ![i](img.png) <https://e.org>') == [
        "y.md#z",
        "img.png",
    ]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_index_of_docs_lists_every_page() -> None:
    index = (ROOT / "docs" / "README.md").read_text()
    linked = set(LINK.findall(prose(index)))
    pages = {page.name for page in (ROOT / "docs").glob("*.md") if page.name != "README.md"}
    assert sorted(pages - linked) == []
