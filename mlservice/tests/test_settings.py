import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mlservice.settings.env import env_bool, env_float, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


def test_env_helpers_parse_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_FLOAT", "0.5")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    monkeypatch.setenv("X_STR", "  v  ")
    assert env_bool("X_BOOL") is True
    assert env_int("X_INT", 0) == 42
    assert env_float("X_FLOAT", 0.0) == 0.5
    assert env_list("X_LIST") == ["a", "b", "c"]
    assert env_str("X_STR") == "v"
    assert env_int("X_MISSING", 7) == 7


@pytest.mark.parametrize(
    ("name", "value", "reader"),
    [
        ("X_BOOL", "maybe", lambda: env_bool("X_BOOL")),
        ("X_INT", "abc", lambda: env_int("X_INT", 0)),
        ("X_INT", "5", lambda: env_int("X_INT", 0, max_value=3)),
        ("X_FLOAT", "-1", lambda: env_float("X_FLOAT", 0, min_value=0)),
    ],
)
def test_env_helpers_fail_loudly(monkeypatch, name, value, reader):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        reader()


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    # A developer's .env at the project root must not change what these tests see.
    environment["DJANGO_ENV_FILE"] = os.devnull
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_bad_env_value_stops_start_up():
    result = _manage("check", DJANGO_ENV="development", DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr


def test_unknown_django_env_is_rejected():
    result = _manage("check", DJANGO_ENV="staging")
    assert result.returncode != 0
    assert "DJANGO_ENV" in result.stderr


def test_production_refuses_default_secret_key():
    result = _manage("check", DJANGO_ENV="production")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'


def test_missing_production_secret_key_says_how_to_make_one():
    result = _manage("migrate", "--check", DJANGO_ENV="production")
    assert result.returncode == 1
    assert result.stderr.startswith("Configuration error: DJANGO_SECRET_KEY is not set.")
    assert MAKE_A_KEY in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key", ["your-secret-key", "django-insecure-" + "abcdefgh" * 6, "x" * 60])
def test_weak_production_secret_key_is_refused_with_the_recipe(key):
    result = _manage("check", DJANGO_ENV="production", DJANGO_SECRET_KEY=key)
    assert result.returncode == 1
    assert result.stderr.startswith("Configuration error: DJANGO_SECRET_KEY is too weak for production")
    assert MAKE_A_KEY in result.stderr and "Traceback" not in result.stderr


def test_the_recipe_makes_a_key_production_accepts():
    made = subprocess.run(
        [sys.executable, "-c", "import secrets; print(secrets.token_urlsafe(50))"], capture_output=True, text=True
    )
    result = _manage("check", DJANGO_ENV="production", DJANGO_SECRET_KEY=made.stdout.strip())
    assert result.returncode == 0, result.stderr


SHOW = "from django.conf import settings as s; print(s.DEBUG, s.DEFAULT_LLM_MODEL, s.DEFAULT_MAX_TOKENS, s.DEFAULT_TEMPERATURE)"


def test_debug_is_off_by_default_in_development_and_on_when_asked():
    # README's table: DJANGO_DEBUG defaults to off; `make run` serves on the development settings.
    assert _manage("shell", "-v", "0", "-c", SHOW, DJANGO_ENV="development").stdout.split()[0] == "False"
    assert (
        _manage("shell", "-v", "0", "-c", SHOW, DJANGO_ENV="development", DJANGO_DEBUG="true").stdout.split()[0]
        == "True"
    )


def test_dotenv_file_is_read_and_the_real_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\nDJANGO_ENV=development\nDEFAULT_LLM_MODEL=llama3.2\n"
        "DEFAULT_MAX_TOKENS=321\nDEFAULT_TEMPERATURE='0.9'\nexport DJANGO_DEBUG=true\n"
    )
    result = _manage("shell", "-v", "0", "-c", SHOW, DJANGO_ENV_FILE=str(env_file), DEFAULT_TEMPERATURE="0.2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "llama3.2", "321", "0.2"]


def test_dotenv_values_are_checked_like_the_environment(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEFAULT_MAX_TOKENS=lots\n")
    result = _manage("check", DJANGO_ENV_FILE=str(env_file))
    assert result.returncode == 1
    assert "DEFAULT_MAX_TOKENS='lots' is not a valid integer" in result.stderr


def test_dotenv_is_not_read_by_the_test_settings(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEFAULT_LLM_MODEL=from-dotenv\n")
    result = _manage(
        "shell", "-c", SHOW, DJANGO_ENV_FILE=str(env_file), DJANGO_SETTINGS_MODULE="mlservice.settings.test"
    )
    assert result.returncode == 0, result.stderr
    assert "from-dotenv" not in result.stdout


def test_dotenv_default_location_is_the_project_root():
    import mlservice.settings

    assert mlservice.settings.DEFAULT_ENV_FILE == ROOT / ".env"


def test_production_check_deploy_is_clean():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY="k3y-" + "x7Qp9" * 12,
        DJANGO_ALLOWED_HOSTS="ml.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
