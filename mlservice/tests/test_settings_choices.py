"""Enum-like settings (issue 13): a value outside the choices stops start-up, naming it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mlservice.settings.env import env_choice

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DIR = ROOT / "mlservice" / "settings"

# Every env_choice variable of the settings modules, with a typo and a value the choices allow.
CHOICES = {
    "EMBEDDING_LOCAL_BACKEND": ("onxx", "onnx"),
    "RAG_VECTOR_STORE": ("qdarnt", "qdrant"),
    "RAG_FUSION": ("rfr", "rrf"),
    "RAG_ANSWER_MODE": ("extractve", "extractive"),
    "RERANK_PROVIDER": ("coher", "cohere"),
    "ANALYSIS_BACKEND": ("fsat", "fast"),
    "TRANSCRIPTION_BACKEND": ("opneai", "openai"),
    "TRANSCRIPTION_LOCAL_MODEL": ("tiny", "tiny.en"),
    "TRANSCRIPTION_LOCAL_COMPUTE_TYPE": ("int4", "float32"),
    "TRANSCRIPTION_JOB_RUNNER": ("celry", "celery"),
    "LOG_LEVEL": ("VERBOSE", "DEBUG"),
    "LOG_FORMAT": ("jsno", "json"),
    "DJANGO_ENV": ("prodution", "test"),
}


def test_every_env_choice_of_the_settings_is_covered() -> None:
    source = "\n".join(path.read_text() for path in SETTINGS_DIR.glob("*.py") if path.name != "env.py")
    assert set(re.findall(r'env_choice\(\s*"([A-Z0-9_]+)"', source)) == set(CHOICES)


def test_choice_matches_case_insensitively_and_returns_the_choice_spelling(monkeypatch) -> None:
    monkeypatch.setenv("X_LEVEL", " debug ")
    assert env_choice("X_LEVEL", ("DEBUG", "INFO"), "INFO") == "DEBUG"
    monkeypatch.setenv("X_LEVEL", "")
    assert env_choice("X_LEVEL", ("DEBUG", "INFO"), "INFO") == "INFO"
    monkeypatch.delenv("X_LEVEL")
    assert env_choice("X_LEVEL", ("DEBUG", "INFO"), "INFO") == "INFO"


def test_alias_maps_to_its_choice(monkeypatch) -> None:
    monkeypatch.setenv("X_METHOD", "LOCAL")
    assert env_choice("X_METHOD", ("auto", "fast"), "auto", aliases={"local": "fast"}) == "fast"


def test_typo_names_variable_value_and_choices(monkeypatch) -> None:
    monkeypatch.setenv("X_MODE", "extractve")
    with pytest.raises(ImproperlyConfigured) as raised:
        env_choice("X_MODE", ("auto", "llm", "extractive"), "auto")
    assert str(raised.value) == "Environment variable X_MODE='extractve' is not one of: auto, llm, extractive"


def test_a_default_outside_the_choices_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="X_MODE"):
        env_choice("X_MODE", ("auto", "llm"), "extractive")


# One child process imports the real settings once per variable, so each bad value goes through
# the settings modules themselves (not just the helper), without touching this process's settings.
_PROBE = r"""
import importlib, json, os, sys
from django.core.exceptions import ImproperlyConfigured
cases = json.loads(sys.argv[1])
results = {}
for name, (bad, good) in cases.items():
    for value in (bad, good):
        os.environ[name] = value
        for module in [m for m in sys.modules if m.startswith("mlservice.settings")]:
            del sys.modules[module]
        try:
            importlib.import_module("mlservice.settings")
            results[f"{name}={value}"] = "ok"
        except ImproperlyConfigured as exc:
            results[f"{name}={value}"] = str(exc)
    del os.environ[name]
print(json.dumps(results))
"""


def test_each_typo_stops_the_settings_import_naming_the_variable() -> None:
    env = {key: value for key, value in os.environ.items() if key not in CHOICES}
    # The package itself (it applies DJANGO_ENV), with the test settings' contents and no .env file.
    env.update(DJANGO_SETTINGS_MODULE="mlservice.settings", DJANGO_ENV_FILE=os.devnull)
    env.pop("DJANGO_ENV", None)
    cases = {name: values for name, values in CHOICES.items() if name != "DJANGO_ENV"}
    cases["DJANGO_ENV"] = CHOICES["DJANGO_ENV"]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(cases)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for name, (bad, good) in cases.items():
        message = results[f"{name}={bad}"]
        assert message.startswith(f"Environment variable {name}={bad!r} is not one of: "), message
        assert good in message.split(": ", 1)[1].split(", ")
        assert results[f"{name}={good}"] == "ok", (name, results[f"{name}={good}"])


def test_django_setup_refuses_a_typo() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mlservice.settings.test", "RAG_ANSWER_MODE": "extractve"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "django.core.exceptions.ImproperlyConfigured: "
        "Environment variable RAG_ANSWER_MODE='extractve' is not one of: auto, llm, extractive"
    )
