"""Who the simulated citizens are: a deterministic rule on the fiscal code's characters.

The rule (also in docs/fakeio.md and `fakeio --help`) is chosen so that real people are almost
never affected: tripled letters do not occur in real surname or name codes.

Surname code, characters 1-3:
    XXX  not on IO: profile 404, messages end REJECTED (USER_NOT_FOUND)
    YYY  has blocked the service: sender_allowed false, messages end REJECTED
         (SERVICE_NOT_ALLOWED)
    ZZZ  reachable, slow processing (final status after slow_status_delay)
    else reachable; a share `slow_share` of them (by a hash of the code) is slow too
Name code, characters 4-6 (Premium messages only):
    NNN  never opens the message: read_status stays UNREAD
    UUU  denied read-status access: read_status UNAVAILABLE
    else opens the message read_delay seconds after it is PROCESSED
Payment: a notice whose number ends with an even digit is PAID read_delay seconds after the
message is PROCESSED; one ending with an odd digit stays NOT_PAID.

Citizens listed in the config's `citizens` section take their outcome from there instead.
"""

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass

from ioportal.fakeio.config import Citizen

RULES_HELP = """\
Citizens (deterministic, by the fiscal code's characters; config `citizens` overrides):
  chars 1-3 XXX  not on IO: profile 404, message later REJECTED (USER_NOT_FOUND)
  chars 1-3 YYY  blocked the service: sender_allowed false, message later REJECTED
                 (SERVICE_NOT_ALLOWED)
  chars 1-3 ZZZ  reachable but slow: final status after --slow-status-delay
  otherwise      reachable: PROCESSED after --status-delay (a --slow-share of them,
                 chosen by a hash of the code, is slow)
  Premium messages: chars 4-6 NNN never read (UNREAD), UUU read status UNAVAILABLE,
  otherwise READ --read-delay seconds after PROCESSED; a notice number ending with an
  even digit is PAID from that moment, an odd one stays NOT_PAID.
  AAAAAA00A00A000A (IO's sandbox code) is reachable and always an authorised test recipient.
"""


@dataclass(frozen=True)
class Behaviour:
    """What happens to messages for one citizen."""

    on_io: bool
    sender_allowed: bool
    slow: bool
    reading: str  # "opens", "never" or "denied"


def _share_point(fiscal_code: str) -> float:
    """A stable number in [0, 1) for the code, so the slow share is the same on every run."""
    digest = hashlib.sha256(fiscal_code.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def citizen_behaviour(
    fiscal_code: str, overrides: Mapping[str, Citizen], slow_share: float
) -> Behaviour:
    override = overrides.get(fiscal_code)
    if override is not None:
        outcome, reading = override.outcome, override.reading
    else:
        surname, name = fiscal_code[:3], fiscal_code[3:6]
        outcome = {"XXX": "not_on_io", "YYY": "blocked", "ZZZ": "slow"}.get(surname, "reachable")
        reading = {"NNN": "never", "UUU": "denied"}.get(name, "opens")
        if outcome == "reachable" and _share_point(fiscal_code) < slow_share:
            outcome = "slow"
    return Behaviour(
        on_io=outcome != "not_on_io",
        sender_allowed=outcome != "blocked",
        slow=outcome == "slow",
        reading=reading,
    )


def notice_is_paid(notice_number: str) -> bool:
    return int(notice_number[-1]) % 2 == 0


# Tables for the fiscal code's check character (DM 23/12/1976).
_ODD_VALUES = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20]
        + [11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23],
        strict=True,
    )
)
_MONTHS = "ABCDEHLMPRST"


def check_character(first15: str) -> str:
    total = 0
    for index, char in enumerate(first15):
        if index % 2 == 0:
            total += _ODD_VALUES[char]
        else:
            total += int(char) if char.isdigit() else ord(char) - ord("A")
    return chr(ord("A") + total % 26)


def feed_fiscal_codes(date: str, service_id: str, size: int) -> tuple[list[str], list[str]]:
    """The citizens in the subscriptions feed of `date` for a service, as plain fiscal codes.

    Deterministic (seeded by date and service), with valid check characters, so a test can
    build its recipient list from the same function and match the hashes IO-style.
    Returns (subscribed, unsubscribed); the first half of `size` subscribed.
    """
    rng = random.Random(f"{date}/{service_id}")
    letters = "BCDFGHJKLMNPQRSTVW"
    codes = []
    for _ in range(size):
        first15 = (
            "".join(rng.choice(letters) for _ in range(6))
            + f"{rng.randint(40, 99)}"
            + rng.choice(_MONTHS)
            + f"{rng.randint(1, 28):02d}"
            + "H501"
        )
        codes.append(first15 + check_character(first15))
    half = (size + 1) // 2
    return codes[:half], codes[half:]


def fiscal_code_hash(fiscal_code: str) -> str:
    """IO's feed hash: lowercase hex SHA-256 of the upper-case code."""
    return hashlib.sha256(fiscal_code.upper().encode()).hexdigest()
