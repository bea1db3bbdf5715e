"""One number reader for every place: the chosen convention or a reason, never a guess."""

import re
from datetime import datetime
from decimal import Decimal

import pytest

from ioportal.recipients.numbers import (
    ENGLISH,
    ITALIAN,
    ValueProblem,
    clean_identifier,
    excel_number_text,
    excel_shown_text,
    lost_digits,
    read_euro_cents,
    read_integer,
    read_number,
    serial_to_datetime,
)
from ioportal.recipients.validation import typed_value


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1.500", Decimal(1500)),
        ("12.345", Decimal(12345)),
        ("1.234,56", Decimal("1234.56")),
        ("1.234.567,5", Decimal("1234567.5")),
        ("1234,56", Decimal("1234.56")),
        ("2,5", Decimal("2.5")),
        ("-3,5", Decimal("-3.5")),
        ("0012", Decimal(12)),
        ("€ 12", Decimal(12)),
        ("12,50 €", Decimal("12.50")),
        ("12,50\u00a0€", Decimal("12.50")),
        ("\u200b1.500", Decimal(1500)),
        ("1 000", Decimal(1000)),  # thousands grouped by spaces, in threes
        ("1\u00a0234,56", Decimal("1234.56")),
        ("1\u202f234\u202f567,8", Decimal("1234567.8")),
        ("1.500 EUR", Decimal(1500)),
        ("euro 12", Decimal(12)),
        ("12 Euro", Decimal(12)),
    ],
)
def test_italian_numbers(text, number):
    assert read_number(text, ITALIAN) == number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1,500", Decimal(1500)),
        ("1,234.56", Decimal("1234.56")),
        ("1.500", Decimal("1.5")),
        ("12.5", Decimal("12.5")),
    ],
)
def test_english_numbers(text, number):
    assert read_number(text, ENGLISH) == number


@pytest.mark.parametrize("text", ["1,000.00", "12.5", "0.500", "1.50", "1.2345"])
def test_english_looking_numbers_are_refused_under_the_italian_format(text):
    with pytest.raises(ValueProblem, match="scritto nel formato inglese"):
        read_number(text, ITALIAN)


@pytest.mark.parametrize("text", ["1.234,56", "2,5", "1.500,00"])
def test_italian_looking_numbers_are_refused_under_the_english_format(text):
    with pytest.raises(ValueProblem, match="scritto nel formato italiano"):
        read_number(text, ENGLISH)


@pytest.mark.parametrize(
    "text", ["12 5", "1 0000", "dieci", "1.2.3", ",5", "12-5", "1e3", "1.5E+17", "1.000 000"]
)
def test_not_numbers(text):
    with pytest.raises(ValueProblem, match="non è un numero nel formato italiano"):
        read_number(text, ITALIAN)


def test_more_than_fifteen_digits():
    with pytest.raises(ValueProblem, match="più di 15 cifre"):
        read_number("1000000000000000")


@pytest.mark.parametrize("text", ["12.5", "2,5"])
def test_an_integer_refuses_decimals_either_way(text):
    with pytest.raises(ValueProblem):
        read_integer(text, ITALIAN)


@pytest.mark.parametrize(
    ("text", "cents"),
    [("1.500", 150000), ("1.234,56", 123456), ("2.000", 200000), ("12.345", 1234500)],
)
def test_amounts_written_the_italian_way(text, cents):
    assert read_euro_cents(text) == cents


def test_amount_reasons_speak_of_euro():
    with pytest.raises(ValueProblem) as refused:
        read_euro_cents("1,000.00")
    assert "importo in euro" in str(refused.value) and "centesim" not in str(refused.value)
    with pytest.raises(ValueProblem, match="più di due decimali"):
        read_euro_cents("12,345")


def test_the_english_convention_when_chosen():
    assert read_euro_cents("1,234.56", ENGLISH) == 123456
    assert read_euro_cents("1.5", ENGLISH) == 150


@pytest.mark.parametrize(
    ("text", "integer", "decimal", "euro"),
    [
        ("1.500", "1500", "1.500", "1.500,00"),
        ("12.345", "12345", "12.345", "12.345,00"),
        ("7", "7", "7", "7,00"),
    ],
)
def test_the_same_cell_gives_the_same_number_for_every_type(text, integer, decimal, euro):
    assert typed_value("integer", text) == integer
    assert typed_value("decimal", text) == decimal
    assert typed_value("euro", text) == euro


def test_a_number_with_decimals_for_every_type():
    assert typed_value("decimal", "1.234,5") == "1.234,5"
    assert typed_value("euro", "1.234,5") == "1.234,50"
    with pytest.raises(ValueProblem, match="non è un numero intero"):
        typed_value("integer", "1.234,5")


