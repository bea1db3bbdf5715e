"""Encryption of third-party secrets stored in the database.

Fernet (authenticated encryption) with the keys in `settings.FIELD_ENCRYPTION_KEYS`, newest
first: the first key encrypts, any configured key decrypts. A stored value is
`<key id>:<Fernet token>`, where the key id is a short hash of the key that encrypted it, so
`rotate_encryption_keys` can tell which rows are still under an old key.

Fail closed: a value that no configured key can decrypt raises `DecryptionError`; it is
never returned as if it were the secret. Neither plaintexts nor keys appear in messages.
"""

import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

SEPARATOR = ":"


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured keys (key removed too early,
    or the value was tampered with)."""


def key_id(key: str) -> str:
    """A short, non-reversible name of an encryption key (8 hex characters)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@lru_cache(maxsize=4)
def _keyring(keys: tuple[str, ...]) -> tuple[tuple[str, Fernet], ...]:
    return tuple((key_id(key), Fernet(key.encode())) for key in keys)


def keyring() -> tuple[tuple[str, Fernet], ...]:
    """(key id, Fernet) for every configured key, the encrypting one first."""
    return _keyring(tuple(settings.FIELD_ENCRYPTION_KEYS))


def current_key_id() -> str:
    """The id of the key new values are encrypted with."""
    return keyring()[0][0]


@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    """Encrypt `plaintext` with the first configured key; returns the value to store."""
    kid, fernet = keyring()[0]
    return f"{kid}{SEPARATOR}{fernet.encrypt(plaintext.encode()).decode()}"


def stored_key_id(stored: str) -> str:
    """The id of the key a stored value was encrypted with ("" when unrecognisable)."""
    kid, separator, _token = stored.partition(SEPARATOR)
    return kid if separator else ""


@sensitive_variables("stored")
def decrypt(stored: str) -> str:
    """The plaintext of a value returned by `encrypt`. Raises DecryptionError."""
    kid, separator, token = stored.partition(SEPARATOR)
    if not separator:
        raise DecryptionError("the stored value is not in the expected format")
    for candidate_id, fernet in keyring():
        if candidate_id == kid:
            try:
                return fernet.decrypt(token.encode()).decode()
            except InvalidToken:
                raise DecryptionError(
                    f"the stored value does not match encryption key {kid}"
                ) from None
    raise DecryptionError(
        f"the value was encrypted with key {kid}, which is not in FIELD_ENCRYPTION_KEYS"
    )


def needs_rotation(stored: str) -> bool:
    """True when `stored` was not encrypted with the current (first) key."""
    return stored_key_id(stored) != current_key_id()


@sensitive_variables("stored")
def rotate(stored: str) -> str:
    """`stored` re-encrypted with the current key. Raises DecryptionError."""
    return encrypt(decrypt(stored))
