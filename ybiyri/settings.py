"""ybiyri settings: everything comes from the environment, with safe local defaults.

Grouped by concern, each setting defined once: core, database, cache, Celery (with the one beat
schedule and the outbox policy), mail, sign-in (accounts, throttling, OpenID Connect), the API,
integrations (broadcast channels, backlog trackers, evidence sources, insights), security. Every
variable read here is described in the README's configuration table.
"""

import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_money(name: str) -> Decimal | None:
    """An amount of money (a non-negative decimal, "750000" or "750000.50"), or None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be an amount of money such as 750000, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be an amount of money such as 750000, got {raw!r}")
    return value


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def checked_url(name: str, value: str) -> str:
    """`value` if it is an http(s) URL, else ImproperlyConfigured naming the variable."""
    if value:
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def env_url(name: str, default: str = "") -> str:
    return checked_url(name, env_str(name, default))


# --- Core -------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", default=False)
# A well-known key would let anyone forge signed links and sessions: no silent default outside
# development, where Django's prefix for development keys makes `check --deploy` flag it (W009).
SECRET_KEY = env_str("SECRET_KEY") or (
    "django-insecure-ybiyri-local-development-key-never-use-in-production" if DEBUG else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set (50+ random characters) unless DEBUG=1")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or ["127.0.0.1", "localhost", "testserver"]
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS") or [SITE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "incidents",
    "reviews",
    # The project itself, for its commands (seed_demo builds incidents and reviews alike).
    "ybiyri",
    # The API's interactive docs: Swagger UI served from our own static files (no CDN).
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ybiyri.request_text.UnfitTextMiddleware",
]

ROOT_URLCONF = "ybiyri.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "ybiyri.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", default=False)
# Until `collectstatic` has run (the container image runs it), WhiteNoise serves from the source folders.
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            # Hashed, compressed files once `collectstatic` has run (the container image sets it).
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # One line per task run is noise in eager mode; failures are still logged as warnings.
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}

# --- Database ---------------------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}

# --- Cache: Redis when REDIS_URL is set, in-process otherwise -----------------------------------

REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "ybiyri.cache.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Celery: Redis as the broker, or eager in-process without it --------------------------------

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish must not hang a web request when the broker is down: the outbox row is already
# committed and the beat reconciler enqueues it later.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "max_retries": 1, "socket_connect_timeout": 2}
CELERY_TASK_PUBLISH_RETRY = False
# Celery's Django fixup closes the database connection before and after every task unless told to
# reuse it: a new PostgreSQL connection per task costs more than the task itself (a Jira push is
# ~6 ms). Reuse it for this many tasks; a task that calls django.db.close_old_connections() first
# (as a request does) still gets CONN_MAX_AGE and CONN_HEALTH_CHECKS applied to it.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 200)
CELERY_IMPORTS = [
    "incidents.tasks",
    "incidents.evidence.tasks",
    "reviews.backlog.tasks",
    "reviews.broadcast.tasks",
]
# One queue per outbox kind, so that 10,000 broadcast mails never delay a Jira push: a worker
# consuming several queues takes from each in turn, and each may get workers of its own.
CELERY_TASK_ROUTES = {
    "incidents.tasks.*": {"queue": "notifications"},
    "reviews.backlog.tasks.*": {"queue": "backlog"},
    "reviews.broadcast.tasks.*": {"queue": "broadcast"},
    "incidents.evidence.tasks.*": {"queue": "evidence"},
}
# The one beat schedule: the outbox reconcilers (a safety net for lost messages and dead workers),
# the analysis reminders, the evidence purge and the poll of the backlog trackers for missed webhooks.
CELERY_BEAT_SCHEDULE = {
    "reconcile-notifications": {"task": "incidents.tasks.notifications_reconcile_task", "schedule": 60.0},
    "analysis-reminders": {"task": "incidents.tasks.analysis_reminders_task", "schedule": 900.0},
    "reconcile-action-syncs": {"task": "reviews.backlog.tasks.actions_reconcile_task", "schedule": 60.0},
    "reconcile-broadcast-deliveries": {
        "task": "reviews.broadcast.tasks.deliveries_reconcile_task",
        "schedule": 60.0,
    },
    "reconcile-slack-imports": {
        "task": "incidents.evidence.tasks.slack_imports_reconcile_task",
        "schedule": 60.0,
    },
    "purge-evidence": {"task": "incidents.evidence.tasks.evidence_purge_task", "schedule": 3600.0},
    "reconcile-backlog-status": {
        "task": "reviews.backlog.tasks.backlog_status_reconcile_task",
        "schedule": env_int("BACKLOG_STATUS_RECONCILE_SECONDS", 300),
    },
}
# The outbox (ybiyri.outbox), one policy for every kind: a transient failure is retried after an
# exponential backoff from the base, with jitter, capped; after the last attempt the row fails.
# The BACKLOG_* names are the earlier names of the same variables, still read.
OUTBOX_RETRY_BASE_SECONDS = env_int("OUTBOX_RETRY_BASE_SECONDS", env_int("BACKLOG_RETRY_BASE_SECONDS", 10))
OUTBOX_RETRY_CAP_SECONDS = env_int("OUTBOX_RETRY_CAP_SECONDS", env_int("BACKLOG_RETRY_CAP_SECONDS", 600))
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", env_int("BACKLOG_SYNC_MAX_ATTEMPTS", 8))

# --- Mail: the EMAIL_* variables configure Django 6.1's default mailer; no host → console -------

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ybiyri <ybiyri@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SMTP_OPTIONS = {
    "host": env_str("EMAIL_HOST"),
    "port": env_int("EMAIL_PORT", 25),
    "username": env_str("EMAIL_HOST_USER"),
    "password": env_str("EMAIL_HOST_PASSWORD"),
    "use_tls": env_bool("EMAIL_USE_TLS", default=False),
    "timeout": env_int("EMAIL_TIMEOUT", 30),
}
MAILERS = {
    "default": (
        {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": SMTP_OPTIONS}
        if SMTP_OPTIONS["host"]
        else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    )
}

# --- Sign-in: accounts, throttling, OpenID Connect single sign-on -------------------------------

AUTH_USER_MODEL = "incidents.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:my_work"
LOGOUT_REDIRECT_URL = "login"

# Failed attempts per account, and per client address within the window. An address gets many
# more: everyone behind an office NAT shares it. Behind a trusted reverse proxy the client address
# is the last X-Forwarded-For hop.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_ADDRESS_LIMIT = env_int("LOGIN_FAILURE_ADDRESS_LIMIT", 50)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_TRUST_X_FORWARDED_FOR = env_bool("BEHIND_PROXY")

# SSO is off unless OIDC_RP_CLIENT_ID is set; then local accounts keep working alongside it.
# Endpoints come from OIDC_OP_DISCOVERY, or each is given explicitly (an explicit one wins).
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET")
OIDC_OP_DISCOVERY = env_url("OIDC_OP_DISCOVERY")
OIDC_OP_ISSUER = env_str("OIDC_OP_ISSUER")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_url("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_url("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_url("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_url("OIDC_OP_JWKS_ENDPOINT")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
OIDC_CREATE_USER = env_bool("OIDC_CREATE_USER", default=True)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10)
OIDC_CLOCK_SKEW_SECONDS = env_int("OIDC_CLOCK_SKEW_SECONDS", 60)
OIDC_USE_PKCE = True
OIDC_AUTHENTICATE_CLASS = "ybiyri.auth.OIDCAuthenticateView"
OIDC_CALLBACK_CLASS = "ybiyri.auth.OIDCCallbackView"
if OIDC_RP_CLIENT_ID:
    if not OIDC_RP_CLIENT_SECRET:
        raise ImproperlyConfigured("OIDC_RP_CLIENT_SECRET must be set when OIDC_RP_CLIENT_ID is")
    _oidc_endpoints = ["OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT"]
    if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")):
        _oidc_endpoints.append("OIDC_OP_JWKS_ENDPOINT")
    _oidc_missing = [name for name in _oidc_endpoints if not globals()[name]]
    if _oidc_missing and not OIDC_OP_DISCOVERY:
        raise ImproperlyConfigured(f"Single sign-on needs OIDC_OP_DISCOVERY or {', '.join(_oidc_missing)}")
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    *(["ybiyri.auth.OIDCBackend"] if OIDC_RP_CLIENT_ID else []),
]

# --- API (DRF) and its schema -------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first, so that a request without credentials gets 401 with `WWW-Authenticate: Token`
    # (DRF answers 403 when the first scheme is the session, which has no challenge to send).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "ybiyri.api_renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "ybiyri.api_filters.ApiFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ybiyri.api_errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ybiyri API",
    "DESCRIPTION": "Incident learning: incidents, analyses, reviews, improvement actions and narratives.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Like everything but the sign-in page, the schema and its docs are for signed-in members.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.api.serializers.IncidentStatus",
        "AnalysisStatusEnum": "incidents.api.serializers.AnalysisStatus",
        "ReviewStatusEnum": "reviews.api.serializers.ReviewStatus",
        "ActionStatusEnum": "reviews.api.serializers.ActionStatus",
        "ActionKindEnum": "reviews.api.serializers.ActionKind",
        "FactorKindEnum": "reviews.api.serializers.FactorKind",
        "NarrativeStatusEnum": "reviews.api.serializers.NarrativeStatus",
        "TrainingKindEnum": "reviews.api.serializers.TrainingKind",
        "WalkthroughKindEnum": "reviews.api.walkthroughs.WalkthroughKind",
    },
}

# --- Integrations (each off until configured) ---------------------------------------------------

# Broadcast channels.
BROADCAST_EMAIL_TO = env_list("BROADCAST_EMAIL_TO")
BROADCAST_EMAIL_MEMBERS = env_bool("BROADCAST_EMAIL_MEMBERS", default=False)
# SMTP connections one batch of broadcast mail is sent over at the same time.
BROADCAST_EMAIL_CONNECTIONS = env_int("BROADCAST_EMAIL_CONNECTIONS", 4)
if BROADCAST_EMAIL_CONNECTIONS < 1:
    raise ImproperlyConfigured("BROADCAST_EMAIL_CONNECTIONS must be at least 1")
SLACK_WEBHOOK_URL = env_url("SLACK_WEBHOOK_URL")
TEAMS_WEBHOOK_URL = env_url("TEAMS_WEBHOOK_URL")
BROADCAST_WEBHOOK_URLS = [
    checked_url("BROADCAST_WEBHOOK_URLS", url) for url in env_list("BROADCAST_WEBHOOK_URLS")
]
BROADCAST_WEBHOOK_SECRET = env_str("BROADCAST_WEBHOOK_SECRET")
# Confluence: one page per narrative in the space, under the parent page when one is given.
CONFLUENCE_URL = env_url("CONFLUENCE_URL")
CONFLUENCE_USER = env_str("CONFLUENCE_USER")
CONFLUENCE_API_TOKEN = env_str("CONFLUENCE_API_TOKEN")
CONFLUENCE_SPACE_KEY = env_str("CONFLUENCE_SPACE_KEY")
CONFLUENCE_PARENT_PAGE_ID = env_str("CONFLUENCE_PARENT_PAGE_ID")
if CONFLUENCE_URL and not CONFLUENCE_SPACE_KEY:
    raise ImproperlyConfigured("CONFLUENCE_SPACE_KEY must be set when CONFLUENCE_URL is")
if CONFLUENCE_URL and not CONFLUENCE_API_TOKEN:
    raise ImproperlyConfigured("CONFLUENCE_API_TOKEN must be set when CONFLUENCE_URL is")
# The key is quoted inside CQL: a quote or a space in it would change the query.
if CONFLUENCE_SPACE_KEY and not re.fullmatch(r"~?[A-Za-z0-9_-]+", CONFLUENCE_SPACE_KEY):
    raise ImproperlyConfigured(f"CONFLUENCE_SPACE_KEY must be a space key, got {CONFLUENCE_SPACE_KEY!r}")
if CONFLUENCE_PARENT_PAGE_ID and not re.fullmatch(r"[0-9]+", CONFLUENCE_PARENT_PAGE_ID):
    raise ImproperlyConfigured(
        f"CONFLUENCE_PARENT_PAGE_ID must be a page id (digits), got {CONFLUENCE_PARENT_PAGE_ID!r}"
    )

# Backlog trackers (reviews.backlog). TRELLO_API_SECRET is the Power-Up/app secret that signs
# Trello's webhooks.
JIRA_URL = env_url("JIRA_URL")
JIRA_USER = env_str("JIRA_USER")
JIRA_API_TOKEN = env_str("JIRA_API_TOKEN")
JIRA_PROJECT_KEY = env_str("JIRA_PROJECT_KEY")
JIRA_ISSUE_TYPE = env_str("JIRA_ISSUE_TYPE", "Task")
JIRA_WEBHOOK_SECRET = env_str("JIRA_WEBHOOK_SECRET")
TRELLO_API_KEY = env_str("TRELLO_API_KEY")
TRELLO_TOKEN = env_str("TRELLO_TOKEN")
TRELLO_LIST_ID = env_str("TRELLO_LIST_ID")
TRELLO_API_SECRET = env_str("TRELLO_API_SECRET")
TRELLO_API_URL = env_url("TRELLO_API_URL", "https://api.trello.com")

# Evidence (incidents.evidence): pager webhooks, Slack channel import, retention (each off until
# configured). A pager event older than PAGER_WEBHOOK_MAX_AGE_SECONDS is a replay and is refused.
PAGERDUTY_WEBHOOK_SECRET = env_str("PAGERDUTY_WEBHOOK_SECRET")
OPSGENIE_WEBHOOK_TOKEN = env_str("OPSGENIE_WEBHOOK_TOKEN")
ALERTMANAGER_WEBHOOK_TOKEN = env_str("ALERTMANAGER_WEBHOOK_TOKEN")
PAGER_WEBHOOK_MAX_AGE_SECONDS = env_int("PAGER_WEBHOOK_MAX_AGE_SECONDS", 24 * 3600)
# PagerDuty's v3 webhooks name people by id and name: with a REST API key (read-only suffices),
# each is looked up once (GET /users/{id}, cached) for the email that matches them to a member.
PAGERDUTY_API_TOKEN = env_str("PAGERDUTY_API_TOKEN")
PAGERDUTY_API_URL = env_url("PAGERDUTY_API_URL", "https://api.pagerduty.com")
SLACK_BOT_TOKEN = env_str("SLACK_BOT_TOKEN")
SLACK_API_URL = env_url("SLACK_API_URL", "https://slack.com/api")
SLACK_EXPORT_MAX_BYTES = env_int("SLACK_EXPORT_MAX_BYTES", 200 * 1024 * 1024)
# Chat messages are deleted this many days after their import (0: kept), except those promoted
# to key events; pager events are kept.
EVIDENCE_RETENTION_DAYS = env_int("EVIDENCE_RETENTION_DAYS", 0)

# Insights: what an hour of failure costs the organisation (the practice puts it at $0.5M–$1M for
# large retailers); the cost of delay of an improvement to a service without a cost of delay per day
# of its own is counted at 24 times this a day. Unset: such delays are counted in days only.
COST_OF_FAILURE_PER_HOUR = env_money("COST_OF_FAILURE_PER_HOUR")

# --- Security: strict by default, relaxed only for local development over plain HTTP ------------

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=SITE_URL.startswith("https://"))
SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SITE_URL.startswith("https://")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SITE_URL.startswith("https://") else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY") else None
