"""gunicorn's logger for the portal (gunicorn.conf.py `logger_class`): gunicorn's own, with
`logfilters.SecretPaths` on every handler of its access and error logs, so that the first
request of an invitation or password-reset link ("GET /account/invito/<token>/") is written
with its token masked. Imports neither Django nor the portal's settings: gunicorn loads it
before the application."""

from typing import Any

from gunicorn.glogging import Logger

from ioportal.core.logfilters import SecretPaths


class AccessLogger(Logger):
    """gunicorn's Logger whose handlers mask secret URL segments (set again at each setup:
    gunicorn rebuilds its handlers when it reloads its configuration)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, SecretPaths) for f in handler.filters):
                    handler.addFilter(SecretPaths())
