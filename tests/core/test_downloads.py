"""Slugs in the file names of downloads: punctuation between words becomes a hyphen."""

import pytest

from ioportal.core.downloads import file_slug


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("TARI – accertamento-imu.csv", "tari-accertamento-imu-csv"),
        ("Accertamento IMU.xlsx", "accertamento-imu-xlsx"),
        ("L'avviso 2026/27", "l-avviso-2026-27"),
        ("Città di Castello", "citta-di-castello"),
        ("Non raggiungibili", "non-raggiungibili"),
        ("…", ""),
    ],
)
def test_punctuation_between_words_keeps_them_apart(text: str, slug: str) -> None:
    assert file_slug(text) == slug


def test_a_slug_cut_at_its_limit_ends_with_no_hyphen() -> None:
    assert file_slug("abc def", limit=4) == "abc"
