"""Settings are chosen by DJANGO_ENV: development (default), production or test.

A ``.env`` file at the project root (or the file named by DJANGO_ENV_FILE) is read first; the
real environment wins over it. The test settings (pytest, ``manage.py test``) do not read it, so
a developer's keys or database never leak into the suite.
"""

import os
from pathlib import Path

from .env import env_choice, read_env_file

DEFAULT_ENV_FILE = Path(__file__).resolve().parents[2] / ".env"
_MODULE = os.environ.get("DJANGO_SETTINGS_MODULE", "mlservice.settings")

if _MODULE != "mlservice.settings.test":
    read_env_file(os.environ.get("DJANGO_ENV_FILE") or DEFAULT_ENV_FILE)

_ENV = env_choice("DJANGO_ENV", ("development", "production", "test"), "development")

# DJANGO_SETTINGS_MODULE may name one of the modules directly (mlservice.settings.test); this
# package's choice is then not used and must not run (production would demand a secret key).
if _MODULE != "mlservice.settings":
    pass
elif _ENV == "production":
    from .production import *
elif _ENV == "test":
    from .test import *
else:
    from .development import *
