"""Every relative link in the repository's Markdown resolves to a file inside the repository (and to a heading there
when it names one), so a reader of a plain clone can follow each of them.

Links to web addresses are not fetched (no network in the suite); links inside code blocks and code spans are not
links. The checker's own tests below show it fails on a missing file, a missing heading and a path leaving the
repository.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Folders that are not part of the repository's own documents: environments, tools, build output.
SKIP_DIRS = {".git", ".venv", ".bench-venv", ".tools", "node_modules", "site", "dist", "build", ".pytest_cache",
             ".hypothesis", ".mypy_cache", ".ruff_cache", "__pycache__"}

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HTML = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_EXPLICIT_ID = re.compile(r"""<a\s+(?:name|id)\s*=\s*["']([^"']+)["']|\{#([\w-]+)\}""")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_files(root: Path) -> list[Path]:
    """Every .md file of the repository, outside environments and build output."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        found += [Path(folder) / f for f in sorted(files) if f.endswith(".md")]
    return found


def _prose_lines(text: str, *, code_spans: bool = False) -> list[str]:
    """The lines outside fenced code blocks, with code spans blanked out unless ``code_spans``."""
    lines, fence = [], ""
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        lines.append(line if code_spans else _CODE_SPAN.sub("``", line))
    return lines


def link_targets(text: str) -> list[str]:
    """The targets of inline links and images, reference definitions and HTML href/src, in document order."""
    targets = []
    for line in _prose_lines(text):
        targets += _INLINE.findall(line)
        targets += _HTML.findall(line)
        ref = _REFERENCE.match(line)
        if ref:
            targets.append(ref.group(1))
    return targets


def _plain_heading(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    return text.replace("`", "")


def anchors(text: str) -> set[str]:
    """The ids a heading gets on GitHub and in MkDocs (both slug rules, with their -1, -2 suffixes for repeats)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(text, code_spans=True):
        found.update(a or b for a, b in _EXPLICIT_ID.findall(line))
        heading = _HEADING.match(line)
        if not heading:
            continue
        plain = _plain_heading(heading.group(2)).strip().lower()
        github = re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")
        mkdocs = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", plain).strip())
        for slug in {github, mkdocs}:
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(doc: Path, root: Path) -> list[str]:
    """Why each relative link of ``doc`` cannot be followed in a clone of ``root`` (empty when all can)."""
    problems = []
    text = doc.read_text(encoding="utf-8")
    for target in link_targets(text):
        if not target or _SCHEME.match(target):
            continue  # a web address (or mailto:, ...): not checked here
        path, _, fragment = target.partition("#")
        if path.startswith("/"):
            problems.append(f"{target}: an absolute path; link relative to the document")
            continue
        resolved = (doc.parent / path).resolve() if path else doc.resolve()
        try:
            resolved.relative_to(root.resolve())
        except ValueError:
            problems.append(f"{target}: outside the repository")
            continue
        if not resolved.exists():
            problems.append(f"{target}: no such file")
            continue
        site = root.resolve() / "docs"
        if doc.resolve().is_relative_to(site) and not resolved.is_relative_to(site):
            problems.append(f"{target}: outside docs/, which the documentation site does not publish; name the file "
                            "in a code span instead")
            continue
        if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{fragment} in {resolved.relative_to(root.resolve())}")
    return problems


_PARENT_PATH = re.compile(r"(?<![\w./-])((?:\.\./)+[\w.-][\w./-]*)")


def paths_leaving(doc: Path, root: Path) -> list[str]:
    """Paths written in ``doc`` (in prose, code spans or commands) that start with ``../`` and name nothing in the
    repository, read from the document's folder or from the repository root (where its commands run)."""
    leaving = []
    for path in _PARENT_PATH.findall(doc.read_text(encoding="utf-8")):
        homes = [(base / path).resolve() for base in (doc.parent, root)]
        if not any(home.is_relative_to(root.resolve()) and home.exists() for home in homes):
            leaving.append(path)
    return leaving


def test_every_relative_link_in_the_repository_resolves() -> None:
    docs = markdown_files(REPO)
    assert REPO / "README.md" in docs and REPO / "docs" / "design.md" in docs
    problems = [f"{doc.relative_to(REPO)}: {problem}" for doc in docs for problem in broken_links(doc, REPO)]
    assert problems == []


def _nav_pages(nav: object) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(_nav_pages(item) for item in nav)) if nav else set()
    if isinstance(nav, dict):
        return set().union(*(_nav_pages(item) for item in nav.values())) if nav else set()
    return set()


def test_every_page_of_the_documentation_site_is_in_its_nav() -> None:
    """mkdocs.yml lists every docs/ page (``make docs`` refuses a page left out of the nav, and a nav entry naming
    a missing page)."""
    import yaml

    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = _nav_pages(config["nav"])
    pages = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")}
    assert sorted(pages - in_nav) == [], "add these pages to the nav in mkdocs.yml"
    assert sorted(in_nav - pages) == [], "the nav in mkdocs.yml names pages that do not exist"


def test_no_document_names_a_path_outside_the_repository() -> None:
    leaving = [f"{doc.relative_to(REPO)}: {path}" for doc in markdown_files(REPO) for path in paths_leaving(doc, REPO)]
    assert leaving == []


# -- the checker itself ------------------------------------------------------------------------------------------


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text("# Guide\n\n## SNS HTTP(S) subscriptions\n\n## Set-up: `make test`\n")
    (root / "docs" / "plot.png").write_bytes(b"\x89PNG")
    (root / "outside.md").write_text("x")
    return root


def _check(root: Path, body: str) -> list[str]:
    doc = root / "docs" / "page.md"
    doc.write_text(body, encoding="utf-8")
    return broken_links(doc, root)


@pytest.mark.parametrize("body", [
    "[guide](guide.md) and ![plot](plot.png \"a plot\")",
    "[heading](guide.md#sns-https-subscriptions), [code heading](guide.md#set-up-make-test)",
    "[web](https://example.com/x.md) [mail](mailto:a@b.c)",
    "`[not a link](missing.md)`\n\n```\n[not a link](missing.md)\n```\n",
    "[up and back](../docs/guide.md)",
    "# Page\n\n[here](#page)",
])
def test_checker_accepts_links_that_resolve(repo: Path, body: str) -> None:
    assert _check(repo, body) == []


@pytest.mark.parametrize(("body", "why"), [
    ("[missing](missing.md)", "no such file"),
    ("[fixtures](../../elsewhere/samples/aws/sqs.json)", "outside the repository"),
    ("see [arch][a]\n\n[a]: ../../elsewhere/NOTES.md\n", "outside the repository"),
    ("[abs](/work/main/README.md)", "absolute path"),
    ("[anchor](guide.md#no-such-heading)", "no heading #no-such-heading"),
    ('<a href="gone.md">gone</a>', "no such file"),
    ("[a page outside the site](../outside.md)", "outside docs/"),
])
def test_checker_refuses_broken_links(repo: Path, body: str, why: str) -> None:
    problems = _check(repo, body)
    assert len(problems) == 1 and why in problems[0], problems


def test_paths_climbing_out_of_the_repository_are_found(repo: Path) -> None:
    doc = repo / "docs" / "page.md"
    doc.write_text("$ portafunc events decode ../elsewhere/samples/aws/sqs.json\n"
                   "[up](../outside.md) `../docs/guide.md`\n")
    assert paths_leaving(doc, repo) == ["../elsewhere/samples/aws/sqs.json"]
