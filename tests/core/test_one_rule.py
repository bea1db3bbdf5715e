"""The rules kept in one place: fiscal codes, IO's texts, yes/no words, changed fields."""

import pytest
from django.utils import translation

from ioportal.core.fiscalcode import (
    contains_fiscal_code,
    fiscal_code_hmac,
    normalize_fiscal_code,
    protect_fiscal_code,
)
from ioportal.core.io_texts import describe_io_error, field_error_text
from ioportal.core.services import changed_fields
from ioportal.core.yesno import read_yes_no
from ioportal.ioapi import KeyRejectedError, PayloadInvalidError, RateLimitedError
from ioportal.ioapi import messages_it as io_texts
from ioportal.ioapi.payloads import validate_new_message
from ioportal.recipients.rendering import io_message

CODE = "RSSMRA85T10A562S"


@pytest.mark.parametrize(
    "typed",
    [
        CODE,
        " rssmra85t10a562s ",
        "RSSMRA\u200b85T10A562S",  # zero-width space from a web page
        "\ufeffRSSMRA85T10A562S",  # byte order mark
        "RSS MRA 85T10 A562S",
        "RSSMRA85T10A562S\u00a0",  # no-break space
        "RSS\u00adMRA85T10A562S",  # soft hyphen
    ],
)
def test_a_fiscal_code_is_normalized_one_way(typed: str, settings) -> None:
    settings.FISCAL_CODE_HMAC_KEY = "k" * 40
    assert normalize_fiscal_code(typed) == CODE
    assert fiscal_code_hmac(typed) == fiscal_code_hmac(CODE)
    assert protect_fiscal_code(typed)["fiscal_code_masked"] == "RSS************S"


def test_a_fiscal_code_in_a_subject_is_found_in_either_case() -> None:
    assert contains_fiscal_code(f"Avviso per {CODE.lower()} di oggi")
    assert not contains_fiscal_code("Avviso TARI 2026 rata unica")
    # IO's pattern: the month is one of its twelve letters.
    assert not contains_fiscal_code("RSSMRA85Z10A562S")


def test_io_texts_are_translated_with_their_values() -> None:
    [problem] = [
        p
        for p in validate_new_message(
            io_message(
                fiscal_code=CODE, subject="corto", markdown="x" * 100, feature_level="standard"
            )
        )
        if p.field == "content.subject"
    ]
    assert problem.template == io_texts.SUBJECT_LENGTH
    assert field_error_text(problem) == problem.message  # Italian: the text itself
    with translation.override("en"):
        assert field_error_text(problem) == (
            "The subject must have from 10 to 120 characters (it now has 5)."
        )
        assert describe_io_error(
            RateLimitedError("slow", retry_after=30, retry_after_source="header")
        ) == ("IO asked to slow down: next attempt in 30 seconds.")
        assert describe_io_error(KeyRejectedError("no")).startswith("IO refused the service")
        assert describe_io_error(PayloadInvalidError([problem])) == field_error_text(problem)


def test_io_message_has_a_payment_notice_only_with_amount_and_notice_number() -> None:
    common = {"fiscal_code": CODE, "subject": "s" * 10, "markdown": "m" * 80}
    assert io_message(**common, feature_level="standard", amount=100).payment_data is None
    assert (
        io_message(**common, feature_level="standard", notice_number="3" * 18).payment_data is None
    )
    message = io_message(
        **common, feature_level="advanced", amount=0, notice_number="302000100000009424"
    )
    assert message.payment_data is not None and message.payment_data.amount == 0
    assert message.payment_data.payee_fiscal_code is None
    assert message.feature_level_type.value == "ADVANCED"


@pytest.mark.parametrize("word", ["sì", "SI", " s ", "x", "1", "vero", "yes", "Y", "true"])
def test_yes_words(word: str) -> None:
    assert read_yes_no(word) is True


@pytest.mark.parametrize("word", ["no", "N", "0", "falso", "False"])
def test_no_words(word: str) -> None:
    assert read_yes_no(word) is False


@pytest.mark.parametrize("word", ["", "  ", "forse", "2"])
def test_neither_yes_nor_no(word: str) -> None:
    assert read_yes_no(word) is None


def test_changed_fields_keep_lists_as_lists() -> None:
    changes = changed_fields(
        {"name": "Tributi", "recipients": ["RSS***S"], "same": 1},
        {"name": "Tributi 2026", "recipients": ["RSS***S", "VRD***S"], "same": 1},
    )
    assert changes == {
        "name": ["Tributi", "Tributi 2026"],
        "recipients": [["RSS***S"], ["RSS***S", "VRD***S"]],
    }