@pytest.mark.parametrize(
    ("value", "excel_format", "italian", "english"),
    [
        (0.1 + 0.2, "General", "0,3", "0.3"),  # 0.30000000000000004 from a formula
        (120.5, "General", "120,5", "120.5"),
        (80, "General", "80", "80"),
        (1 / 3, "General", "0,333333333333333", "0.333333333333333"),
        (-0.0, "General", "0", "0"),
        (1234567.0, "#,##0.00", "1234567,00", "1234567.00"),
        (0.1 + 0.2, "0.00", "0,30", "0.30"),
        (12.5, '#,##0.00 "€"', "12,50", "12.50"),
        (12.5, "[$€-410] #,##0.00;[RED]-#,##0.00", "12,50", "12.50"),
        (12.345, "0.00", "12,345", "12.345"),  # shown rounded by Excel, never rounded here
        (0.05, "0%", "5%", "5%"),
        (0.05, "0.00%", "5,00%", "5.00%"),
        (1234567890123, "000000000000000000", "000001234567890123", "000001234567890123"),
        (3.0200123456789e17, "0", "302001234567890000", "302001234567890000"),
        (302001234567890136, "0", "302001234567890000", "302001234567890000"),
    ],
)
def test_number_cells_as_excel_shows_them(value, excel_format, italian, english):
    assert excel_number_text(value, excel_format, ITALIAN) == italian
    assert excel_number_text(value, excel_format, ENGLISH) == english


def test_formula_result_read_back_as_an_amount():
    assert read_euro_cents(excel_number_text(0.1 + 0.2)) == 30


@pytest.mark.parametrize(
    ("text", "lost"),
    [
        ("302001234567890000", True),
        ("1000000000000000", True),
        ("123456789012345", False),
        ("000001234567890123", False),
        ("0,333333333333333", False),
    ],
)
def test_lost_digits(text, lost):
    assert lost_digits(text) is lost


def test_serial_numbers_follow_the_date_system():
    assert serial_to_datetime("47664", date_system=1900) == datetime(2030, 6, 30)
    assert serial_to_datetime("47664", date_system=1904) == datetime(2034, 7, 1)
    assert serial_to_datetime("47664,5", date_system=1900) == datetime(2030, 6, 30, 12)
    assert serial_to_datetime("47664.25", date_system=1900, number_format=ENGLISH) == datetime(
        2030, 6, 30, 6
    )


@pytest.mark.parametrize("text", ["0", "-5", "3000000", "0,5"])
def test_serial_numbers_outside_excel_dates(text):
    with pytest.raises(ValueProblem, match="non una data"):
        serial_to_datetime(text, date_system=1900)


@pytest.mark.parametrize(
    "text",
    [
        "\u200bRSSMRA80A01H501U",  # zero-width space
        "RSSMRA80A01H501U\u00a0",  # no-break space
        "RSSMRA80A01\u00adH501U",  # soft hyphen
        "RSSMRA80A01H501U\ufeff",  # byte order mark
        "RSS\u200cMRA\u200d80A01H501U",  # zero-width non-joiner and joiner
        "RSSMRA80\u2060A01H501U",  # word joiner
        "RSSMRA80A01H501U\u202f",  # narrow no-break space
        "RSSMRA 80A01\u2009H501U",  # a plain and a thin space
        "\u2066RSSMRA80A01H501U\u2069",  # bidirectional isolates (format characters)
    ],
)
def test_invisible_characters_leave_identifiers(text):
    assert clean_identifier(text) == "RSSMRA80A01H501U"


@pytest.mark.parametrize(
    ("value", "excel_format", "shown"),
    [
        (3.020001000000122e17, "0.00E+00", "3,02E+17"),
        (0.000015, "0.00E+00", "1,50E-05"),
        (302000100000011000, "General", "3,02E+17"),
        (123456789012345678, "General", "1,23457E+17"),
        (99999999999, "General", "99999999999"),
        (12.5, "General", "12,5"),
        (1234.5, "#,##0.00", "1.234,50"),
        (-1234.5, "#,##0.00;[Red]-#,##0.00", "-1.234,50"),
        (12.345, "0.00", "12,35"),
        (1.5, "0.0#", "1,5"),
        (1234567, "#,##0", "1.234.567"),
        (42, "000000", "000042"),
        (0.05, "0%", "5%"),
        (0.1, "0.00%", "10,00%"),
        # The format's literal text and currency, where the format puts them.
        (1234.5, '#,##0.00 "€"', "1.234,50 €"),
        (1234.5, '#,##0.00\\ "€"', "1.234,50 €"),
        (-1234.5, '#,##0.00 "€"', "-1.234,50 €"),
        (1234.5, "[$€-410] #,##0.00", "€ 1.234,50"),
        (1234.5, '"Euro "#,##0.00', "Euro 1.234,50"),
        (12, '0" rate"', "12 rate"),
        # General switches to scientific notation for a number this close to zero.
        (1e-7, "General", "1E-07"),
        (0.00001, "General", "1E-05"),
        (0.000012345, "General", "1,2345E-05"),
        (0.0001, "General", "0,0001"),
        (0, "General", "0"),
    ],
)
def test_a_number_cell_is_shown_as_italian_excel_shows_it(value, excel_format, shown):
    assert excel_shown_text(value, excel_format) == shown


@pytest.mark.parametrize("text", ["10,00%", "10%", " 7,5 % "])
def test_a_percentage_is_neither_an_amount_nor_a_number(text):
    shown = text.strip()
    with pytest.raises(
        ValueProblem, match=re.escape(f"è una percentuale ({shown}), non un importo")
    ):
        read_euro_cents(text)
    with pytest.raises(
        ValueProblem, match=re.escape(f"è una percentuale ({shown}), non un numero")
    ):
        read_number(text)
    with pytest.raises(ValueProblem, match="non è un numero nel formato"):
        read_number("abc%")
