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


def test_validity_is_python_stdnums_for_every_kind_of_code():
    """The check character and the birth date are stdnum's routines called directly: the
    answer is stdnum's for valid codes, omocodia, wrong check characters and impossible dates
    (30 February, day 00 or 32, 29 February in a leap year and not)."""
    import random

    from stdnum.it import codicefiscale

    rng = random.Random(16)
    letters, digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789LMNPQRSTUV"
    codes = ["RSSMRA00B29H501", "RSSMRA01B29H501", "RSSMRA80B30H501", "RSSMRA80A00H501"]
    codes += ["RSSMRA80A32H501", "RSSMRA80A71H501", "RSSMRALMALNH501", "RSSMRA80A41H501"]
    for _ in range(20_000):
        codes.append(
            "".join(rng.choice(letters) for _ in range(6))
            + "".join(rng.choice(digits) for _ in range(2))
            + rng.choice("ABCDEHLMPRST")
            + "".join(rng.choice(digits) for _ in range(2))
            + rng.choice(letters)
            + "".join(rng.choice(digits) for _ in range(3))
        )
    checked = [code + codicefiscale.calc_check_digit(code) for code in codes]
    checked += [code + rng.choice(letters) for code in codes]
    valid = [code for code in checked if codicefiscale.is_valid(code)]
    assert 5_000 < len(valid) < len(checked) - 5_000  # both answers are exercised
    assert [is_valid_fiscal_code(c, allow_sandbox=False) for c in checked] == [
        codicefiscale.is_valid(c) for c in checked
    ]
