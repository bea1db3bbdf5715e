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

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    env.read_env(str(env_file), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Development gets a fixed throw-away key; production refuses to start without one.
SECRET_KEY = env.str("SECRET_KEY", default="")
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
    key.strip() for key in env.list("FIELD_ENCRYPTION_KEYS", default=[]) if key.strip()
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
FISCAL_CODE_HMAC_KEY = env.str("FISCAL_CODE_HMAC_KEY", default="")
if not FISCAL_CODE_HMAC_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            'FISCAL_CODE_HMAC_KEY is not set. Generate one with `python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"` and set it once for the installation.'
        )
    FISCAL_CODE_HMAC_KEY = "development-only-fiscal-code-hmac-key"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Answers under /io/remote-content/ as problem+json, whichever layer below produced them.
    "ioportal.remotecontent.middleware.RemoteContentProblemMiddleware",
    # Before anything reads a cookie, a parameter or a form field (core/middleware.py).
    "ioportal.core.middleware.HostileInputMiddleware",
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
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
# Persistent connections (the ORM broker otherwise opens one per enqueue and dequeue),
# checked before reuse.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
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
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# Seconds an invitation link stays valid: colleagues may read it days later.
INVITATION_TIMEOUT = env.int("INVITATION_TIMEOUT", default=7 * 24 * 60 * 60)

# Sessions: an idle timeout (cookie age renewed on every request) and an absolute limit
# enforced by SessionLimitsMiddleware.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT", default=10 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "ioportal.core.views.csrf_failure"

# Production hardening: on whenever DEBUG is off, each one can be relaxed explicitly.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if env.bool("SILENCE_HSTS_PRELOAD_WARNING", default=True):
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Lockout after repeated failures, keyed on username *and* IP: an attacker elsewhere cannot
# lock a victim out, and every lockout ends by itself after the cool-off.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_VERBOSE = False

OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="ioportal")
# The admin never shows a user's TOTP secret or QR code: whoever saw it could pass that
# user's second factor (and django-otp's views answer 500 for a device that does not exist).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LANGUAGE_CODE = "it"
LANGUAGES = [("it", "Italiano"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Rome"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("bootstrap-italia", BASE_DIR / "node_modules" / "bootstrap-italia" / "dist"),
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
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ioportal@localhost")

# django-q2. Retries belong to the delivery state machine, so the broker must never run a
# task twice on its own: retry > timeout, one attempt, failures acknowledged.
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER: dict[str, object] = {
    # Also the Redis queue's key; each test run gets its own (see tests/processes.py).
    "name": env.str(
        "Q_CLUSTER_NAME",
        default=f"ioportal-test-{os.getpid()}" if "PYTEST_VERSION" in os.environ else "ioportal",
    ),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=600),
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 1000,
    "catch_up": False,
    "label": "Django Q2",
    # Few tasks wait in a cluster's memory: a queued task never outlives `retry`, and a
    # crash with the Redis broker loses little (the sweeper re-enqueues it anyway).
    "queue_limit": env.int("Q_WORKERS", default=2),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5

# IO
IO_API_BASE_URL = env.str("IO_API_BASE_URL", default="https://api.io.pagopa.it/api/v1")
IO_API_CONNECT_TIMEOUT = env.float("IO_API_CONNECT_TIMEOUT", default=5.0)
IO_API_READ_TIMEOUT = env.float("IO_API_READ_TIMEOUT", default=20.0)
# Remote content: Premium PDF attachments served to IO (docs/remotecontent.md).
REMOTE_CONTENT_MAX_PDF_BYTES = env.int("REMOTE_CONTENT_MAX_PDF_BYTES", default=10 * 1024 * 1024)
REMOTE_CONTENT_MAX_PDF_PAGES = env.int("REMOTE_CONTENT_MAX_PDF_PAGES", default=500)
# Attachments are deleted this many days after upload (IO shows an error after that).
REMOTE_CONTENT_RETENTION_DAYS = env.int("REMOTE_CONTENT_RETENTION_DAYS", default=365)
# Retry-After (seconds) sent to IO while an attachment is not ready yet.
REMOTE_CONTENT_RETRY_AFTER_SECONDS = env.int("REMOTE_CONTENT_RETRY_AFTER_SECONDS", default=30)
IO_SPEC_DIR = env.path("IO_SPEC_DIR", default=str(BASE_DIR.parent / "shared" / "io-spec"))

# Recipient lists (CSV/XLSX upload): limits, and how long an unsent list is kept.
RECIPIENTS_MAX_UPLOAD_BYTES = env.int("RECIPIENTS_MAX_UPLOAD_MB", default=20) * 1_000_000
RECIPIENTS_MAX_ROWS = env.int("RECIPIENTS_MAX_ROWS", default=100_000)
RECIPIENTS_XLSX_MAX_UNCOMPRESSED_BYTES = (
    env.int("RECIPIENTS_XLSX_MAX_UNCOMPRESSED_MB", default=200) * 1_000_000
)
RECIPIENTS_LIST_TTL_HOURS = env.int("RECIPIENTS_LIST_TTL_HOURS", default=24)
# Uploads up to the limit stay in memory: never written to a temporary file.
FILE_UPLOAD_MAX_MEMORY_SIZE = RECIPIENTS_MAX_UPLOAD_BYTES + 1_000_000

# Sending pipeline (docs/sending.md).
# Share of the IO account's limit the token bucket refills at, and its capacity, both as
# fractions of the calls per 5 s; the capacity is at least one token. 0.01 = 1.5 tokens at
# 150 calls/5 s: IO's exact sliding window sees no burst, and no refill is lost to the
# workers' ms of lateness (ioportal/sending/limiter.py).
SENDING_RATE_TARGET = env.float("SENDING_RATE_TARGET", default=0.96)
SENDING_RATE_BURST = env.float("SENDING_RATE_BURST", default=0.01)
# "db" forces the database limiter even when REDIS_URL is set (default: Redis when set).
SENDING_LIMITER = env.str("SENDING_LIMITER", default="auto")
SENDING_BATCH_SIZE = env.int("SENDING_BATCH_SIZE", default=10)
SENDING_WORKERS_PER_ACCOUNT = env.int("SENDING_WORKERS_PER_ACCOUNT", default=4)
# IO calls in flight per account worker (0: from the account's limit, see sending.gateway) and
# accounts one worker process serves at once (each in its own thread).
SENDING_CONCURRENCY = env.int("SENDING_CONCURRENCY", default=0)
SENDING_ACCOUNTS_PER_WORKER = env.int("SENDING_ACCOUNTS_PER_WORKER", default=32)
SENDING_TASK_BUDGET = env.int("SENDING_TASK_BUDGET", default=60)
SENDING_LEASE_SECONDS = env.int("SENDING_LEASE_SECONDS", default=180)
SENDING_MAX_ATTEMPTS = env.int("SENDING_MAX_ATTEMPTS", default=8)
SENDING_MAX_AGE_HOURS = env.float("SENDING_MAX_AGE_HOURS", default=24)
SENDING_BACKOFF_BASE = env.float("SENDING_BACKOFF_BASE", default=5)
SENDING_BACKOFF_CAP = env.float("SENDING_BACKOFF_CAP", default=900)
# A 5xx answer to a submission: "strict" = uncertain (IO may have stored it), "lenient" =
# retry (rare duplicates accepted).
SENDING_SUBMIT_5XX_POLICY = env.str("SENDING_SUBMIT_5XX_POLICY", default="strict")
if SENDING_SUBMIT_5XX_POLICY not in ("strict", "lenient"):
    raise ImproperlyConfigured("SENDING_SUBMIT_5XX_POLICY must be strict or lenient.")
SENDING_BREAKER_THRESHOLD = env.int("SENDING_BREAKER_THRESHOLD", default=10)
SENDING_BREAKER_COOLDOWN = env.float("SENDING_BREAKER_COOLDOWN", default=30)
SENDING_POLL_INTERVALS = [
    int(v) for v in env.list("SENDING_POLL_INTERVALS", default=["30", "60", "300", "1800", "3600"])
]
SENDING_POLL_HORIZON_DAYS = env.float("SENDING_POLL_HORIZON_DAYS", default=14)
SENDING_PREMIUM_POLL_SECONDS = env.int("SENDING_PREMIUM_POLL_SECONDS", default=6 * 3600)
# Auto-pause: at least MIN of the first WINDOW outcomes, RATE of them refused by IO.
SENDING_AUTOPAUSE_MIN = env.int("SENDING_AUTOPAUSE_MIN", default=20)
SENDING_AUTOPAUSE_RATE = env.float("SENDING_AUTOPAUSE_RATE", default=0.5)
SENDING_AUTOPAUSE_WINDOW = env.int("SENDING_AUTOPAUSE_WINDOW", default=200)
# Subscriptions feed (services with feed access): days fetched back at most, and how many
# days the last synced day may lag behind yesterday before the pipeline stops trusting it.
SENDING_FEED_BACKFILL_DAYS = env.int("SENDING_FEED_BACKFILL_DAYS", default=30)
SENDING_FEED_MAX_LAG_DAYS = env.int("SENDING_FEED_MAX_LAG_DAYS", default=2)
# The dashboard warns when no worker ran its heartbeat for this long.
WORKER_HEARTBEAT_STALE_SECONDS = env.int("WORKER_HEARTBEAT_STALE_SECONDS", default=180)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # urllib3 logs request URLs at DEBUG, and IO's get-message URL holds a fiscal code.
    "loggers": {"axes": {"level": "WARNING"}, "urllib3": {"level": "INFO"}},
}
