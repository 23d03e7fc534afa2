"""Links between the documentation's pages point at files that exist, and anchors at headings that exist;
the README's headline figures are the generated results page's."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
# Pages that other parts of the project add (the guide to extending ganlab, the contributor's guide).
WRITTEN_ELSEWHERE = {ROOT / "CONTRIBUTING.md"}


def slug(heading: str) -> str:
    """The anchor a code host gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def links(path: Path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"https?://", target):
            yield target


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(ROOT)) for d in DOCUMENTS])
def test_links_resolve(document):
    for target in links(document):
        file, _, anchor = target.partition("#")
        path = (document.parent / file).resolve() if file else document
        if path in WRITTEN_ELSEWHERE:
            continue
        assert path.exists(), f"{document.relative_to(ROOT)}: link to {target}: no such file"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{document.relative_to(ROOT)}: link to {target}: no such heading"


def test_slug():
    assert slug(" PacGAN's Table 1: mode collapse on 2-D mixtures") == "pacgans-table-1-mode-collapse-on-2-d-mixtures"
    assert slug("Loss x conditioning on MNIST (`make quality`)") == "loss-x-conditioning-on-mnist-make-quality"


def test_readme_headline_figures_are_the_results_pages():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Headline results", 1)[1].split("\n## ", 1)[0]
    figures = re.findall(r"\d[\d.]* \+- [\d.]+", section)
    assert figures, "the README's headline table shows no mean +- sd"
    results = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    for figure in figures:
        assert f"| {figure} |" in results, f"README headline {figure} is not a row of docs/results.md"


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200
