"""Placeholders are filled by plain substitution; the preview follows IO's markdown subset."""

from django.utils import translation

from ioportal.messaging.preview import content_warnings, cta_check, render_preview
from ioportal.recipients.rendering import placeholder_names, render


def test_values_are_sent_literally():
    text = render("Ciao {{ nome }} e {{nome}}", {"nome": "{{ x }} {% csrf_token %} <b>"})
    assert text == "Ciao {{ x }} {% csrf_token %} <b> e {{ x }} {% csrf_token %} <b>"


def test_unknown_placeholders_stay():
    assert render("{{ a }} {{ b }}", {"a": "1"}, known=["a"]) == "1 {{ b }}"
    assert render("{{ a }}", {}, known=["a"]) == ""


def test_placeholder_names_in_order():
    assert placeholder_names("{{ b }} {{a}}", "{{ b }} {{ c_1 }}") == ["b", "a", "c_1"]


def test_preview_escapes_html_and_renders_io_subset():
    preview = render_preview(
        subject="Oggetto 😀",
        markdown="# Titolo\n\n**grassetto** *corsivo* <script>x</script>\n\n- uno\n- due",
    )
    assert "<h1>Titolo</h1>" in preview.html and "<strong>grassetto</strong>" in preview.html
    assert "<script>" not in preview.html and "&lt;script&gt;" in preview.html
    assert "<li>uno</li>" in preview.html
    assert preview.subject_length == 10  # the emoji counts 2, as in IO


def test_cta_front_matter_becomes_buttons():
    markdown = "---\nit:\n  cta_1:\n    text: Prenota\n    action: ioit://PROFILE\n---\nTesto"
    preview = render_preview(subject="Oggetto lungo", markdown=markdown)
    assert preview.buttons == [{"text": "Prenota", "action": "ioit://PROFILE"}]
    assert "cta_1" not in preview.html


def test_warning_placeholder_in_subject():
    warnings = content_warnings(subject="Per {{ nome }}", markdown="x")
    assert any("L'oggetto contiene segnaposto («nome»)" in w for w in warnings)


def test_warning_fiscal_code_and_amount_in_subject():
    warnings = content_warnings(subject="RSSMRA85T10A562S deve 12,50 €", markdown="x")
    assert any("codice fiscale" in w for w in warnings)
    assert any("importo" in w for w in warnings)


def test_warning_identical_text_to_many():
    warnings = content_warnings(subject="Avviso generico", markdown="Testo uguale", recipients=50)
    assert any("comunicazioni massive" in w for w in warnings)
    assert not content_warnings(subject="Avviso generico", markdown="{{ nome }}", recipients=50)


def test_identical_text_counts_as_the_pages_count():
    """The list's citizens grouped by thousands as on the list's other counts; no list, no
    number."""
    with translation.override("it"):
        (many,) = content_warnings(subject="Avviso generico", markdown="Testo", recipients=12_000)
        (alone,) = content_warnings(subject="Avviso generico", markdown="Testo")
    assert "va a 12.000 cittadini" in many
    assert alone.startswith("Il testo non ha segnaposto") and not any(c.isdigit() for c in alone)


def test_warning_links_and_unsupported_markdown():
    warnings = content_warnings(
        subject="Avviso", markdown="Vedi https://x.it ![img](a.png)\n\n| a | b |\n\n> citazione"
    )
    assert any("link" in w for w in warnings)
    assert any("immagini" in w and "tabelle" in w and "citazioni" in w for w in warnings)


def test_warning_cta_and_bad_action():
    markdown = (
        "---\nit:\n  cta_1:\n    text: Vai\n    action: https://x.it\n"
        "  cta_2:\n    text: Apri\n    action: ioit://PROFILE_MAIN\n---\nTesto"
    )
    warnings = content_warnings(subject="Avviso", markdown=markdown)
    assert any("pulsanti (CTA)" in w for w in warnings)
    assert any("Il pulsante «Vai» non ha un'azione IO valida" in w for w in warnings)


def test_no_valid_action_means_no_button():
    markdown = "---\nit:\n  cta_1:\n    text: Vai\n    action: https://x.it\n---\nTesto"
    check = cta_check(markdown)
    assert check.buttons == {}
    assert any("nessun pulsante ha un'azione" in e for e in check.errors)
