"""Production: refuses to start without a real secret key; `check --deploy` is clean."""

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .env import env_bool, env_choice, env_int, env_str

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
_MAKE_A_KEY = (
    'Make one with:  python -c "import secrets; print(secrets.token_urlsafe(50))"  and set it as '
    "DJANGO_SECRET_KEY (docker run -e DJANGO_SECRET_KEY=..., the compose environment or .env)."
)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is not set. Production needs a random secret key of at least 50 characters. {_MAKE_A_KEY}"
    )
# Django's own deploy check (security.W009): 50+ characters, 5+ distinct, not a generated dev key.
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is too weak for production ({len(SECRET_KEY)} characters, {len(set(SECRET_KEY))} "
        f"distinct; it needs 50+ random characters and must not start with django-insecure). {_MAKE_A_KEY}"
    )

# TLS is normally terminated by a proxy in front of the service; it tells us with this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Health probes and the Prometheus scrape come over plain HTTP from inside the cluster.
SECURE_REDIRECT_EXEMPT = [
    r"^health",
    r"^ready$",
    r"^live$",
    r"^metrics$",
    r"^api/v1/health",
    r"^api/v1/ready$",
    r"^api/v1/live$",
    r"^api/v1/metrics$",
]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000, min_value=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

DOCS_REQUIRE_LOGIN = env_bool("DOCS_REQUIRE_LOGIN", True)
ACCESS_LOG = env_bool("ACCESS_LOG", True)
LOG_FORMAT = env_choice("LOG_FORMAT", ("plain", "json"), "json")
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "plain"
