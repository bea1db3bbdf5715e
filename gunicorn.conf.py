"""gunicorn settings for ioportal (see docs/deployment.md).

IO sends the citizen's fiscal code to the remote-content endpoints in a header named
`fiscal_code`. gunicorn >= 22 drops headers with underscores unless told otherwise, and the
portal needs that one: `header_map = "dangerous"` keeps it (as HTTP_FISCAL_CODE). nginx in
front must keep it too (`underscores_in_headers on;`) and must strip any client-sent
`fiscal-code` variant, which the docs show.
"""

import os
import time

# The portal's time zone (settings.TIME_ZONE), set before gunicorn logs anything: the master's
# error lines and the workers' access lines then carry the same UTC offset as the portal's
# own lines (which Django writes in TIME_ZONE).
os.environ.setdefault("TZ", "Europe/Rome")
time.tzset()

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 60
graceful_timeout = 30
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
header_map = "dangerous"
# The access and error logs mask the token of an invitation or password-reset link
# (GET /account/invito/<token>/ is the first request of such a link).
logger_class = "ioportal.core.accesslog.AccessLogger"
accesslog = "-"
# Apache's combined format, its moment first (ISO 8601, `AccessLogger.now`) as every other line.
access_log_format = '%(t)s %(h)s %(l)s %(u)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
errorlog = "-"
# No control socket: its default path ($HOME/.gunicorn/gunicorn.ctl) is one for every gunicorn
# of the user on the machine, so a second instance (another checkout, the tests) would take
# it over and remove it when it stops; the portal does not use `gunicornc`.
control_socket_disable = True
