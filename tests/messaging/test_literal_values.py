"""A cell value is content: sent and previewed literally, never a live link or an image."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from ioportal.ioapi.payloads import js_length
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.preview import content_warnings
from ioportal.recipients.models import RecipientList
from ioportal.recipients.rendering import delivery_content, escape_markdown, fill_message
from ioportal.recipients.validation import MessageSpec
from tests import builders
from tests.messaging.conftest import phone_body
from tests.recipients.support import validated

CASES = Path(__file__).resolve().parent.parent / "cases" / "import"
BODY = (
    "Gentile {{ nome }},\n\nl'avviso n. {{ numero_avviso }} di {{ importo }} euro scade il "
    "{{ scadenza }}. Può pagarlo dall'app IO con l'avviso pagoPA."
)
PLACEHOLDERS = [
    {"name": "nome", "type": "text", "required": True, "pattern": ""},
    {"name": "importo", "type": "euro", "required": True, "pattern": ""},
    {"name": "numero_avviso", "type": "notice_number", "required": True, "pattern": ""},
    {"name": "scadenza", "type": "date", "required": True, "pattern": ""},
]
# How a CommonMark parser with raw HTML on (the IO app shows HTML as text, but a web view or
# another client might not) reads the markdown that is sent.
COMMONMARK = MarkdownIt("commonmark", {"html": True})

MARKDOWN_VALUES = [
    "[Paga qui](https://esempio.invalid/paga)",
    "![x](https://esempio.invalid/pixel.png)",
    "<img src=https://esempio.invalid/p.png>",
    "<a href='https://esempio.invalid'>qui</a>",
    "**urgente** _subito_ ~~no~~",
    "# Titolo",
    "> citazione",
    "- voce",
    "1. voce",
    "2) voce",
    "[qui][1]\n\n[1]: https://esempio.invalid",
    "<https://esempio.invalid/auto>",
    "https://esempio.invalid/nuda www.esempio.invalid mario@esempio.invalid",
    "&lt;b&gt; &#42;",
    "`codice`",
    "riga\n===",
    "a\\*b\\*",
]


@pytest.mark.parametrize("value", MARKDOWN_VALUES)
def test_a_markdown_value_renders_as_the_text_typed(value):
    _subject, markdown = fill_message(
        subject="Avviso di pagamento",
        markdown="Gentile {{ nome }}, ecco il suo avviso.",
        variables={"nome": value},
    )
    html = COMMONMARK.render(markdown)
    assert "<a " not in html and "<img" not in html
    for tag in ("<strong>", "<em>", "<h1>", "<blockquote>", "<li>", "<code>", "<h2>", "<s>"):
        assert tag not in html
    # What the citizen reads is exactly the value (HTML-escaped by the renderer).
    text = COMMONMARK.renderInline(escape_markdown(value))
    assert text.replace("\n", "") == escapeHtml(value).replace("\n", "")


def test_the_subject_and_the_cta_front_matter_get_values_unescaped():
    subject, markdown = fill_message(
        subject="Avviso per {{ nome }}",
        markdown='---\nit:\n  cta_1:\n    text: "Paga {{ nome }}"\n    action: ioit://X\n---\n'
        "Ciao {{ nome }}",
        variables={"nome": "A.B. *C*", "__attachment__": "x.pdf"},
    )
    assert subject == "Avviso per A.B. *C*"
    assert 'text: "Paga A.B. *C*"' in markdown
    assert markdown.endswith("Ciao A\\.B\\. \\*C\\*")


def test_internal_variables_are_never_substituted():
    _subject, markdown = fill_message(
        subject="Oggetto", markdown="{{ __attachment__ }}", variables={"__attachment__": "x.pdf"}
    )
    assert markdown == "{{ __attachment__ }}"


def test_the_length_check_counts_the_escaped_text():
    """IO counts what is sent: a value that fits unescaped may not fit escaped."""
    markdown = "Gentile {{ nome }}, " + "testo del messaggio " * 4
    fixed = js_length(markdown.replace("{{ nome }}", ""))
    room = 10_000 - fixed
    value = "*" * room  # exactly fits unescaped, twice as long escaped
    spec = MessageSpec(
        subject="Avviso di pagamento",
        markdown=markdown,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
    )
    outcome = validated(
        headers=["cf", "nome"],
        rows=[["RSSMRA85T10A562S", value], ["VRDGPP75C15F205S", "x" * room]],
        mapping={"fiscal_code": "cf", "nome": "nome"},
        spec=spec,
    )
    assert [row["line"] for row in outcome.valid] == [3]
    assert [row["line"] for row in outcome.rejected] == [2]
    assert "10000" in " ".join(outcome.rejected[0]["reasons"]).replace(".", "")


def test_a_br_tag_in_a_value_is_rejected_with_the_reason():
    spec = MessageSpec(
        subject="Avviso di pagamento",
        markdown="Gentile {{ nome }}, " + "testo del messaggio " * 5,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
    )
    outcome = validated(
        headers=["cf", "nome"],
        rows=[["RSSMRA85T10A562S", "Rossi<BR/>Mario"]],
        mapping={"fiscal_code": "cf", "nome": "nome"},
        spec=spec,
    )
    assert outcome.rejected[0]["reasons"] == [
        "Contiene «<BR/>», che l'app IO mostra come un a capo: toglilo dal file."
    ]


def _upload_and_check(client, template, service, name: str) -> RecipientList:
    data = (CASES / name).read_bytes()
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile(name, data, content_type="text/csv"),
            # The case file writes amounts the English way ("10.00").
            "number_format": "en",
        },
    )
    assert response.status_code == 302, response.content.decode()
    recipient_list = RecipientList.objects.get()
    response = client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {
            "map_fiscal_code": "codice_fiscale",
            "map_nome": "nome",
            "map_importo": "importo",
            "map_numero_avviso": "numero_avviso",
            "map_scadenza": "scadenza",
        },
    )
    assert response.status_code == 302, response.content.decode()
    recipient_list.refresh_from_db()
    return recipient_list


def test_markdown_in_a_cell_over_http(client, login, operator_user, organization, service, woken):
    template = builders.template(
        organization, operator_user, markdown=BODY, placeholders=PLACEHOLDERS
    )
    login(operator_user)
    recipient_list = _upload_and_check(client, template, service, "markdown_in_a_cell.csv")
    assert recipient_list.valid_count == 2 and recipient_list.rejected_count == 0

    preview_url = reverse("messaging:list_preview", args=[recipient_list.public_id])
    first = phone_body(client.get(preview_url + "?riga=1"))
    assert first.startswith("<p>Gentile [Paga qui](https://esempio.invalid/paga),")
    assert "<a " not in first
    second = phone_body(client.get(preview_url + "?riga=2"))
    assert second.startswith("<p>Gentile ![x](https://esempio.invalid/pixel.png),")
    assert "<img" not in second

    confirm = reverse("messaging:list_confirm", args=[recipient_list.public_id])
    response = client.post(
        confirm, {"when": "now", "launch_token": str(recipient_list.launch_token)}
    )
    assert response.status_code == 302
    dispatch = Dispatch.objects.get(kind=Dispatch.Kind.LIST)
    sent = [
        delivery_content(dispatch, delivery)[1]
        for delivery in Delivery.objects.filter(dispatch=dispatch).order_by("row_number")
    ]
    assert sent[0].startswith("Gentile \\[Paga qui\\]\\(https\\://esempio\\.invalid/paga\\),")
    assert sent[1].startswith("Gentile \\!\\[x\\]\\(https\\://esempio\\.invalid/pixel\\.png\\),")
    for markdown in sent:
        html = COMMONMARK.render(markdown)
        assert "<a " not in html and "<img" not in html
    first = Delivery.objects.filter(dispatch=dispatch).order_by("row_number").first()
    summary = client.get(reverse("sending:delivery_detail", args=[first.public_id]))
    assert phone_body(summary).startswith("<p>Gentile [Paga qui](https://esempio.invalid/paga),")


@pytest.mark.parametrize(
    "markdown",
    ["Codice: `{{ nome }}` da conservare.", "Paga su <https://esempio.invalid/{{ nome }}>."],
)
def test_placeholders_where_escapes_would_show_are_warned(markdown):
    warnings = content_warnings(subject="Avviso di pagamento", markdown=markdown)
    assert any("comparirebbero preceduti da \\" in w for w in warnings)
    assert not any(
        "comparirebbero" in w
        for w in content_warnings(subject="Avviso", markdown="[Paga](https://x.invalid/{{ n }})")
    )


CTA_TEMPLATE = (
    "---\nit:\n    cta_1:\n        text: {{ nome }}\n"
    '        action: "ioit://SERVICE?id={{ nome }}"\n'
    "---\nGentile {{ nome }}, " + "prenoti l'appuntamento con il pulsante qui sotto. " * 2
)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("Anna Rossi", True),
        ('Anna"', False),  # closes the quoted action: YAML no longer parses
        ("123", False),  # a number where the app wants a text: no button
        ("Anna\n    cta_2:\n        text: x", False),  # a line break that adds keys
    ],
)
def test_values_in_the_cta_front_matter_must_keep_its_structure(value, accepted):
    spec = MessageSpec(
        subject="Prenotazione",
        markdown=CTA_TEMPLATE,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
    )
    outcome = validated(
        headers=["cf", "nome"],
        rows=[["RSSMRA85T10A562S", value]],
        mapping={"fiscal_code": "cf", "nome": "nome"},
        spec=spec,
    )
    assert bool(outcome.valid) is accepted
    if not accepted:
        assert "rendono non valida l'intestazione" in outcome.rejected[0]["reasons"][0]


STRUCTURE_VALUES = [
    "Via Roma 1\n\n    codice indentato",
    "Via Roma 1\r\n\r\n    codice indentato",
    "Via Roma 1\r\r\tcodice con tab",
    "prima\n   \n\n        seconda",
    "\n\n    inizio indentato",
    "    inizio indentato",
    "fine con a capo\n\n",
    "uno\n    due\n\n    tre",
]


@pytest.mark.parametrize("value", STRUCTURE_VALUES)
@pytest.mark.parametrize(
    "markdown",
    [
        "Gentile cittadino, ecco i dati: {{ nome }} come risultano all'ufficio.",
        "Gentile cittadino, ecco i dati.\n\n{{ nome }}\n\nCordiali saluti dall'ufficio.",
    ],
)
def test_line_breaks_and_indents_in_a_value_never_make_a_block(value, markdown):
    _subject, filled = fill_message(
        subject="Avviso di pagamento", markdown=markdown, variables={"nome": value}
    )
    html = COMMONMARK.render(filled)
    assert "<pre>" not in html and "<code>" not in html
    # The value stays inside one paragraph: the template's own paragraphs, no more.
    assert html.count("<p>") == markdown.count("\n\n") + 1
    # Every word of the value reaches the citizen, in order, each line on its own line.
    words = [line.strip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in words if line]
    assert "\n".join(lines) in filled


def test_a_single_line_break_is_kept_as_the_apps_line_break():
    assert escape_markdown("Via Roma 1\r\n00100 Roma") == "Via Roma 1\n00100 Roma"
    assert escape_markdown("a\n\n\nb") == "a\nb"
    assert escape_markdown("uno  \n   due") == "uno\ndue"
