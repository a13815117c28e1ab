"""Django settings for Muster. Every knob is an environment variable (DESIGN §5.1)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from muster import config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = config.data_dir("MUSTER_DATA_DIR", str(BASE_DIR / "data"))

DEBUG = config.envbool("MUSTER_DEBUG", "False")

SECRET_KEY = (
    config.secret_key(config.envsecret("MUSTER_SECRET_KEY"))
    if config.is_set("MUSTER_SECRET_KEY")
    else config.read_or_create(DATA_DIR / "secret_key", config.new_secret_key())
)
MUSTER_ENCRYPTION_KEYS = config.encryption_keys(
    config.envsecret("MUSTER_ENCRYPTION_KEYS")
    or config.read_or_create(DATA_DIR / "encryption_keys", config.new_fernet_key())
)

# Demo only (`make run` sets it): a file with the Qualtrics sandbox's values for the Connect page.
MUSTER_DEMO_CONNECT_FILE = config.env("MUSTER_DEMO_CONNECT_FILE")
MUSTER_PUBLIC_URL = config.envurl("MUSTER_PUBLIC_URL", "http://127.0.0.1:8000")
_public = urlsplit(MUSTER_PUBLIC_URL)
_public_is_https = _public.scheme == "https"
ALLOWED_HOSTS = sorted({_public.hostname or "", "127.0.0.1", "localhost"} - {""})
CSRF_TRUSTED_ORIGINS = [f"{_public.scheme}://{_public.netloc}"]
SESSION_COOKIE_SECURE = _public_is_https
CSRF_COOKIE_SECURE = _public_is_https
SECURE_HSTS_SECONDS = 31536000 if _public_is_https else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _public_is_https else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DEFAULT_EXCEPTION_REPORTER_FILTER = "muster.front.debug.AlwaysSafeExceptionReporterFilter"
SESSION_COOKIE_AGE = 14 * 24 * 3600

MUSTER_QUALTRICS_ALLOWED_HOSTS = config.host_patterns(
    config.env("MUSTER_QUALTRICS_ALLOWED_HOSTS", "*.qualtrics.com"), "MUSTER_QUALTRICS_ALLOWED_HOSTS"
)
MUSTER_QUALTRICS_PARTICIPANT_FIELD = config.env("MUSTER_QUALTRICS_PARTICIPANT_FIELD", "rallyParticipantId")
if not MUSTER_QUALTRICS_PARTICIPANT_FIELD.replace("_", "").isalnum():
    raise ImproperlyConfigured("MUSTER_QUALTRICS_PARTICIPANT_FIELD must be letters, digits and underscores.")
MUSTER_QUALTRICS_SERVICE_USER = config.env("MUSTER_QUALTRICS_SERVICE_USER", "Muster UXR").strip()
if not MUSTER_QUALTRICS_SERVICE_USER:
    raise ImproperlyConfigured("MUSTER_QUALTRICS_SERVICE_USER must not be empty.")
MUSTER_QUALTRICS_CALLS_PER_MINUTE = config.envint("MUSTER_QUALTRICS_CALLS_PER_MINUTE", "300", minimum=1)
MUSTER_API_CALLS_PER_MINUTE = config.envint("MUSTER_API_CALLS_PER_MINUTE", "600", minimum=1)
# 0: an uploaded CSV file is deleted as soon as its import no longer needs it.
MUSTER_KEEP_UPLOADS_DAYS = config.envint("MUSTER_KEEP_UPLOADS_DAYS", "0", minimum=0)

vars().update(config.email_settings(config.env("MUSTER_EMAIL_URL"), DATA_DIR))
DEFAULT_FROM_EMAIL = config.from_email(config.env("MUSTER_FROM_EMAIL", "research@localhost"))
SERVER_EMAIL = DEFAULT_FROM_EMAIL

MUSTER_REDIS_URL = config.env("MUSTER_REDIS_URL")
if MUSTER_REDIS_URL:
    config.redis_url(MUSTER_REDIS_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    # Only so that the API docs (/api/v1/docs) load Swagger UI from Muster's static files, not a CDN.
    "ninja",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "muster.accounts",
    "muster.scheduling",
    "muster.front",
    "muster.api",
    "muster.integrations.qualtrics",
    "muster.people",
    "muster.studies",
    "muster.surveys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "muster.front.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "muster.accounts.middleware.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "muster.urls"
WSGI_APPLICATION = "muster.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in lockout: five failures for one email from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Django's sign-in form posts the email as "username" (our USERNAME_FIELD is email).
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "muster.accounts.views.locked_out"
AXES_VERBOSE = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "muster" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "muster.front.context_processors.navigation",
                "muster.integrations.qualtrics.context_processors.broken_connection",
            ],
        },
    },
]

_sqlite_path = DATA_DIR / "muster.sqlite3"
DATABASES = {"default": config.database(config.envsecret("DATABASE_URL"), _sqlite_path)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work beside the one writer; IMMEDIATE takes the write lock at BEGIN
        # so two writers queue on busy_timeout instead of failing on a lock upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The database cache is shared by every process (web, workers, scheduler): rate limits and the
# Qualtrics call budget must hold across all of them. `migrate` makes its table
# (muster/front/migrations/0001_cache_table.py, which names the same table).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "muster_cache",
    }
}
if MUSTER_REDIS_URL:
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": MUSTER_REDIS_URL}
RATELIMIT_USE_CACHE = "default"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["muster.formats"]
# The default; each user can choose their own on their Account page (muster.accounts.middleware).
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing one before collectstatic ran
STATICFILES_DIRS = [BASE_DIR / "muster" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "muster.front.storage.StaticStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False
MEDIA_ROOT = DATA_DIR / "uploads"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# One formatter for every record, so outside text cannot forge log lines (muster/logs.py).
# Django's own loggers write through it too, instead of through their unescaped handlers.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "muster.logs.OneLineFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
    },
}
