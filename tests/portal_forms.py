"""Every form class of the portal, for tests that check a rule on all of them."""

import importlib
import pkgutil

from django import forms

import ioportal


def portal_forms() -> list[type[forms.BaseForm]]:
    """The form classes defined in `ioportal` (every `forms` and `views` module imported
    first, so the ones built there are found), subclasses included."""
    for module in pkgutil.walk_packages(ioportal.__path__, "ioportal."):
        if module.name.rsplit(".", 1)[-1] in {"forms", "views"}:
            importlib.import_module(module.name)
    found, pending = [], [forms.BaseForm]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("ioportal."):
                found.append(sub)
    return found
