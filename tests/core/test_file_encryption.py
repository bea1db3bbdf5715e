"""Files encrypted at rest in Fernet frames (core.crypto.encrypt_file / decrypt_file)."""

import io
from typing import Any

import pytest
from cryptography.fernet import Fernet

from ioportal.core import crypto

CODE = b"RSSMRA80A01H501U"


def _encrypted(data: bytes) -> bytes:
    target = io.BytesIO()
    written = crypto.encrypt_file(io.BytesIO(data), target)
    assert written == len(target.getvalue())
    return target.getvalue()


def _decrypted(data: bytes) -> bytes:
    return b"".join(crypto.decrypt_file(io.BytesIO(data)))


@pytest.mark.parametrize("size", [0, 1, crypto.FILE_FRAME_BYTES, 2 * crypto.FILE_FRAME_BYTES + 5])
def test_a_file_comes_back_as_it_was_and_nothing_of_it_is_in_clear(size: int) -> None:
    data = (CODE * (size // len(CODE) + 1))[:size]
    stored = _encrypted(data)
    assert _decrypted(stored) == data
    assert stored.startswith(crypto.FILE_MAGIC)
    if size:
        assert CODE[:8] not in stored


def test_frames_are_read_one_at_a_time() -> None:
    data = b"x" * (3 * crypto.FILE_FRAME_BYTES)
    frames = list(crypto.decrypt_file(io.BytesIO(_encrypted(data))))
    assert [len(frame) for frame in frames] == [crypto.FILE_FRAME_BYTES] * 3


def _frames(stored: bytes) -> tuple[bytes, list[bytes]]:
    head = len(crypto.FILE_MAGIC) + 9
    frames, at = [], head
    while at < len(stored):
        length = int.from_bytes(stored[at : at + 4], "big")
        frames.append(stored[at : at + 4 + length])
        at += 4 + length
    return stored[:head], frames


@pytest.mark.parametrize(
    "tamper",
    [
        lambda head, frames: head + b"".join(frames[:-1]),  # truncated at a frame
        lambda head, frames: head + b"".join(frames)[:-10],  # truncated inside one
        lambda head, frames: head + frames[1] + frames[0] + frames[2],  # reordered
        lambda head, frames: head + frames[0] + frames[0] + frames[1] + frames[2],  # repeated
        lambda head, frames: head + b"".join(frames) + frames[2],  # something after the end
        lambda head, frames: head + frames[0][:-1] + b"A" + frames[1] + frames[2],  # altered
        lambda head, frames: b"NOT-THE-FORMAT\n" + b"".join(frames),
    ],
)
def test_a_tampered_file_fails_to_decrypt(tamper: Any) -> None:
    head, frames = _frames(_encrypted(b"y" * (2 * crypto.FILE_FRAME_BYTES + 1)))
    assert len(frames) == 3
    with pytest.raises(crypto.DecryptionError):
        _decrypted(tamper(head, frames))


def test_an_old_key_still_reads_and_an_unknown_key_fails(settings: Any) -> None:
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    stored = _encrypted(b"data")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    assert _decrypted(stored) == b"data"
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError, match="not in FIELD_ENCRYPTION_KEYS"):
        _decrypted(stored)
