"""Variants of the preview cases of tests/cases/import (`<br>` tags, CTA front matter with
only `it`, `cta_2` without `cta_1`, front matter the app cannot read): the preview and the
template form tell what the IO app does."""

import html

import pytest
from django.urls import reverse

from ioportal.messaging.models import MessageTemplate
from ioportal.messaging.preview import cta_check, render_preview
from tests.messaging.test_app_preview import CTA2_ALONE, EN_MISSING, TEXT, cta, template_data

NO_MESSAGE = "l'app IO mostrerebbe un avviso di errore al posto del messaggio"


@pytest.mark.parametrize(
    "tag", ["<br>", "<br/>", "<br />", "<BR>", "<BR >", "<Br/>", "<br\t/>", "<bR  />"]
)
def test_every_spelling_of_br_is_a_line_break(tag):
    preview = render_preview(subject="Oggetto", markdown=f"Ufficio Anagrafe{tag}Via Roma 1")
    assert preview.html == "<p>Ufficio Anagrafe<br>\nVia Roma 1</p>\n"


@pytest.mark.parametrize("text", ["< br>", "</br>", "<br/ >", "<brr>"])
def test_what_the_app_does_not_read_as_br_shows_as_text(text):
    preview = render_preview(subject="Oggetto", markdown=f"Ufficio{text}Anagrafe")
    assert "<br>" not in preview.html
    assert html.escape(text, quote=False) in preview.html


@pytest.mark.parametrize(
    "front",
    [
        cta("it", "cta_1"),
        cta("it", "cta_1", "cta_2"),
        '"it"' + cta("it", "cta_1")[2:],  # a quoted key
        cta("it", "cta_1") + "\nen:",  # an empty "en" block
        cta("it", "cta_1") + "\n" + cta("en", "cta_2"),  # "en" has no first button
    ],
)
def test_buttons_only_in_italian_warn_about_english_apps(front):
    markdown = f"---\n{front}\n---\n{TEXT}"
    preview = render_preview(subject="Oggetto", markdown=markdown)
    assert [button["text"] for button in preview.buttons][:1] == ["Prenota"]
    assert any(EN_MISSING in note for note in preview.notes)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_buttons_only_in_italian_warn_with_windows_line_breaks_too(newline):
    markdown = newline.join(["---", *cta("it", "cta_1").split("\n"), "---", TEXT])
    assert any(EN_MISSING in warning for warning in cta_check(markdown).warnings)


@pytest.mark.parametrize(
    "front",
    [
        cta("it", "cta_2"),
        cta("it", "cta_2") + "\n" + cta("en", "cta_2"),
        "it:\n    cta_1:\n" + cta("it", "cta_2").split("\n", 1)[1],  # cta_1 empty
    ],
)
def test_cta2_without_cta1_shows_no_button_and_the_form_refuses_it(
    front, client, login, operator_user
):
    markdown = f"---\n{front}\n---\n{TEXT}"
    preview = render_preview(subject="Oggetto", markdown=markdown)
    assert preview.buttons == []
    assert any(CTA2_ALONE in note for note in preview.notes)
    login(operator_user)
    response = client.post(reverse("messaging:template_create"), template_data(markdown))
    assert response.status_code == 200
    assert CTA2_ALONE in html.unescape(response.content.decode())
    assert not MessageTemplate.objects.exists()


@pytest.mark.parametrize(
    ("front", "problem"),
    [
        ("it:\n\tcta_1:\n        text: Prenota", "non è YAML valido"),
        ('it:\n    cta_1:\n        text: "Prenota\n', "non è YAML valido"),
        (cta("it", "cta_1") + "\n" + cta("it", "cta_1"), "«it» compare due volte"),
        (
            cta("it", "cta_1").replace('text: "Prenota"', 'text: "Prenota"\n        text: "Paga"'),
            "«text» compare due volte",
        ),
    ],
)
def test_front_matter_the_app_cannot_read_is_refused_by_the_form(
    front, problem, client, login, operator_user
):
    markdown = f"---\n{front}\n---\n{TEXT}"
    check = cta_check(markdown)
    assert any(problem in error and NO_MESSAGE in error for error in check.errors)
    assert check.buttons == {}
    login(operator_user)
    response = client.post(reverse("messaging:template_create"), template_data(markdown))
    assert response.status_code == 200
    assert problem in html.unescape(response.content.decode())
    assert not MessageTemplate.objects.exists()


def test_front_matter_not_at_the_first_line_is_said_to_be_shown_as_text():
    for markdown in (
        f"--- \n{cta('it', 'cta_1')}\n---\n{TEXT}",  # a space after the dashes
        f"\n---\n{cta('it', 'cta_1')}\n---\n{TEXT}",  # an empty first line
        f"---\n{cta('it', 'cta_1')}\n{TEXT}",  # never closed
    ):
        check = cta_check(markdown)
        assert check.buttons == {}
        assert any("l'app IO non li legge" in error for error in check.errors), markdown
