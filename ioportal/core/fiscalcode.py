"""Citizens' fiscal codes in the portal: the one module to import for them.

IO's rules (pattern, check character, normalization, masking, the feed hash) live in
`ioportal.ioapi.fiscalcode`, which the IO client applies too, and are re-exported here. This
module adds what only the portal needs: a fiscal code at rest is stored encrypted, searchable
by a keyed hash (HMAC-SHA256 with `settings.FISCAL_CODE_HMAC_KEY`) and masked for display.
"""

import hmac

from django.conf import settings

from ioportal.core import crypto
from ioportal.ioapi.fiscalcode import (
    FISCAL_CODE_RE,
    SANDBOX_FISCAL_CODE,
    contains_fiscal_code,
    fiscal_code_hash,
    is_valid_fiscal_code,
    mask_fiscal_code,
    mask_fiscal_codes_in_text,
    normalize_fiscal_code,
)

__all__ = [
    "FISCAL_CODE_RE",
    "SANDBOX_FISCAL_CODE",
    "contains_fiscal_code",
    "fiscal_code_hash",
    "fiscal_code_hmac",
    "is_valid_fiscal_code",
    "mask_fiscal_code",
    "mask_fiscal_codes_in_text",
    "normalize_fiscal_code",
    "protect_fiscal_code",
    "reveal_fiscal_code",
]


def fiscal_code_hmac(fiscal_code: str) -> str:
    """A keyed hash (64 hex characters) of the normalized fiscal code: equal codes give equal
    hashes, so a stored code can be found without decrypting every row."""
    key = settings.FISCAL_CODE_HMAC_KEY.encode()
    # The one-shot form of hmac.new(key, code, sha256).hexdigest(): a list hashes every row.
    return hmac.digest(key, normalize_fiscal_code(fiscal_code).encode(), "sha256").hex()


def protect_fiscal_code(fiscal_code: str) -> dict[str, str]:
    """The three stored forms of a fiscal code, as Delivery field values:
    {"fiscal_code_encrypted", "fiscal_code_hmac", "fiscal_code_masked"}."""
    code = normalize_fiscal_code(fiscal_code)
    return {
        "fiscal_code_encrypted": crypto.encrypt(code),
        "fiscal_code_hmac": fiscal_code_hmac(code),
        "fiscal_code_masked": mask_fiscal_code(code),
    }


def reveal_fiscal_code(encrypted: str) -> str:
    """The fiscal code in clear, for the IO call only (raises crypto.DecryptionError)."""
    return crypto.decrypt(encrypted)
