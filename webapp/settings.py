"""Django settings for bungeo.

Every setting is read from the environment (django-environ) with a safe local default, so that
``make run`` works on a fresh machine with no configuration. See docs/configuration.md.
"""
from __future__ import annotations

import logging
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

log = logging.getLogger("bungeo.settings")

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# A local default only: production must set DJANGO_SECRET_KEY.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="bungeo-local-development-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "webapp.sandboxes",
    "labs",
    "exercises",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "webapp.middleware.HtmxLoginRedirectMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "webapp.sandboxes.context_processors.isolation",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Database: SQLite by default, PostgreSQL (or anything) through DATABASE_URL
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# Redis: channel layer and Celery broker. Without REDIS_URL everything runs in-process
# (in-memory channel layer, eager tasks), which is said clearly in the log at start-up.
# ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 gives sockets a default read timeout that is shorter than the blocking
            # pop channels_redis waits on (5 s), which drops every idle websocket
            # (redis/redis-py#4091): allow reads longer than that pop.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    # No read on the broker may wait forever (kombu's default): a worker whose BRPOP reply never
    # came sat deaf with grading tasks queued (seen in `make test`); with a timeout the read
    # fails and kombu reconnects. kombu's BRPOP returns within 1 s, so 30 s is never normal.
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 30, "socket_connect_timeout": 10}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html
CELERY_BEAT_SCHEDULE = {
    "sandboxes-reconcile": {"task": "webapp.sandboxes.tasks.sandboxes_reconcile",
                            "schedule": 300.0},
    "sandboxes-reap-idle": {"task": "webapp.sandboxes.tasks.sandboxes_reap_idle",
                            "schedule": 60.0},
    "sandboxes-pool-fill": {"task": "webapp.sandboxes.tasks.sandboxes_pool_fill",
                            "schedule": 15.0, "options": {"expires": 14}},
    "sandboxes-grading-pool-fill": {"task": "webapp.sandboxes.tasks.sandboxes_grading_pool_fill",
                                    "schedule": 15.0, "options": {"expires": 14}},
}

