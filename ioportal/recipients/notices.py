"""pagoPA notice numbers ("numero avviso", "codice avviso"): structure and check digits.

Source: AgID/pagoPA, "Specifiche Attuative dei Codici Identificativi di Versamento, Riversamento
e Rendicontazione" (SACIV), and pagoPA's "Avviso di pagamento" page of the SANP
(https://docs.italia.it/italia/pagopa/pagopa-specifichepagamenti-docs/, section 6). A notice
number has 18 digits, ``<aux digit (1)><17 digits>``; the aux digit (0-3) defines the rest:

==========  ==========================================================  ==================
aux digit   the 17 digits                                               check digits
==========  ==========================================================  ==================
0           application code (2) + IUV base (13) + check digits (2)     yes
1           IUV (17), free structure                                    none
2           IUV base (15) + check digits (2)                            yes
3           segregation code (2) + IUV base (13) + check digits (2)     yes
==========  ==========================================================  ==================

The check digits are the remainder of the division by 93 of the number made of every digit
before them (aux digit, application or segregation code, IUV base), written with two digits.

python-stdnum (2.2) has no IUV module; pagoPA's own TypeScript types (io-ts-commons) check the
structure only. IO itself checks ``^[0-3][0-9]{17}$``.
"""

import re

from ioportal.recipients.numbers import clean_identifier

NOTICE_NUMBER_RE = re.compile(r"^[0-3][0-9]{17}$")
CHECK_DIGIT_MODULUS = 93
AUX_DIGITS_WITH_CHECK = frozenset("023")


def normalize_notice_number(value: str) -> str:
    """The notice number as the person reads it: invisible characters and every space removed
    (notices print it in groups, "3020 0012 3456 7890 13")."""
    return clean_identifier(value)


def is_notice_number(value: str) -> bool:
    """True when `value` (normalized) has the structure of a notice number: 18 digits, aux
    digit 0-3."""
    return bool(NOTICE_NUMBER_RE.match(value))


def expected_check_digits(value: str) -> str | None:
    """The two check digits a notice number of aux digit 0, 2 or 3 must end with; None for aux
    digit 1 (no check digits) or a value without the structure."""
    if not is_notice_number(value) or value[0] not in AUX_DIGITS_WITH_CHECK:
        return None
    return f"{int(value[:16]) % CHECK_DIGIT_MODULUS:02d}"


def has_valid_check_digits(value: str) -> bool:
    """False only when the aux digit defines check digits and they do not match."""
    expected = expected_check_digits(value)
    return expected is None or value[16:] == expected
