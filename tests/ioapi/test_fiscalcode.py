import hashlib

import pytest

from ioportal.ioapi import (
    SANDBOX_FISCAL_CODE,
    fiscal_code_hash,
    is_valid_fiscal_code,
    mask_fiscal_code,
    mask_fiscal_codes_in_text,
)

from .samples import CF, CF_OMOCODIA


@pytest.mark.parametrize("value", [CF, CF_OMOCODIA, "MRTMTT25D09F205Z"])
def test_valid_fiscal_codes(value: str) -> None:
    assert is_valid_fiscal_code(value)


@pytest.mark.parametrize(
    "value",
    [
        "RSSMRA85T10A562X",  # wrong check character
        "RSSMRA85T10A562",  # too short
        "rssmra85t10a562s",  # IO accepts upper case only (normalize first)
        "RSSMRA85Z10A562S",  # Z is not a month letter
        "12345678901",  # organization code, not a citizen's
        "",
    ],
)
def test_invalid_fiscal_codes(value: str) -> None:
    assert not is_valid_fiscal_code(value)


def test_sandbox_fiscal_code_passes_io_pattern_without_checksum() -> None:
    assert is_valid_fiscal_code(SANDBOX_FISCAL_CODE)
    assert not is_valid_fiscal_code(SANDBOX_FISCAL_CODE, allow_sandbox=False)


def test_mask_keeps_first_three_and_last() -> None:
    assert mask_fiscal_code(CF) == "RSS************S"
    assert mask_fiscal_code("ABCD") == "****"


def test_mask_in_text_masks_every_fiscal_code() -> None:
    text = f"GET /api/v1/messages/{CF}/01ABC and value [{CF_OMOCODIA.lower()}]"
    masked = mask_fiscal_codes_in_text(text)
    assert CF not in masked
    assert CF_OMOCODIA.lower() not in masked
    assert "RSS************S" in masked


def test_feed_hash_is_sha256_of_upper_case() -> None:
    expected = hashlib.sha256(CF.encode()).hexdigest()
    assert fiscal_code_hash(CF.lower()) == expected
    assert fiscal_code_hash("") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
