"""Deployment checks (`manage.py check --deploy`): the secrets that protect personal data.

A weak or malformed key is refused with the reason; the key itself is never echoed.
"""

import base64
import binascii
import hashlib
import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

# secrets.token_urlsafe(48) gives 64 characters; 32 is the floor for a keyed hash.
FISCAL_CODE_HMAC_KEY_MIN_LENGTH = 32
URLSAFE_BASE64_RE = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
# The fixed keys of a development installation (settings.py): never for real data.
DEVELOPMENT_HMAC_KEY = "development-only-fiscal-code-hmac-key"
DEVELOPMENT_FIELD_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"ioportal development-only field encryption key").digest()
).decode()


def fiscal_code_hmac_key_problem(key: str) -> str | None:
    """Why `key` cannot be the FISCAL_CODE_HMAC_KEY of an installation, or None."""
    if key == DEVELOPMENT_HMAC_KEY:
        return "it is the development key, public in the source code"
    if any(character.isspace() for character in key):
        return "it contains spaces or line breaks (a copy-and-paste error?)"
    if len(key) < FISCAL_CODE_HMAC_KEY_MIN_LENGTH:
        return (
            f"it is {len(key)} characters long; at least {FISCAL_CODE_HMAC_KEY_MIN_LENGTH} "
            "are needed"
        )
    return None


def fernet_key_problem(key: str) -> str | None:
    """Why `key` is not a usable Fernet key (44 characters of URL-safe base64 encoding 32
    random bytes), or None."""
    if key == DEVELOPMENT_FIELD_KEY:
        return "it is the development key, public in the source code"
    if len(key) != 44:
        return f"it is {len(key)} characters long; a Fernet key has 44"
    if not URLSAFE_BASE64_RE.match(key):
        return "it is not URL-safe base64"
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except binascii.Error:
        return "it is not URL-safe base64"
    if len(raw) != 32:
        return f"it decodes to {len(raw)} bytes; a Fernet key is 32"
    return None


@register(Tags.security, deploy=True)
def check_data_protection_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """FISCAL_CODE_HMAC_KEY long enough and not the development one; every entry of
    FIELD_ENCRYPTION_KEYS a real Fernet key."""
    errors: list[Error] = []
    generate_hmac = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
    generate_fernet = (
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )
    problem = fiscal_code_hmac_key_problem(getattr(settings, "FISCAL_CODE_HMAC_KEY", ""))
    if problem:
        errors.append(
            Error(
                f"FISCAL_CODE_HMAC_KEY is not acceptable: {problem}.",
                hint=f"Generate one with `{generate_hmac}`, once per installation "
                "(changing it later breaks the search of stored fiscal codes).",
                id="core.E001",
            )
        )
    keys = list(getattr(settings, "FIELD_ENCRYPTION_KEYS", []))
    if not keys:
        errors.append(
            Error(
                "FIELD_ENCRYPTION_KEYS is empty.",
                hint=f"Generate a key with `{generate_fernet}`.",
                id="core.E002",
            )
        )
    for position, key in enumerate(keys, start=1):
        problem = fernet_key_problem(str(key))
        if problem:
            errors.append(
                Error(
                    f"FIELD_ENCRYPTION_KEYS: key number {position} is not acceptable: {problem}.",
                    hint=f"Generate a key with `{generate_fernet}`; see docs/ioservices.md, "
                    "'Rotating the encryption key', to replace one in use.",
                    id="core.E002",
                )
            )
    return errors
