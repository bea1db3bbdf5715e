"""File names of the portal's downloads, in the user's language.

A name is made of words (`pgettext("file name", ...)`, "esiti" → "outcomes") and slugs of
what the file is about (`file_slug`: a dispatch's title, an outcome), each ASCII letters,
digits and hyphens, so that every browser and file system keeps it as it is.
"""

import re

from django.utils.text import slugify

# Punctuation between words ("imu.csv", "l'avviso", "2026/27", "TARI – elenco"): a hyphen,
# where Django's slugify would drop it and join the words.
_BETWEEN_WORDS = re.compile(r"[^\w\s-]+")


def file_slug(text: object, limit: int = 60) -> str:
    """`text` as part of a file name: lower-case ASCII letters, digits and single hyphens
    (`django.utils.text.slugify`, accents dropped), every run of punctuation a hyphen
    ("Accertamento IMU.csv" → "accertamento-imu-csv"), at most `limit` characters, with no
    hyphen at either end; "" when nothing is left."""
    return slugify(_BETWEEN_WORDS.sub("-", str(text)))[:limit].strip("-")
