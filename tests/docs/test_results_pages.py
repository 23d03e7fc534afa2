"""docs/results.md and docs/reproductions.md are what `python -m ganlab.results` makes of results/: a
record added without regenerating the pages (or a page edited by hand) fails here."""
from pathlib import Path

from ganlab.results_pages import render

ROOT = Path(__file__).resolve().parents[2]


def test_results_pages_are_up_to_date():
    for name, text in render(ROOT / "results").items():
        page = ROOT / "docs" / name
        assert page.is_file(), f"{page} is missing: run `python -m ganlab.results` (make results)"
        assert page.read_text(encoding="utf-8") == text, (
            f"{page} is out of date with results/: run `python -m ganlab.results` (make results) and commit it")
