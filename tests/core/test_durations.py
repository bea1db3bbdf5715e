"""Durations in words of the reader's language, never ISO 8601 ("PT15M") or "0:15:00"."""

from datetime import timedelta

from django.utils import translation

from ioportal.core.durations import duration_words


def test_italian_words():
    with translation.override("it"):
        assert duration_words(timedelta(minutes=15)) == "15 minuti"
        assert duration_words(timedelta(minutes=1)) == "1 minuto"
        assert duration_words(3600) == "1 ora"
        assert duration_words(timedelta(hours=1, minutes=30)) == "1 ora e 30 minuti"
        assert duration_words(timedelta(days=7)) == "7 giorni"
        assert duration_words(timedelta(days=2, hours=3, minutes=1)) == "2 giorni, 3 ore e 1 minuto"
        assert duration_words(30) == "30 secondi"
        assert duration_words(None) == ""


def test_english_words():
    with translation.override("en"):
        assert duration_words(timedelta(minutes=15)) == "15 minutes"
        assert duration_words(timedelta(hours=1, minutes=1)) == "1 hour and 1 minute"
