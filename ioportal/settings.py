"""Settings of ioportal: one module, every value read from the environment.

Every variable is listed in `.env.example` and in the README. A `.env` file next to
`manage.py` is read when present; real environment variables win over it.
"""

import base64
import hashlib
import os
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from ioportal.environment import NO_LONGER_READ, Environment

BASE_DIR = Path(__file__).resolve().parent.parent

env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file), overwrite=False)
# Every getter refuses a malformed or out-of-range value at start (ioportal/environment.py).
env = Environment()

DEBUG = env.get_bool("DEBUG", default=False)

# Development gets a fixed throw-away key; production refuses to start without one.
SECRET_KEY = env.get_str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (see .env.example and "
            "docs/deployment.md), or set DEBUG=true for a development installation."
        )
    SECRET_KEY = "development-only-insecure-key-never-use-in-production-0123456789"

# Encryption of third-party secrets stored in the database (IO API keys), independent of
# SECRET_KEY so either can be rotated alone. Comma-separated Fernet keys, newest first: the
# first encrypts, all decrypt (docs/ioservices.md, "Rotating the encryption key").
FIELD_ENCRYPTION_KEYS: list[str] = [
    key.strip() for key in env.get_list("FIELD_ENCRYPTION_KEYS", default=[]) if key.strip()
]
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            'FIELD_ENCRYPTION_KEYS is not set. Generate a key with `python -c "from '
            'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"` and '
            "set it in the environment (see .env.example and docs/ioservices.md), or set "
            "DEBUG=true for a development installation."
        )
    # Development only: a fixed key, so every process of a checkout reads the same data.
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(
            hashlib.sha256(b"ioportal development-only field encryption key").digest()
        ).decode()
    ]
for _position, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key.encode())
    except (ValueError, TypeError):
        # The value itself is never echoed: it is a secret even when malformed.
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: key number {_position} is not a valid Fernet key "
            "(44 characters of URL-safe base64 encoding 32 bytes). Generate one with "
            '`python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`.'
        ) from None

# Keyed hash of citizens' fiscal codes (exact search, one citizen per dispatch). Changing it
# breaks both for stored deliveries, so it is set once per installation.
FISCAL_CODE_HMAC_KEY = env.get_str("FISCAL_CODE_HMAC_KEY", default="")
if not FISCAL_CODE_HMAC_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            'FISCAL_CODE_HMAC_KEY is not set. Generate one with `python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"` and set it once for the installation.'
        )
    FISCAL_CODE_HMAC_KEY = "development-only-fiscal-code-hmac-key"

ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_q",
    "ioportal.core",
    "ioportal.accounts",
    "ioportal.ioservices",
    "ioportal.messaging",
    "ioportal.sending",
    "ioportal.recipients",
    "ioportal.fakeio",
    "ioportal.remotecontent",
    "ioportal.dashboard",
    "ioportal.reports",
    "ioportal.reachability",
    "ioportal.retention",
    "ioportal.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Answers under /io/remote-content/ as problem+json, whichever layer below produced them.
    "ioportal.remotecontent.middleware.RemoteContentProblemMiddleware",
    # Before anything reads a cookie, a parameter or a form field (core/middleware.py).
    "ioportal.core.middleware.HostileInputMiddleware",
    # "database is locked" (SQLite's write lock held too long elsewhere): 503, not 500.
    "ioportal.core.middleware.DatabaseBusyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ioportal.core.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "ioportal.accounts.middleware.SessionLimitsMiddleware",
    "ioportal.accounts.middleware.OrganizationMiddleware",
    "ioportal.accounts.middleware.TwoFactorMiddleware",
    # A blank 405 (a POST-only URL opened by hand) becomes the Italian error page.
    "ioportal.core.middleware.MethodNotAllowedPageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ioportal.core.middleware.SecurityHeadersMiddleware",
    # Last, so that lockouts are answered before any view runs.
    "axes.middleware.AxesMiddleware",
]

# The portal serves its static files itself through whitenoise (or nginx does, see
# docs/deployment.md): collected files in production; in development (`make run`, gunicorn)
# straight from the app and package folders, picking up changes without a restart.
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

ROOT_URLCONF = "ioportal.urls"
WSGI_APPLICATION = "ioportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ioportal.accounts.context_processors.organization",
            ],
            # `|grouped`: counts with the thousands separator (2.000), on every page;
            # `|duration`: lengths of time in words ("15 minuti").
            "builtins": [
                "ioportal.core.templatetags.numbers",
                "ioportal.core.templatetags.durations",
                "ioportal.core.templatetags.tables",
            ],
        },
    },
]

