"""`python manage.py test` runs the pytest suite: the same tests, the same count, pytest.ini's options."""

import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from mlservice.test_runner import PytestTestRunner, label_to_path

ROOT = Path(__file__).resolve().parents[2]
TARGET = "mlservice/tests/test_debug_errors.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    # SQLite and no cache server: a nested run must not share the outer run's test database.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )


def _passed(output: str) -> int:
    match = re.search(r"(\d+) passed", output)
    assert match, output[-2000:]
    return int(match.group(1))


def test_manage_py_test_runs_the_pytest_suite_with_the_same_count():
    pytest_run = _run("-m", "pytest", "-p", "no:cacheprovider", "--no-cov", TARGET)
    manage_run = _run(
        "manage.py", "test", "mlservice.tests.test_debug_errors", "--pytest-args=-p no:cacheprovider --no-cov"
    )
    assert pytest_run.returncode == 0 and manage_run.returncode == 0, (
        manage_run.stdout[-2000:] + manage_run.stderr[-2000:]
    )
    assert _passed(manage_run.stdout) == _passed(pytest_run.stdout) == 5
    assert "Found 0 test(s)" not in manage_run.stdout + manage_run.stderr


def test_manage_py_test_fails_when_a_test_fails():
    result = _run("manage.py", "test", f"{TARGET}::test_no_such_test", "--pytest-args=-p no:cacheprovider --no-cov")
    assert result.returncode == 1


def test_the_runner_is_the_configured_one():
    assert settings.TEST_RUNNER == "mlservice.test_runner.PytestTestRunner"


def test_django_options_become_pytest_options():
    runner = PytestTestRunner(verbosity=2, failfast=True, keepdb=True, pytest_args="-k health")
    assert runner.pytest_argv(["health"]) == ["-v", "--exitfirst", "--reuse-db", "-k", "health", "health"]
    assert PytestTestRunner(verbosity=0).pytest_argv([]) == ["-q"]
    assert PytestTestRunner().pytest_argv([]) == []


def test_dotted_labels_become_paths():
    assert label_to_path("health") == "health"
    assert label_to_path("tests") == "tests"
    assert label_to_path("tests.test_health") == "tests/test_health.py"
    assert label_to_path("tests.test_health.test_live") == "tests/test_health.py::test_live"
    assert label_to_path("tests/test_health.py::test_live") == "tests/test_health.py::test_live"
    assert label_to_path("tests.missing") == "tests.missing"  # pytest says it is not found
