"""Counts that can reach 1.000 are written with the thousands separator (the `grouped`
filter, core.numbers.grouped): a template never prints a `count` of blocktranslate, or a
count column, as the bare number."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BLOCK = re.compile(r"\{% blocktranslate\b([^%]*)%\}(.*?)\{% endblocktranslate %\}", re.DOTALL)
# Columns and items of lists whose values are counts (recipients, messages, rows); not an
# attribute (`value="…"` of a <progress>), which keeps the bare number.
COUNT_VALUES = re.compile(
    r"(?<!=\")\{\{ ?(?:d\.recipients|usage\.(?:purchased|used|remaining)"
    r"|row\.(?:premium|standard|line)|r\.line|check\.(?:reachable|checked|total)) ?\}\}"
)

# Counts that stay small: the recovery codes left (at most 10).
SMALL = {"templates/accounts/otp_account.html: counter"}


def _templates() -> list[Path]:
    return sorted((ROOT / "templates").rglob("*.html"))


def test_the_count_of_a_blocktranslate_is_not_printed_bare() -> None:
    offending = []
    for path in _templates():
        for arguments, body in BLOCK.findall(path.read_text()):
            count = re.search(r"\bcount (\w+)=", arguments)
            if count and re.search(r"\{\{ ?" + count.group(1) + r" ?\}\}", body):
                offending.append(f"{path.relative_to(ROOT)}: {count.group(1)}")
    assert not set(offending) - SMALL, offending


def test_count_columns_are_grouped() -> None:
    offending = [
        f"{path.relative_to(ROOT)}: {match}"
        for path in _templates()
        for match in COUNT_VALUES.findall(path.read_text())
    ]
    assert not offending, offending
