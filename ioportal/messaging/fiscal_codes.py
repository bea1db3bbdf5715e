"""Citizens' fiscal codes at rest: encrypted, searchable by keyed hash, masked for display."""

import hashlib
import hmac

from django.conf import settings

from ioportal.core import crypto
from ioportal.ioapi import mask_fiscal_code, normalize_fiscal_code


def fiscal_code_hmac(fiscal_code: str) -> str:
    """A keyed hash of the normalised fiscal code: equal codes give equal hashes."""
    key = settings.FISCAL_CODE_HMAC_KEY.encode()
    return hmac.new(key, normalize_fiscal_code(fiscal_code).encode(), hashlib.sha256).hexdigest()


def protect_fiscal_code(fiscal_code: str) -> dict[str, str]:
    """The three stored forms of a fiscal code, as Delivery field values."""
    code = normalize_fiscal_code(fiscal_code)
    return {
        "fiscal_code_encrypted": crypto.encrypt(code),
        "fiscal_code_hmac": fiscal_code_hmac(code),
        "fiscal_code_masked": mask_fiscal_code(code),
    }


def reveal_fiscal_code(encrypted: str) -> str:
    """The fiscal code in clear, for the IO call only (raises crypto.DecryptionError)."""
    return crypto.decrypt(encrypted)
