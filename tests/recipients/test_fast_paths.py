"""The check's fast paths give exactly what the plain forms give: the template split once
(`fill_message`), the escaping by translation table, cents formatted in integers, the one-shot
HMAC and the content keys written in hash order."""

import hashlib
import hmac
import random
import re
from decimal import Decimal

from django.test import override_settings

from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.recipients.numbers import format_cents, format_decimal
from ioportal.recipients.rendering import (
    MARKDOWN_SPECIAL_RE,
    VALUE_LINE_BREAKS_RE,
    app_front_matter,
    escape_markdown,
    fill_message,
    render,
)

ALPHABET = list("ab Z9\t\n\r{}%_*[]()!<>&#+-=.|:@\\`~é€😀") + ["{{ nome }}", "{{x}}", "{% if %}"]


def reference_escape(value: str) -> str:
    """escape_markdown as it was written before its fast path."""
    text = VALUE_LINE_BREAKS_RE.sub("\n", value).lstrip(" \t\n").rstrip("\n")
    return MARKDOWN_SPECIAL_RE.sub(r"\\\1", text)


def reference_fill(
    *, subject: str, markdown: str, variables: dict[str, str], known: list[str] | None
) -> tuple[str, str]:
    """fill_message as it was written before the texts were split once: `render` per text."""
    values = {str(k): str(v) for k, v in variables.items() if not str(k).startswith("__")}
    names = list(values if known is None else known)
    front = app_front_matter(markdown)
    head = markdown[: front.end()] if front is not None and front.start() == 0 else ""
    body = markdown[len(head) :]
    return (
        render(subject, values, names),
        render(head, values, names) + render(body, values, names, escape=reference_escape),
    )


def random_text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, size)))


def test_escape_markdown_is_the_regular_expression_form() -> None:
    rng = random.Random(13)
    for _ in range(20_000):
        value = random_text(rng, 12)
        assert escape_markdown(value) == reference_escape(value), repr(value)


def test_fill_message_is_render_per_text() -> None:
    rng = random.Random(26)
    templates = [
        ("Avviso {{ nome }}", "Gentile {{ nome }},\n\nimporto {{importo}} {{ altro }} {{nome}}"),
        ("{{nome}}{{nome}}", '---\nit:\n  cta_1:\n    text: "{{ nome }}"\n---\nCorpo {{ nome }}'),
        ("Nessuno", "Testo senza segnaposto, {{ ignoto }} resta."),
        ("{{ __allegato }}", "= yaml =\nx: {{ importo }}\n...\n{{ __allegato }} {{ importo }}"),
    ]
    for _ in range(5_000):
        subject, markdown = rng.choice(templates)
        variables = {
            name: random_text(rng, 6)
            for name in ("nome", "importo", "__allegato", "altro")
            if rng.random() < 0.8
        }
        known = rng.choice([None, ["nome", "importo"], ["nome", "__allegato", "manca"], []])
        expected = reference_fill(
            subject=subject, markdown=markdown, variables=variables, known=known
        )
        assert (
            fill_message(subject=subject, markdown=markdown, variables=variables, known=known)
            == expected
        ), (subject, markdown, variables, known)


def test_format_cents_is_format_decimal_with_two_places() -> None:
    rng = random.Random(39)
    values = [*range(-20_000, 20_000), *(rng.randint(-(10**17), 10**17) for _ in range(20_000))]
    for cents in values:
        assert format_cents(cents) == format_decimal(Decimal(cents) / 100, 2), cents


@override_settings(FISCAL_CODE_HMAC_KEY="una-chiave-di-prova-abbastanza-lunga")
def test_fiscal_code_hmac_is_hmac_sha256_of_the_normalized_code() -> None:
    key = b"una-chiave-di-prova-abbastanza-lunga"
    for code in ("RSSMRA85T10A562S", "rssmra85t10a562s", " RSSMRA85T10A562S\u200b"):
        expected = hmac.new(key, b"RSSMRA85T10A562S", hashlib.sha256).hexdigest()
        assert fiscal_code_hmac(code) == expected
        assert re.fullmatch(r"[0-9a-f]{64}", expected)
