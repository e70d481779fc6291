"""Every relative link and anchor in the README, docs/ and the packages' READMEs resolves."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")


def markdown_files() -> list[Path]:
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for pattern in ("plugins/*/README.md", "examples/*/README.md"):
        files += sorted(REPO.glob(pattern))
    return [f for f in files if f.is_file()]


def prose_lines(text: str, *, keep_code: bool = False) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, with their numbers (inline code removed unless kept)."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line if keep_code else re.sub(r"`[^`]*`", "", line)))
    return out


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8"), keep_code=True):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = github_anchor(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def test_every_relative_link_and_anchor_resolves():
    broken = []
    checked = 0
    for source in markdown_files():
        for number, line in prose_lines(source.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                checked += 1
                path_part, _, anchor = target.partition("#")
                resolved = (source.parent / path_part).resolve() if path_part else source
                where = f"{source.relative_to(REPO)}:{number}: {target}"
                if not resolved.exists():
                    broken.append(f"{where} (no such file)")
                elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                    broken.append(f"{where} (no heading with anchor #{anchor})")
    assert checked > 20, "the link checker found almost no links: is the pattern wrong?"
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_anchor_rules_match_github():
    assert github_anchor("Spec files & secrets") == "spec-files--secrets"
    assert github_anchor("`embedspec serve`: OpenAI-compatible") == "embedspec-serve-openai-compatible"
    assert github_anchor("The two commands (each does all set-up)") == "the-two-commands-each-does-all-set-up"
    assert github_anchor("Index search (`benchmarks/index_search.py`)") == "index-search-benchmarksindex_searchpy"
