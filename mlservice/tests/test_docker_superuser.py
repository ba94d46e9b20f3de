"""The admin user for containers (README "Docker"): the image's start command creates it from
DJANGO_SUPERUSER_USERNAME/EMAIL/PASSWORD with ``createsuperuser --noinput`` and still starts on
later runs. The Dockerfile's own CMD runs here (its final ``exec ... serve`` swapped for an echo)
in production settings on a fresh SQLite file, twice, as two container starts would."""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

ROOT = Path(__file__).resolve().parents[2]


def _start_command() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "the Dockerfile has no exec-form CMD"
    command = json.loads(match.group(1))
    assert command[:2] == ["sh", "-c"] and "createsuperuser --noinput" in command[2]
    serve = command[2].index("exec python manage.py serve")
    return [*command[:2], command[2][:serve] + "echo server-would-start"]


@pytest.mark.slow
def test_the_image_start_command_creates_the_admin_once_and_starts_anyway(tmp_path: Path) -> None:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_"))},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MLSERVICE_DATA_DIR": str(tmp_path),
        "ENABLE_REQUEST_LOGGING": "false",
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        "DJANGO_SUPERUSER_PASSWORD": "correct-horse-battery-staple",
    }
    first = subprocess.run(_start_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "Superuser created successfully." in first.stdout and "server-would-start" in first.stdout
    again = subprocess.run(_start_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "server-would-start" in again.stdout  # a restart still serves
    assert "That username is already taken" in again.stderr

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        rows = db.execute("SELECT username, email, is_superuser, is_staff, password FROM auth_user").fetchall()
    assert [row[:4] for row in rows] == [("admin", "admin@example.com", 1, 1)]
    assert PBKDF2PasswordHasher().verify("correct-horse-battery-staple", rows[0][4])  # production's hasher
