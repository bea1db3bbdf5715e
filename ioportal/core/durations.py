"""Durations as the page's reader says them: "15 minuti", "1 ora e 30 minuti", "in 15 minutes"
never "PT15M" or "0:15:00". Every length of time a page or an e-mail shows goes through
`duration_words` (in templates, the `duration` filter, a builtin)."""

from datetime import timedelta

from django.utils.translation import gettext, ngettext


def duration_words(value: timedelta | int | float | None) -> str:
    """`value` (a timedelta, or a number of seconds) in words of the active language, down to
    the minute ("2 giorni e 3 ore", "15 minuti"); under a minute, the seconds. Parts that are
    zero are left out; None gives "". Negative values count as zero."""
    if value is None:
        return ""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    seconds = max(seconds, 0)
    if seconds < 60:
        return ngettext("%(count)d secondo", "%(count)d secondi", seconds) % {"count": seconds}
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(ngettext("%(count)d giorno", "%(count)d giorni", days) % {"count": days})
    if hours:
        parts.append(ngettext("%(count)d ora", "%(count)d ore", hours) % {"count": hours})
    if minutes:
        parts.append(ngettext("%(count)d minuto", "%(count)d minuti", minutes) % {"count": minutes})
    if len(parts) == 1:
        return parts[0]
    return gettext("%(first)s e %(last)s") % {"first": ", ".join(parts[:-1]), "last": parts[-1]}
