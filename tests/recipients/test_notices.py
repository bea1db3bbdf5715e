"""pagoPA notice numbers: structure by aux digit and the mod-93 check digits."""

import pytest

from ioportal.recipients.notices import (
    expected_check_digits,
    has_valid_check_digits,
    is_notice_number,
    normalize_notice_number,
)

# Typed by a municipal office in notice_numbers_in_number_cells.xlsx (aux digit 3, segregation
# code 02): 3020012345678901 mod 93 = 36, 3020012345678902 mod 93 = 37.
KNOWN_VALID = ["302001234567890136", "302001234567890237"]


@pytest.mark.parametrize("notice", KNOWN_VALID)
def test_known_valid_numbers(notice):
    assert is_notice_number(notice)
    assert has_valid_check_digits(notice)


@pytest.mark.parametrize(
    ("notice", "check"),
    [
        # aux 0: application code 01, IUV base 0000000000001 -> 0010000000000001 mod 93 = 41
        ("001000000000000141", "41"),
        # aux 2: IUV base 000000000000001 -> 2000000000000001 mod 93 = 3
        ("200000000000000103", "03"),
        # aux 3: segregation code 01, IUV base 0000000000000 -> 3010000000000000 mod 93 = 43
        ("301000000000000043", "43"),
    ],
)
def test_check_digits_by_aux_digit(notice, check):
    assert int(notice[:16]) % 93 == int(check)  # the rule, independently of the module
    assert expected_check_digits(notice) == check
    assert has_valid_check_digits(notice)
    wrong = notice[:16] + f"{(int(check) + 1) % 93:02d}"
    assert not has_valid_check_digits(wrong)


def test_aux_digit_one_has_no_check_digits():
    assert expected_check_digits("112345678901234567") is None
    assert has_valid_check_digits("112345678901234567")


@pytest.mark.parametrize(
    "notice",
    ["402001234567890136", "30200123456789013", "3020012345678901366", "30200123456789013a"],
)
def test_structure(notice):
    assert not is_notice_number(notice)


@pytest.mark.parametrize(
    "written",
    [
        "3020 0123 4567 8901 36",
        "\u200b302001234567890136",
        "302001234567890136\u00a0",
        "30200123456789\u00ad0136",
        "\ufeff302001234567890136",
    ],
)
def test_normalized_as_the_person_reads_it(written):
    assert normalize_notice_number(written) == "302001234567890136"
