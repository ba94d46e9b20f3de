"""``python manage.py test`` runs the pytest suite (settings.TEST_RUNNER), so both commands run the same tests.

The suite is written for pytest (fixtures, markers, pytest-django), which Django's unittest runner
cannot collect. pytest runs in a child process, exactly as ``pytest`` would (pytest.ini's options,
coverage included). Labels may be paths (``health``, ``tests/test_health.py::test_live``) or
Django's dotted labels (``tests.test_health``). manage.py selects the test settings for
this command, as pytest.ini does for ``pytest``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class PytestTestRunner:
    def __init__(
        self, verbosity: int = 1, failfast: bool = False, keepdb: bool = False, pytest_args: str = "", **kwargs: Any
    ) -> None:
        self.verbosity = verbosity
        self.failfast = failfast
        self.keepdb = keepdb
        self.pytest_args = pytest_args

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--keepdb", action="store_true", help="Reuse the test database (pytest --reuse-db).")
        parser.add_argument("--pytest-args", default="", help='Extra pytest options, e.g. --pytest-args="-k health".')

    def pytest_argv(self, test_labels: list[str] | tuple[str, ...]) -> list[str]:
        argv: list[str] = []
        if self.verbosity == 0:
            argv.append("-q")
        elif self.verbosity >= 2:
            argv.append("-" + "v" * (self.verbosity - 1))
        if self.failfast:
            argv.append("--exitfirst")
        if self.keepdb:
            argv.append("--reuse-db")
        argv.extend(self.pytest_args.split())
        argv.extend(label_to_path(label) for label in test_labels)
        return argv

    def run_tests(self, test_labels: list[str] | tuple[str, ...], **kwargs: Any) -> int:
        # pytest.main in a fresh interpreter, not in this one: here manage.py has already imported
        # the project, so coverage would miss every import-time line (23% instead of 43% on
        # `health`) and pytest could not rewrite the asserts of modules already loaded.
        command = [sys.executable, "-m", "pytest", *self.pytest_argv(test_labels)]
        # Django's command exits 1 when this is non-zero; pytest's own code says why (5: no tests).
        return subprocess.call(command, cwd=ROOT)


def label_to_path(label: str) -> str:
    """``app.tests.test_x`` -> ``app/tests/test_x.py``; ``app.tests.test_x.test_y`` -> ``...py::test_y``."""
    if "/" in label or "::" in label or (ROOT / label).exists():
        return label
    parts = label.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        rest = parts[cut:]
        module = base.with_suffix(".py")
        if module.is_file():
            return "::".join([module.relative_to(ROOT).as_posix(), *rest])
        if base.is_dir() and not rest:
            return base.relative_to(ROOT).as_posix()
    return label
