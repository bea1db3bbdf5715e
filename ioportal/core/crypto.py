"""Encryption of third-party secrets stored in the database, and of files at rest.

Fernet (authenticated encryption) with the keys in `settings.FIELD_ENCRYPTION_KEYS`, newest
first: the first key encrypts, any configured key decrypts. A stored value is
`<key id>:<Fernet token>`, where the key id is a short hash of the key that encrypted it, so
`rotate_encryption_keys` can tell which rows are still under an old key.

Files (`encrypt_file` / `decrypt_file`) use the same keys, in frames of 1 MiB, so a file of
any size is encrypted and read back in constant memory (format below).

Fail closed: a value that no configured key can decrypt raises `DecryptionError`; it is
never returned as if it were the secret. Neither plaintexts nor keys appear in messages.
"""

import hashlib
from collections.abc import Iterator
from functools import lru_cache
from typing import IO

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


# --- Files ---------------------------------------------------------------------------------
# A file encrypted with `encrypt_file` (a prepared export, possibly hundreds of megabytes) is a
# sequence of frames, so neither writing nor reading holds more than one frame in memory:
#
#   FILE_MAGIC, the key id (8 ASCII characters), "\n"
#   then frames: a 4-byte big-endian length N, then N bytes: a Fernet token whose plaintext
#   is the frame's number (8 bytes, big-endian, from 0), a last-frame flag (1 byte, 1 on the
#   last frame only) and up to FILE_FRAME_BYTES of the file.
#
# Each frame is authenticated by Fernet; the number and the flag inside it make a reordered,
# repeated, dropped or truncated frame sequence fail to decrypt rather than read as another
# file. An empty file is one last frame with no bytes.

FILE_MAGIC = b"IOPORTAL-FERNET-FRAMES-1\n"
FILE_FRAME_BYTES = 1024 * 1024
_FRAME_LENGTH = 4
_FRAME_HEADER = 9  # number (8 bytes) + last-frame flag (1 byte)


def encrypt_file(source: IO[bytes], target: IO[bytes]) -> int:
    """Write `source`, read from its current position to its end, encrypted with the current
    key into `target` (format above). Returns the bytes written."""
    kid, fernet = keyring()[0]
    written = target.write(FILE_MAGIC + kid.encode("ascii") + b"\n")
    number = 0
    data = source.read(FILE_FRAME_BYTES)
    while True:
        following = source.read(FILE_FRAME_BYTES) if data else b""
        last = not following
        token = fernet.encrypt(number.to_bytes(8, "big") + (b"\x01" if last else b"\x00") + data)
        written += target.write(len(token).to_bytes(_FRAME_LENGTH, "big") + token)
        if last:
            return written
        number += 1
        data = following


def decrypt_file(source: IO[bytes]) -> Iterator[bytes]:
    """The plaintext of a file written by `encrypt_file`, one frame at a time. Raises
    DecryptionError (possibly after some frames were given) for an unknown key, a tampered,
    reordered or truncated file."""
    magic = source.read(len(FILE_MAGIC))
    if magic != FILE_MAGIC:
        raise DecryptionError("the file is not in the expected format")
    kid = source.read(9)[:8].decode("ascii", errors="replace")
    fernets = [fernet for candidate_id, fernet in keyring() if candidate_id == kid]
    if not fernets:
        raise DecryptionError(
            f"the file was encrypted with key {kid}, which is not in FIELD_ENCRYPTION_KEYS"
        )
    fernet = fernets[0]
    number = 0
    while True:
        length = int.from_bytes(source.read(_FRAME_LENGTH) or b"\0", "big")
        token = source.read(length) if length else b""
        if not token or len(token) != length:
            raise DecryptionError("the file ends before its last frame")
        try:
            plain = fernet.decrypt(token)
        except InvalidToken:
            raise DecryptionError(f"a frame does not match encryption key {kid}") from None
        if int.from_bytes(plain[:8], "big") != number:
            raise DecryptionError("the file's frames are out of order")
        yield plain[_FRAME_HEADER:]
        if plain[8:9] == b"\x01":
            if source.read(1):
                raise DecryptionError("the file goes on after its last frame")
            return
        number += 1
