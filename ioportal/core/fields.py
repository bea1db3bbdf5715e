"""Model fields shared by the apps."""

import json
from typing import Any

from django.db import models

from ioportal.core import crypto


class EncryptedJSONField(models.TextField):
    """A JSON object encrypted at rest with the portal's field keys (`core.crypto`).

    The column holds `crypto.encrypt(<JSON text>)`, or "" for an empty object; the attribute
    is the decoded object, so readers use it like a JSONField. No lookups on its contents: the
    database never sees them. A stored value no configured key can read raises
    crypto.DecryptionError when the row is loaded.
    """

    description = "JSON object, encrypted"
    # What django-stubs reports as the attribute's type (the column is text).
    _pyi_private_set_type: dict[str, Any]  # type: ignore[assignment]
    _pyi_private_get_type: dict[str, Any]  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return self.to_python(value)

    def to_python(self, value: Any) -> Any:
        if value is None or value == "":
            return {}
        if not isinstance(value, str):
            return value
        return json.loads(crypto.decrypt(value))

    def get_prep_value(self, value: Any) -> str:
        if value is None or value == {}:
            return ""
        if isinstance(value, str):
            raise TypeError("an EncryptedJSONField takes the decoded object, not a string")
        return crypto.encrypt(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))
