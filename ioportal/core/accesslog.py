"""gunicorn's logger for the portal (gunicorn.conf.py `logger_class`): gunicorn's own, with
`logfilters.SecretPaths` on every handler of its access and error logs, so that the first
request of an invitation or password-reset link ("GET /account/invito/<token>/") is written
with its token masked, and with the portal's time stamps: ISO 8601 with milliseconds and the
UTC offset (`logfilters.IsoTimeFormatter`), in the error log's lines and in the access log's
`%(t)s`. Imports neither Django nor the portal's settings: gunicorn loads it before the
application."""

from datetime import datetime
from typing import Any

from gunicorn.glogging import Logger

from ioportal.core.logfilters import IsoTimeFormatter, SecretPaths


class AccessLogger(Logger):
    """gunicorn's Logger whose handlers mask secret URL segments (set again at each setup:
    gunicorn rebuilds its handlers when it reloads its configuration)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, SecretPaths) for f in handler.filters):
                    handler.addFilter(SecretPaths())
        for handler in self.error_log.handlers:
            handler.setFormatter(IsoTimeFormatter(self.error_fmt))

    def now(self) -> str:
        """The request's moment for the access log's `%(t)s`, as the portal's lines write it
        ("2026-12-06T22:44:21.123+01:00"), not Apache's "[06/Dec/2026:22:44:21 +0100]"."""
        return datetime.now().astimezone().isoformat(timespec="milliseconds")
