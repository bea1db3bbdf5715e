"""Filters of the portal's logging configuration (settings.LOGGING)."""

import logging


class ExpectedForbidden(logging.Filter):
    """A 403 (PermissionDenied: a role or an organization that may not see a page) is an
    expected answer, not a fault: Django's `django.request` logs it with its traceback, which
    says nothing the status does not. This keeps one warning line with the path and the
    user's id (never a name or e-mail), without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403 or not record.exc_info:
            return True
        if not isinstance(record.args, tuple):
            return True
        request = getattr(record, "request", None)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else "anonymous"
        record.msg = f"{record.msg} (user %s)"
        record.args = (*record.args, user_id)
        record.exc_info = None
        record.exc_text = None
        return True
