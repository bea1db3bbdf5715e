"""How the portal greets: "Buongiorno" by day, "Buonasera" in the evening and at night, by
the Italian clock (TIME_ZONE, Europe/Rome), on the dashboard and in the e-mails that greet."""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

# Local hours from which "Buongiorno" is said, and from which "Buonasera" (as Italians
# greet: good evening from 18:00).
MORNING_FROM = 5
EVENING_FROM = 18


def is_evening(moment: datetime | None = None) -> bool:
    """Whether `moment` (aware; default now), read in the active time zone, is from
    EVENING_FROM until MORNING_FROM: the time of "Buonasera"."""
    hour = timezone.localtime(moment or timezone.now()).hour
    return not MORNING_FROM <= hour < EVENING_FROM


def salutation(moment: datetime | None = None) -> str:
    """The opening of an e-mail: "Buongiorno," or "Buonasera," (`is_evening`)."""
    return _("Buonasera,") if is_evening(moment) else _("Buongiorno,")
