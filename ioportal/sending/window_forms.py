"""Forms of the sending pages: the organization's send windows."""

from datetime import time
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext_lazy as _

from ioportal.messaging.windows import MIDNIGHT, PRESET_WORKING_DAYS, Schedule, hours_to_stored

WEEKDAYS = [
    _("lunedì"),
    _("martedì"),
    _("mercoledì"),
    _("giovedì"),
    _("venerdì"),
    _("sabato"),
    _("domenica"),
]
TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _time_text(value: object) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return "" if value is None else str(value)


class SendWindowsForm(forms.Form):
    """Whether sending is limited to windows, one interval per weekday, and holidays."""

    enabled = forms.TypedChoiceField(
        label=_("Quando possono arrivare i messaggi ai cittadini"),
        choices=[
            ("0", _("In qualsiasi momento (nessuna finestra di invio)")),
            ("1", _("Solo nei giorni e negli orari indicati qui sotto")),
        ],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
        initial="0",
        help_text=_(
            "Senza finestre, un invio distribuito (con una scadenza o un massimo giornaliero) "
            "parte comunque solo di giorno, dalle 8 alle 20."
        ),
        error_messages={
            "required": _(
                "Scegli quando possono arrivare i messaggi: «In qualsiasi momento» oppure "
                "«Solo nei giorni e negli orari indicati»."
            ),
            "invalid_choice": _(
                "Scegli quando possono arrivare i messaggi: «In qualsiasi momento» oppure "
                "«Solo nei giorni e negli orari indicati»."
            ),
        },
    )
    skip_holidays = forms.BooleanField(
        label=_("Non inviare nelle festività nazionali"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for number, name in enumerate(WEEKDAYS):
            self.fields[f"day_{number}"] = forms.BooleanField(label=name, required=False)
            self.fields[f"start_{number}"] = forms.TimeField(
                label=_("dalle"),
                required=False,
                widget=TIME_WIDGET,
                input_formats=["%H:%M", "%H:%M:%S"],
                error_messages={
                    "invalid": _("Per %(day)s l'ora di inizio non è valida: scrivila come 08:30.")
                    % {"day": name}
                },
            )
            self.fields[f"end_{number}"] = forms.TimeField(
                label=_("alle"),
                required=False,
                widget=TIME_WIDGET,
                input_formats=["%H:%M", "%H:%M:%S"],
                error_messages={
                    "invalid": _("Per %(day)s l'ora di fine non è valida: scrivila come 20:00.")
                    % {"day": name}
                },
                help_text=_("00:00 vuol dire fino a mezzanotte."),
            )

    @staticmethod
    def initial_for(*, enabled: bool, schedule: Schedule) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "enabled": "1" if enabled else "0",
            "skip_holidays": schedule.skip_holidays,
        }
        for number in range(7):
            hours = schedule.hours.get(number)
            initial[f"day_{number}"] = hours is not None
            start, end = hours or (time(8, 0), time(20, 0))
            initial[f"start_{number}"] = start
            initial[f"end_{number}"] = end
        return initial

    @classmethod
    def preset(cls) -> "SendWindowsForm":
        """The unsaved form filled with "giorni feriali 8–20, festività escluse"."""
        return cls(initial=cls.initial_for(enabled=True, schedule=PRESET_WORKING_DAYS))

    def top_errors(self) -> list[str]:
        """The errors shown above the form: those of the whole form and of the fields that
        are not in the days' table (`days` shows the others next to their day), so no invalid
        input is refused without saying why."""
        in_table = {
            f"{prefix}_{number}" for prefix in ("day", "start", "end") for number in range(7)
        }
        errors = [str(error) for error in self.non_field_errors()]
        for name, field_errors in self.errors.items():
            if name != NON_FIELD_ERRORS and name not in in_table:
                errors.extend(str(error) for error in field_errors)
        return errors

    def days(self) -> list[dict[str, Any]]:
        """Per weekday: its name and its three bound fields, for the template's table."""
        return [
            {
                "number": number,
                "name": name,
                "on": self[f"day_{number}"],
                "start": self[f"start_{number}"],
                "end": self[f"end_{number}"],
                "start_value": _time_text(self[f"start_{number}"].value()),
                "end_value": _time_text(self[f"end_{number}"].value()),
                "errors": [
                    *self[f"day_{number}"].errors,
                    *self[f"start_{number}"].errors,
                    *self[f"end_{number}"].errors,
                ],
            }
            for number, name in enumerate(WEEKDAYS)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        hours: dict[int, tuple[time, time]] = {}
        for number, name in enumerate(WEEKDAYS):
            if not data.get(f"day_{number}"):
                continue
            start, end = data.get(f"start_{number}"), data.get(f"end_{number}")
            if start is None or end is None:
                if f"start_{number}" not in self.errors and f"end_{number}" not in self.errors:
                    self.add_error(
                        f"start_{number}",
                        _("Indica l'ora di inizio e quella di fine per %(day)s.") % {"day": name},
                    )
                continue
            if end != MIDNIGHT and end <= start:
                self.add_error(
                    f"end_{number}",
                    _(
                        "Per %(day)s l'ora di fine deve venire dopo quella di inizio "
                        "(una finestra non può passare la mezzanotte)."
                    )
                    % {"day": name},
                )
                continue
            hours[number] = (start, end)
        if data.get("enabled") and not hours and not self.errors:
            raise forms.ValidationError(
                _(
                    "Scegli almeno un giorno con il suo orario, oppure «In qualsiasi momento»: "
                    "senza finestre nessun messaggio partirebbe."
                )
            )
        data["hours"] = hours_to_stored(hours)
        return data