_database_url = env.get_str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
if "://" not in _database_url:
    # The URL itself is not echoed: it may hold a password.
    raise ImproperlyConfigured(
        "DATABASE_URL must be a database URL such as postgres://user@host:5432/name or "
        "sqlite:///path/to/file.sqlite3."
    )
DATABASES = {"default": environ.Env.db_url_config(_database_url)}
# Persistent connections for a minute (the ORM broker otherwise opens one per enqueue and
# dequeue), checked before reuse.
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend, with the writers of a process queued in it (see the module).
    DATABASES["default"]["ENGINE"] = "ioportal.core.sqlitebackend"
    # Web, workers and simulator share one file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # WAL: readers never block the workers' short write transactions.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory, so integration tests can share it with real worker processes;
    # one per test run, so two runs in one checkout do not clash.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = env.get_int("PASSWORD_RESET_TIMEOUT", default=3600, minimum=60)
# Seconds an invitation link stays valid: colleagues may read it days later.
INVITATION_TIMEOUT = env.get_int("INVITATION_TIMEOUT", default=7 * 24 * 60 * 60, minimum=60)

# Sessions: an idle timeout (cookie age renewed on every request) and an absolute limit
# enforced by SessionLimitsMiddleware.
SESSION_COOKIE_AGE = env.get_int("SESSION_IDLE_TIMEOUT", default=30 * 60, minimum=60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ABSOLUTE_TIMEOUT = env.get_int(
    "SESSION_ABSOLUTE_TIMEOUT", default=10 * 60 * 60, minimum=SESSION_COOKIE_AGE
)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "ioportal.core.views.csrf_failure"

# Production hardening: on whenever DEBUG is off, each one can be relaxed explicitly.
SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.get_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.get_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.get_int(
    "SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.get_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.get_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.get_bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if env.get_bool("SILENCE_HSTS_PRELOAD_WARNING", default=True):
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Lockout after repeated failures, keyed on username *and* IP: an attacker elsewhere cannot
# lock a victim out, and every lockout ends by itself after the cool-off.
AXES_FAILURE_LIMIT = env.get_int("AXES_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.get_int("AXES_COOLOFF_MINUTES", default=15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Sign-in ignores the username's case: so do the failures' counts.
AXES_USERNAME_CALLABLE = "ioportal.accounts.models.sign_in_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_IPWARE_PROXY_COUNT = env.get_int("AXES_PROXY_COUNT", default=0, minimum=0)
AXES_VERBOSE = False

OTP_TOTP_ISSUER = env.get_str("OTP_TOTP_ISSUER", default="ioportal")
# The admin never shows a user's TOTP secret or QR code: whoever saw it could pass that
# user's second factor (and django-otp's views answer 500 for a device that does not exist).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LANGUAGE_CODE = "it"
LANGUAGES = [("it", "Italiano"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English pages write dates day first with a 24-hour clock, as Italian ones (core/formats).
FORMAT_MODULE_PATH = ["ioportal.core.formats"]
TIME_ZONE = "Europe/Rome"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.get_str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("bootstrap-italia", BASE_DIR / "node_modules" / "bootstrap-italia" / "dist"),
    # htmx: the supervision pages refresh their counters by themselves.
    ("htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    # Chart.js: the dashboard's charts.
    ("chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env.get_str("MEDIA_ROOT", default=str(BASE_DIR / "media")))

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env.get_str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
EMAIL_HOST = env.get_str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.get_int("EMAIL_PORT", default=25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env.get_str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.get_str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.get_bool("EMAIL_USE_TLS", default=False)
# The e-mails' Date header in TIME_ZONE with its offset, as the log lines, not in UTC (-0000).
EMAIL_USE_LOCALTIME = True
DEFAULT_FROM_EMAIL = env.get_str("DEFAULT_FROM_EMAIL", default="ioportal@localhost")

# django-q2. Retries belong to the delivery state machine, so the broker must never run a
# task twice on its own: retry > timeout, one attempt, failures acknowledged.
REDIS_URL = env.get_str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"REDIS_URL must start with redis://, rediss:// or unix://; got {REDIS_URL!r}."
    )
# Workers per qcluster process: the operator sizes them to the machine.
Q_WORKERS = env.get_int("Q_WORKERS", default=2, minimum=1)
Q_CLUSTER: dict[str, object] = {
    # Also the Redis queue's key; each test run gets its own (see tests/processes.py).
    "name": env.get_str(
        "Q_CLUSTER_NAME",
        default=f"ioportal-test-{os.getpid()}" if "PYTEST_VERSION" in os.environ else "ioportal",
    ),
    "workers": Q_WORKERS,
    # A task is stopped after 5 minutes (far above the pipeline's 60 s task budget) and only
    # re-offered after 10: timeout below retry, so no task ever runs twice at once.
    "timeout": 300,
    "retry": 600,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 1000,
    "catch_up": False,
    "label": "Django Q2",
    # Few tasks wait in a cluster's memory: a queued task never outlives `retry`, and a
    # crash with the Redis broker loses little (the sweeper re-enqueues it anyway).
    "queue_limit": Q_WORKERS,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5

# IO
IO_API_BASE_URL = env.get_str("IO_API_BASE_URL", default="https://api.io.pagopa.it/api/v1")
if not IO_API_BASE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"IO_API_BASE_URL must be an http(s) URL; got {IO_API_BASE_URL!r}.")
# Seconds to open a connection to IO and to wait for its answer (a submission answers in
# about a second; the worker retries a timeout as an uncertain outcome).
IO_API_CONNECT_TIMEOUT = 5.0
IO_API_READ_TIMEOUT = 20.0
IO_SPEC_DIR = Path(env.get_str("IO_SPEC_DIR", default=str(BASE_DIR.parent / "shared" / "io-spec")))

# Remote content: Premium PDF attachments served to IO (docs/remotecontent.md).
REMOTE_CONTENT_MAX_PDF_BYTES = env.get_int(
    "REMOTE_CONTENT_MAX_PDF_BYTES", default=10 * 1024 * 1024, minimum=1024
)
REMOTE_CONTENT_MAX_PDF_PAGES = env.get_int("REMOTE_CONTENT_MAX_PDF_PAGES", default=500, minimum=1)
# Attachments are deleted this many days after upload (IO shows an error after that).
REMOTE_CONTENT_RETENTION_DAYS = env.get_int("REMOTE_CONTENT_RETENTION_DAYS", default=365, minimum=1)
# Retry-After (seconds) sent to IO while an attachment is not ready yet.
REMOTE_CONTENT_RETRY_AFTER_SECONDS = 30

# Recipient lists (CSV/XLSX upload): limits, and how long an unsent list is kept.
# A MB is 2^20 bytes here as on every page (core.sizes.MEGABYTE; settings load before apps).
megabyte = 1024 * 1024  # lower case: not a setting
RECIPIENTS_MAX_UPLOAD_BYTES = (
    env.get_int("RECIPIENTS_MAX_UPLOAD_MB", default=20, minimum=1, maximum=1000) * megabyte
)
RECIPIENTS_MAX_ROWS = env.get_int("RECIPIENTS_MAX_ROWS", default=100_000, minimum=1)
# An XLSX is a zip: refused when its sheets would unpack to more than 200 MB (zip bomb).
RECIPIENTS_XLSX_MAX_UNCOMPRESSED_BYTES = 200 * megabyte
RECIPIENTS_LIST_TTL_HOURS = env.get_int("RECIPIENTS_LIST_TTL_HOURS", default=24, minimum=1)
# Before launch, a list warns about citizens who received the same content from the same
# service in this many days (ioportal.messaging.repeated).
REPEATED_CONTENT_DAYS = env.get_int("REPEATED_CONTENT_DAYS", default=30, minimum=1, maximum=3650)
# Exports of deliveries (docs/reports.md): an XLSX of more rows than this is prepared by a
# worker and downloaded from a page, not written while the browser waits (XlsxWriter sends
# nothing until the file is complete: about 0.25 ms a row, so 50,000 rows take some 13 s,
# well within a proxy's 60 s read timeout).
EXPORT_XLSX_INLINE_MAX_ROWS = env.get_int(
    "EXPORT_XLSX_INLINE_MAX_ROWS", default=50_000, minimum=0, maximum=1_000_000
)
# Uploads up to the limit stay in memory: never written to a temporary file.
FILE_UPLOAD_MAX_MEMORY_SIZE = RECIPIENTS_MAX_UPLOAD_BYTES + megabyte

# Sending pipeline (docs/sending.md): what the operator decides. The pipeline's internal
# tuning (batch size, leases, back-off, breaker, auto-pause, feed) is in sending/conf.py.
# Share of the IO account's limit the rate limiter grants in any 5 s window (0.98 = 147 of
# 150 calls, 245 of 250; the rest is the margin for the spread of network delays).
SENDING_RATE_TARGET = env.get_float("SENDING_RATE_TARGET", default=0.98, above=0, maximum=1)
# "auto": Redis when REDIS_URL is set, else the database; "db" forces the database;
# "redis" requires REDIS_URL.
SENDING_LIMITER = env.get_choice("SENDING_LIMITER", default="auto", choices=("auto", "db", "redis"))
if SENDING_LIMITER == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("SENDING_LIMITER=redis needs REDIS_URL to be set.")
SENDING_WORKERS_PER_ACCOUNT = env.get_int("SENDING_WORKERS_PER_ACCOUNT", default=4, minimum=1)
SENDING_MAX_ATTEMPTS = env.get_int("SENDING_MAX_ATTEMPTS", default=8, minimum=1)
SENDING_MAX_AGE_HOURS = env.get_float("SENDING_MAX_AGE_HOURS", default=24, above=0)
# IO calls in flight per account worker (0: from the account's limit, see sending.gateway) and
# accounts one worker process serves at once (each in its own thread); docs/sending.md, "Sizing".
SENDING_CONCURRENCY = env.get_int("SENDING_CONCURRENCY", default=0, minimum=0, maximum=256)
SENDING_ACCOUNTS_PER_WORKER = env.get_int("SENDING_ACCOUNTS_PER_WORKER", default=32, minimum=1)
# A 5xx answer to a submission: "strict" = uncertain (IO may have stored it), "lenient" =
# retry (rare duplicates accepted).
SENDING_SUBMIT_5XX_POLICY = env.get_choice(
    "SENDING_SUBMIT_5XX_POLICY", default="strict", choices=("strict", "lenient")
)
# Seconds between status polls of a sent message (the last one repeats), and for how long.
SENDING_POLL_INTERVALS = env.get_int_list(
    "SENDING_POLL_INTERVALS", default=[30, 60, 300, 1800, 3600], minimum=1
)
SENDING_POLL_HORIZON_DAYS = env.get_float("SENDING_POLL_HORIZON_DAYS", default=14, above=0)
# Premium read and payment status after PROCESSED, by the delivery's age (docs/sending.md):
# "AGE:INTERVAL" seconds, ascending ages, the last one a bare INTERVAL for older deliveries.
# Default: every 10 min in the first hour, 30 min up to 6 h, 2 h up to a day, 6 h up to
# three days, then daily (checked by sending.E007). SENDING_PREMIUM_POLL_SECONDS > 0 caps
# every interval (demo, tests).
SENDING_PREMIUM_POLL_SCHEDULE = env.get_list(
    "SENDING_PREMIUM_POLL_SCHEDULE",
    default=["3600:600", "21600:1800", "86400:7200", "259200:21600", "86400"],
)
SENDING_PREMIUM_POLL_SECONDS = env.get_int("SENDING_PREMIUM_POLL_SECONDS", default=0, minimum=0)
# The dashboard warns when no worker ran its heartbeat for 3 minutes (beats every minute).
WORKER_HEARTBEAT_STALE_SECONDS = 180

# Variables earlier versions read are refused rather than ignored in silence.
_still_set = [name for name in NO_LONGER_READ if env.raw(name) is not None]
if _still_set:
    raise ImproperlyConfigured(
        f"{', '.join(_still_set)}: no longer read from the environment (now constants in the "
        "code, see the README's Configuration section); remove them from the environment/.env."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "ioportal.core.logfilters.IsoTimeFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {
        "expected_403": {"()": "ioportal.core.logfilters.ExpectedForbidden"},
        # No log line holds the token of an invitation or password-reset link.
        "secret_paths": {"()": "ioportal.core.logfilters.SecretPaths"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["secret_paths"],
        },
        # runserver's request lines, as Django's default configuration writes them.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["secret_paths"],
        },
    },
    "root": {
        "handlers": ["console"],
        "level": env.get_choice(
            "LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
    },
    "loggers": {
        "axes": {"level": "WARNING"},
        # urllib3 logs request URLs at DEBUG, and IO's get-message URL holds a fiscal code.
        "urllib3": {"level": "INFO"},
        # Without handlers of its own (Django's default adds a console one in DEBUG, which
        # printed every record a second time next to the root's): one line per record.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # A 403 is an expected answer: a warning with path and user id, no traceback.
        "django.request": {"filters": ["expected_403"]},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