# ------------------------------------------------------------------------------
# Auth
# ------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "labs:index"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# ------------------------------------------------------------------------------
# Internationalisation: Korean first, English second; the browser's language by default.
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Seoul")
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------
# Static and uploaded files
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
# Static files are served by ServeStatic (the ASGI-aware fork of WhiteNoise): WhiteNoise's file
# responses are synchronous iterators, which Django's ASGI handler reads whole in a thread and
# warns about on every request (a log line per stylesheet and script).
SERVESTATIC_USE_FINDERS = True
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
# Uploads above this many bytes are refused before they reach the grader.
BUNGEO_SUBMISSION_MAX_BYTES = env.int("BUNGEO_SUBMISSION_MAX_BYTES", default=1_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Request bodies above this many bytes are refused (413) before Django reads them: Django's ASGI
# handler otherwise writes a whole body to a temporary file before any view or check runs, so
# anyone could fill the host's disk with endless uploads (webapp.asgi.RequestBodyLimit).
BUNGEO_REQUEST_MAX_BYTES = env.int("BUNGEO_REQUEST_MAX_BYTES",
                                   default=max(BUNGEO_SUBMISSION_MAX_BYTES + 1_048_576, 4_194_304))

# ------------------------------------------------------------------------------
# Sandboxes (see DESIGN.md, "Sandboxes"): bungeo's dedicated sandbox engine
# ------------------------------------------------------------------------------
# Where bungeo keeps the sandbox engine's data, the image cache marks and the registry mirror.
BUNGEO_DATA_DIR = env.path("BUNGEO_DATA_DIR", default="/var/lib/bungeo")
# Sockets, pid files and one directory per sandbox (bind-mounted into it for its inner engine).
BUNGEO_RUN_DIR = env.path("BUNGEO_RUN_DIR", default="/run/bungeo")
BUNGEO_SANDBOX_ENGINE_URL = env.str(
    "BUNGEO_SANDBOX_ENGINE_URL", default=f"unix://{BUNGEO_RUN_DIR}/engine.sock"
)
# The dedicated engine's own bridge and subnet; the first address is the host side (gateway),
# where the classroom registry mirror listens.
BUNGEO_SANDBOX_BRIDGE = env.str("BUNGEO_SANDBOX_BRIDGE", default="bungeo0")
BUNGEO_SANDBOX_SUBNET = env.str("BUNGEO_SANDBOX_SUBNET", default="10.213.0.0/24")
BUNGEO_MIRROR_PORT = env.int("BUNGEO_MIRROR_PORT", default=5000)
# Off: sandboxes reach only the classroom registry mirror. On: also public internet addresses
# (never private ranges, link-local or the host's services). See engine.firewall_plan.
BUNGEO_SANDBOX_INTERNET = env.bool("BUNGEO_SANDBOX_INTERNET", default=False)
# Isolation mode (DESIGN.md): auto (strongest available), sysbox, userns, rootless or trusted:
# see webapp/sandboxes/isolation.py
BUNGEO_ISOLATION = env.str("BUNGEO_ISOLATION", default="auto")
# Limits per sandbox, enforced from outside (a host-owned cgroup).
BUNGEO_SANDBOX_MEMORY = env.str("BUNGEO_SANDBOX_MEMORY", default="2g")
BUNGEO_SANDBOX_CPUS = env.float("BUNGEO_SANDBOX_CPUS", default=1.0)
# Threads for the blocking calls of terminals and lab pages (Docker API requests, execs): they
# mostly wait on sockets, and Python's default pool had 6 on a 2-core host
# (webapp/sandboxes/blocking.py).
BUNGEO_BLOCKING_THREADS = env.int("BUNGEO_BLOCKING_THREADS", default=64)
# Disk quota per sandbox (its inner engine's storage) and per learner workspace, e.g. "10g":
# each is a loop-mounted ext4 file system of that size (sparse: only used blocks take space, about
# 70 MB of file system each at first; one loop device each, made on demand). On by default: without
# it one learner's `fallocate -l 20G` fills the host's disk. Empty: no quota (storage in named
# volumes on the engine's disk).
BUNGEO_SANDBOX_DISK = env.str("BUNGEO_SANDBOX_DISK", default="10g")
BUNGEO_SANDBOX_PIDS = env.int("BUNGEO_SANDBOX_PIDS", default=1024)
# Grading sandboxes keep their inner engine's storage (the pulled stand-ins, built images) in a
# tmpfs of this size instead of on disk: grading runs much faster, at the cost of memory (the
# sandbox's memory limit grows by this much; a run uses about 1 GB of it). Empty or 0: on disk.
BUNGEO_GRADING_TMPFS = env.str("BUNGEO_GRADING_TMPFS", default="3g")
# Seconds to wait for a sandbox's inner engine to answer after start.
BUNGEO_SANDBOX_READY_TIMEOUT = env.float("BUNGEO_SANDBOX_READY_TIMEOUT", default=30.0)
# Terminals connect to the relay socket in the sandbox (socat, images/sandbox/term.sh) rather than
# running `docker exec`; off, or when a sandbox's relay does not answer, docker exec is used.
BUNGEO_TERMINAL_RELAY = env.bool("BUNGEO_TERMINAL_RELAY", default=True)
# Seconds without an attached terminal before a learner's sandbox is stopped (files kept).
# Started sandboxes with no owner kept ready, so that a learner's first click is instant (each
# idle one costs about 40 MiB). 0 turns the warm pool off.
BUNGEO_SANDBOX_POOL_SIZE = env.int("BUNGEO_SANDBOX_POOL_SIZE", default=2)
# A learner's sandbox runs at most this long after it starts (seconds), then is stopped with its
# files and images kept; the learner is warned BUNGEO_SANDBOX_WARN_BEFORE seconds ahead and may
# extend it by BUNGEO_SANDBOX_EXTEND_SECONDS, at most BUNGEO_SANDBOX_MAX_EXTENSIONS times.
BUNGEO_SANDBOX_MAX_LIFETIME = env.int("BUNGEO_SANDBOX_MAX_LIFETIME", default=4 * 3600)
BUNGEO_SANDBOX_EXTEND_SECONDS = env.int("BUNGEO_SANDBOX_EXTEND_SECONDS", default=3600)
BUNGEO_SANDBOX_MAX_EXTENSIONS = env.int("BUNGEO_SANDBOX_MAX_EXTENSIONS", default=2)
BUNGEO_SANDBOX_WARN_BEFORE = env.int("BUNGEO_SANDBOX_WARN_BEFORE", default=600)
# At most this many learner sandboxes run at once (admission control; the rest wait in a queue
# with their place shown). While anyone waits, idle sandboxes are stopped after
# BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL seconds instead of BUNGEO_SANDBOX_IDLE_TIMEOUT.
BUNGEO_SANDBOX_CAPACITY = env.int("BUNGEO_SANDBOX_CAPACITY", default=50)
BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL = env.int("BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL", default=300)
BUNGEO_SANDBOX_IDLE_TIMEOUT = env.int("BUNGEO_SANDBOX_IDLE_TIMEOUT", default=1800)
# Start a learner's sandbox in the background when they log in (needs a Celery worker).
BUNGEO_PRESTART_ON_LOGIN = env.bool("BUNGEO_PRESTART_ON_LOGIN", default=True)
# Prefix of every sandbox container and volume name; tests use their own.
BUNGEO_SANDBOX_PREFIX = env.str("BUNGEO_SANDBOX_PREFIX", default="bungeo")
BUNGEO_SANDBOX_BACKEND = env.str(
    "BUNGEO_SANDBOX_BACKEND", default="webapp.sandboxes.docker_backend.DockerSandboxBackend"
)

# ------------------------------------------------------------------------------
# Grading
# ------------------------------------------------------------------------------
# Seconds a grading run may take before Celery stops it (soft limit, then hard limit). A2 pulls
# four images, builds the API and starts its five containers twice: 1.5-4 min on a fresh sandbox
# of a busy 2-core host (bench/grade_a2.py).
BUNGEO_GRADING_SOFT_TIME_LIMIT = env.int("BUNGEO_GRADING_SOFT_TIME_LIMIT", default=360)
BUNGEO_GRADING_TIME_LIMIT = env.int("BUNGEO_GRADING_TIME_LIMIT", default=420)
# Grading sandboxes kept started with the images below already pulled (one per grading worker is
# enough; each is used for one run, then removed). Pulling the node stand-in into a cold sandbox
# takes 15-25 s of an A1 grading on this kind of host. 0 turns the pool off. Pulled in this order;
# a run that needs fewer (A1: node) trims the rest once it claims the sandbox: node comes first.
BUNGEO_GRADING_POOL_SIZE = env.int("BUNGEO_GRADING_POOL_SIZE", default=3)
BUNGEO_GRADING_PREPULL = env.list("BUNGEO_GRADING_PREPULL", default=[
    "node:18-alpine", "nginx:alpine", "redis:7-alpine", "postgres:16-alpine", "busybox:latest",
    "alpine:latest"])

# ------------------------------------------------------------------------------
# Logging
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx (the preview's relay) and httpcore log every request at INFO / DEBUG: one line per
    # asset of every previewed page.
    "filters": {"drop_aborted": {"()": "webapp.aborts.DropAbortedResponses"}},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "httpx": {"level": "WARNING"},
                "httpcore": {"level": "WARNING"},
                # A preview cut short ends its connection on purpose (webapp/aborts.py).
                "uvicorn.error": {"filters": ["drop_aborted"]}},
}
