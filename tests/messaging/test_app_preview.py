"""The preview follows the IO app: `<br>` and line breaks, CTA front matter as the app reads it."""

import html
from pathlib import Path

import pytest
from django.urls import reverse

from ioportal.messaging.models import MessageTemplate
from ioportal.messaging.preview import cta_check, render_preview
from tests.messaging.conftest import phone_body

CASES = Path(__file__).resolve().parent.parent / "cases" / "import"
EN_MISSING = "chi ha l'app IO in inglese non vede alcun pulsante"
CTA2_ALONE = "c'è cta_2 senza cta_1: l'app IO non mostra alcun pulsante"
TEXT = "Gentile cittadino, la sua carta d'identità scade il 31/12/2026. Prenoti l'appuntamento."


def case(name: str) -> str:
    return (CASES / name).read_text(encoding="utf-8")


def cta(language: str, *keys: str, action: str = "ioit://PROFILE_MAIN") -> str:
    lines = [f"{language}:"]
    for key in keys:
        lines += [f"    {key}:", '        text: "Prenota"', f'        action: "{action}"']
    return "\n".join(lines)


def template_data(markdown: str) -> dict[str, str]:
    return {
        "name": "Carta d'identità",
        "subject": "Carta d'identità in scadenza",
        "markdown": markdown,
        "feature_level": "standard",
        "ph-TOTAL_FORMS": "0",
        "ph-INITIAL_FORMS": "0",
        "ph-MIN_NUM_FORMS": "0",
        "ph-MAX_NUM_FORMS": "1000",
    }


def test_br_tags_are_line_breaks_as_in_the_app():
    preview = render_preview(subject="Carta d'identità", markdown=case("preview_br_tags.md"))
    assert preview.html == (
        "<p>Gentile cittadino,<br>\nla sua carta d'identità scade il 31/12/2026.<br>\n<br>\n"
        "Ufficio Anagrafe<br>\nVia Roma 1<br>\n10098 Rivoli (TO)</p>\n"
    )
    assert not preview.notes


def test_soft_line_breaks_show_as_line_breaks():
    preview = render_preview(subject="Oggetto", markdown="Riga uno\nRiga due\n\nAltro")
    assert preview.html == "<p>Riga uno<br>\nRiga due</p>\n<p>Altro</p>\n"


def test_other_html_shows_as_text():
    preview = render_preview(subject="Oggetto", markdown="Un <b>tag</b> e <BR >fine")
    assert preview.html == "<p>Un &lt;b&gt;tag&lt;/b&gt; e <br>\nfine</p>\n"


def test_template_preview_shows_br_as_line_breaks(client, login, operator_user):
    login(operator_user)
    response = client.post(
        reverse("messaging:template_create"), template_data(case("preview_br_tags.md"))
    )
    assert response.status_code == 302
    body = phone_body(client.get(response.url))
    assert "Ufficio Anagrafe<br>\nVia Roma 1<br>" in body
    assert "&lt;br" not in body


def test_italian_only_cta_warns_about_english_apps():
    check = cta_check(case("preview_cta_italian_only.md"))
    assert not check.errors
    assert list(check.buttons) == ["it"]
    assert any(EN_MISSING in w for w in check.warnings)
    preview = render_preview(subject="Oggetto", markdown=case("preview_cta_italian_only.md"))
    assert [b["text"] for b in preview.buttons] == ["Prenota appuntamento"]
    assert any(EN_MISSING in note for note in preview.notes)
    assert "cta_1" not in preview.html


def test_italian_only_cta_over_http(client, login, operator_user):
    login(operator_user)
    response = client.post(
        reverse("messaging:template_create"), template_data(case("preview_cta_italian_only.md"))
    )
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Prenota appuntamento</span>" in page
    # Listed once: by the phone, not again among the checks on the content.
    assert html.unescape(page).count(EN_MISSING) == 1


def test_cta2_without_cta1_shows_no_button():
    check = cta_check(case("preview_cta2_without_cta1.md"))
    assert check.buttons == {}
    assert [e for e in check.errors if CTA2_ALONE in e] and len(check.errors) == 2
    preview = render_preview(subject="Oggetto", markdown=case("preview_cta2_without_cta1.md"))
    assert preview.buttons == []
    assert any(CTA2_ALONE in note for note in preview.notes)


def test_template_form_refuses_cta2_without_cta1(client, login, operator_user):
    login(operator_user)
    response = client.post(
        reverse("messaging:template_create"), template_data(case("preview_cta2_without_cta1.md"))
    )
    assert response.status_code == 200
    assert CTA2_ALONE in html.unescape(response.content.decode())
    assert not MessageTemplate.objects.exists()


def test_single_message_preview_warns_about_cta(client, login, operator_user, service):
    login(operator_user)
    response = client.post(
        reverse("messaging:single"),
        {
            "service": service.pk,
            "feature_level": "standard",
            "fiscal_code": "RSSMRA85T10A562S",
            "subject": "Carta d'identità in scadenza",
            "markdown": case("preview_cta2_without_cta1.md"),
        },
    )
    assert CTA2_ALONE in html.unescape(response.content.decode())


@pytest.mark.parametrize(
    ("markdown", "problem"),
    [
        # Delimiters must be exactly "---": trailing spaces, or not on the first line.
        (f"--- \n{cta('it', 'cta_1')}\n---\n{TEXT}", "l'app IO non li legge"),
        (f"\n---\n{cta('it', 'cta_1')}\n---\n{TEXT}", "l'app IO non li legge"),
        (f"---\nit: [\n---\n{TEXT}", "non è YAML valido"),
        (f"---\ntitolo: prova\n---\n{TEXT}", "non ha un blocco «it» o «en»"),
        (f"---\n{cta('it', 'cta_1', action='https://x.it')}\n---\n{TEXT}", "nessun pulsante"),
        (f"---\nit:\n    cta_1:\n        text: 12\n        action: ioit://X\n---\n{TEXT}", "text"),
        (f"---\n{cta('it', 'cta_1')}\n    cta_2:\n---\n{TEXT}", "cta_2 deve avere"),
        (f"---\n{cta('en', 'cta_2')}\n{cta('it', 'cta_1')}\n---\n{TEXT}", CTA2_ALONE),
    ],
)
def test_cta_errors(markdown, problem):
    check = cta_check(markdown)
    assert any(problem in error for error in check.errors), check.errors


@pytest.mark.parametrize(
    ("markdown", "warning"),
    [
        (f"---\n{cta('en', 'cta_1')}\n---\n{TEXT}", "in italiano o in tedesco"),
        (f"---\n{cta('it', 'cta_1')}\n{cta('de', 'cta_1')}\n---\n{TEXT}", "«de»"),
    ],
)
def test_cta_warnings(markdown, warning):
    check = cta_check(markdown)
    assert not check.errors
    assert any(warning in w for w in check.warnings), check.warnings


def test_both_languages_and_handled_links_are_fine():
    markdown = (
        f"---\n{cta('it', 'cta_1', 'cta_2', action='iohandledlink://tel:0612345678')}\n"
        f"{cta('en', 'cta_1', action='iosso://https://comune.example.it')}\n---\n{TEXT}"
    )
    check = cta_check(markdown)
    assert check.errors == [] and check.warnings == []
    assert [len(check.buttons[language]) for language in ("it", "en")] == [2, 1]
