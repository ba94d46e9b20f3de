#!/usr/bin/env python
import os
import sys


def main() -> None:
    # `manage.py test` runs pytest in this process (mlservice/test_runner.py): it needs the test
    # settings that pytest.ini gives `pytest`, before Django is set up.
    is_test = sys.argv[1:2] == ["test"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings.test" if is_test else "mlservice.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings: a configuration error surfaces here
    except ImproperlyConfigured as exc:
        # A bad or missing setting (DJANGO_SECRET_KEY, DJANGO_DEBUG=maybe...): say it plainly, no traceback.
        sys.exit(f"Configuration error: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
