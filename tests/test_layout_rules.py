"""Layout rules checked on the sources: badge colours with enough contrast (WCAG 2.1 AA,
4.5:1) and the dispatch page's outcome bar as wide as the progress bar above it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_dark_text_on_the_dark_warning_background() -> None:
    # Bootstrap Italia's warning background is a dark orange (hsl(36, 100%, 24-30%)): dark
    # text on it is about 2:1, white text 4.9:1 or more.
    offending = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if re.search(r"bg-warning[^\"']*text-dark|text-dark[^\"']*bg-warning", path.read_text())
    ]
    assert not offending, offending


def test_the_outcome_bar_is_not_narrower_than_the_progress_bar() -> None:
    css = (ROOT / "static/css/sending.css").read_text()
    rule = re.search(r"\.outcome-bar\s*\{([^}]*)\}", css)
    assert rule is not None
    assert "max-width" not in rule.group(1)


def test_the_callouts_before_the_estimate_keep_their_distance() -> None:
    confirm = (ROOT / "templates/messaging/list_confirm.html").read_text()
    assert re.search(r'class="callout[^"]*\bmt-4\b[^"]*" id="stima-invio"', confirm)
    repeated = (ROOT / "templates/messaging/_repeated.html").read_text()
    assert re.search(r'class="callout warning[^"]*\bmb-4\b', repeated)


def test_card_texts_keep_the_page_font_not_bootstrap_italia_s_serif() -> None:
    """Bootstrap Italia sets `.card .card-body .card-text` in Lora (serif); the dashboard's
    cards with a `card-text` paragraph ("Messaggi", "Registro attività") then differed from
    the others. The portal's stylesheet, loaded after it, gives them the page's font."""
    base = (ROOT / "templates/base.html").read_text()
    assert base.index("bootstrap-italia") < base.index("css/ioportal.css")
    css = (ROOT / "static/css/ioportal.css").read_text()
    rule = re.search(r"\.card \.card-body \.card-text\s*\{([^}]*)\}", css)
    assert rule is not None and "font-family: inherit" in rule.group(1)


def test_the_estimate_keeps_the_page_font_not_the_callout_s_serif() -> None:
    """Bootstrap Italia writes a callout's paragraphs in Lora (serif): the estimate on the
    confirmation page takes the page's font with Bootstrap Italia's `font-sans-serif`."""
    confirm = (ROOT / "templates/messaging/list_confirm.html").read_text()
    start = confirm.index('id="stima-invio"')
    callout = confirm[start : confirm.index("\n</div>", start)]
    paragraphs = re.findall(r"<p\b[^>]*>", callout)
    assert len(paragraphs) >= 4
    assert all("font-sans-serif" in p for p in paragraphs), paragraphs
