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


def test_callouts_keep_the_page_font_not_bootstrap_italia_s_serif() -> None:
    """Bootstrap Italia sets `.callout p` in Lora (serif): the result of «Verifica il
    servizio», the estimate before a send and every other callout's paragraphs differed from
    the page. The portal's stylesheet, loaded after it, gives them the page's font, for every
    callout at once (no template works around it paragraph by paragraph)."""
    base = (ROOT / "templates/base.html").read_text()
    assert base.index("bootstrap-italia") < base.index("css/ioportal.css")
    css = (ROOT / "static/css/ioportal.css").read_text()
    rule = re.search(r"(?m)^\.callout p\s*\{([^}]*)\}", css)
    assert rule is not None and "font-family: inherit" in rule.group(1)
    patched = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if "font-sans-serif" in path.read_text()
    ]
    assert not patched, patched
