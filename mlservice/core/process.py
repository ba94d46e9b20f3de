"""What kind of process this is: the one answer to "does this process serve requests?"."""

from __future__ import annotations

import os
import sys

# manage.py commands that serve requests; every other command (migrate, test, shell...) must not
# spend CPU and memory loading a model it will never use.
SERVING_COMMANDS = frozenset({"runserver"})


def is_serving_process(argv: list[str] | None = None) -> bool:
    """True under a WSGI/ASGI server (granian, gunicorn, uvicorn) and ``runserver``'s serving child."""
    argv = sys.argv if argv is None else argv
    if "pytest" in sys.modules:
        return False
    program = os.path.basename(argv[0]) if argv else ""
    if program in {"manage.py", "django-admin", "django-admin.py"} or program.endswith("django"):
        command = argv[1] if len(argv) > 1 else ""
        if command not in SERVING_COMMANDS:
            return False
        # The autoreloader's parent process only watches files; its child (RUN_MAIN) serves.
        return os.environ.get("RUN_MAIN") == "true" or "--noreload" in argv
    return True
