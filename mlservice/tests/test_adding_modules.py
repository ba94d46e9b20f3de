"""docs/ADDING_MODULES.md works as written.

The test follows the document: it runs its step-1 commands, writes every file of its "Create" /
"Replace" code blocks and applies its step-6 registration (INSTALLED_APPS and the urlconf line),
all in a temporary folder on ``sys.path`` with settings overrides instead of edits to the project.
It then checks what the document promises: ruff passes, the module serves, the document's own tests
pass, the module appears in the schema with its tag and the API-key security, the schema test finds
nothing to complain about, and the routes need the key once keys are configured.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import clear_url_caches

import services
from mlservice.tests.test_schema import ALTERNATIVE_KEYS, generate_schema, operation_problems, warning_problems
from services import auth_service

DOC = Path(django_settings.BASE_DIR) / "docs" / "ADDING_MODULES.md"
APP = "my_feature"
PREFIX = "/api/v1/my-feature"
FILE_BLOCK = re.compile(r"(?:Create|Replace) `(?P<path>[\w/.]+\.py)`(?: with)?:\n\n```python\n(?P<code>.*?)```", re.S)
FIRST_BASH_BLOCK = re.compile(r"## Step 1[^\n]*\n.*?```bash\n(?P<code>.*?)```", re.S)
SETTINGS_BLOCK = re.compile(r"in `mlservice/settings/base.py`:\n\n```python\n(?P<code>.*?)```", re.S)
URLS_BLOCK = re.compile(r"in `mlservice/urls.py`:\n\n```python\n(?P<code>.*?)```", re.S)


def _block(pattern: re.Pattern[str], text: str, what: str) -> str:
    match = pattern.search(text)
    assert match, f"{DOC.name} has no {what} block (the test reads the document's code blocks)"
    return match.group("code")


def _ruff(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The project's own configuration, as `make test` and `make lint` use it; the temporary folder
    # counts as part of the project root, so imports sort as they would there.
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (make install-dev)")
    base = Path(django_settings.BASE_DIR)
    options = ["--config", str(base / "pyproject.toml"), "--config", f"src = [{str(base)!r}, {str(root)!r}]"]
    return subprocess.run([ruff, *args, *options], cwd=base, capture_output=True, text=True, check=False)


def _run_step_one(root: Path, commands: str) -> None:
    for line in filter(None, (line.strip() for line in commands.splitlines())):
        words = line.split()
        if "startapp" in words:
            target = root / words[-1]
            target.mkdir()
            call_command("startapp", words[-1], str(target))
        elif words[0] == "rm":
            for name in words[1:]:
                (root / name).unlink()
        elif "ruff" in words[0] and words[1] == "format":
            result = _ruff(root, "format", *(str(root / name) for name in words[2:]))
            assert result.returncode == 0, result.stdout + result.stderr
        else:
            pytest.fail(f"step 1 of {DOC.name} has a command this test does not know: {line!r}")


def _forget_modules() -> None:
    for name in list(sys.modules):
        if name == APP or name.startswith(f"{APP}.") or name in {"services.my_service", "throwaway_urls"}:
            del sys.modules[name]


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[dict[str, Any]]:
    """The module of the document, built the documented way; yields the files written."""
    doc = DOC.read_text()
    root = tmp_path / "project"
    root.mkdir()
    _run_step_one(root, _block(FIRST_BASH_BLOCK, doc, "step-1 bash"))

    written: dict[str, Path] = {}
    for match in FILE_BLOCK.finditer(doc):
        path = root / match.group("path")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(match.group("code"))
        written[match.group("path")] = path
    assert {"services/my_service.py", f"{APP}/serializers.py", f"{APP}/views.py", f"{APP}/urls.py"} <= set(written)

    # The project's `services` package, extended by the folder holding services/my_service.py.
    monkeypatch.setattr(services, "__path__", [*services.__path__, str(root / "services")])
    monkeypatch.syspath_prepend(str(root))
    _forget_modules()

    new_apps = re.findall(r'"([\w.]+)"', _block(SETTINGS_BLOCK, doc, "INSTALLED_APPS"))
    assert new_apps == [APP]
    url_lines = [line.strip() for line in _block(URLS_BLOCK, doc, "urlpatterns").splitlines()]
    url_lines = [line for line in url_lines if line.startswith("path(")]
    assert url_lines, "the mlservice/urls.py block adds no path(...) line"
    (root / "throwaway_urls.py").write_text(
        "from django.urls import include, path\n\n"
        "from mlservice.urls import handler400, handler403, handler404, handler500  # noqa: F401\n"
        "from mlservice.urls import urlpatterns as project_patterns\n\n"
        "urlpatterns = [*project_patterns, " + " ".join(url_lines) + "]\n"
    )
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, *new_apps]
    settings.ROOT_URLCONF = "throwaway_urls"
    auth_service.get_instance().invalidate()
    yield {"root": root, "files": written}
    auth_service.get_instance().invalidate()
    _forget_modules()


def _load_test_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("adding_modules_doc_tests", path)
    assert spec and spec.loader
    test_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_module)
    return test_module


def test_the_documented_module_passes_ruff(module):
    files = [str(path) for path in module["root"].rglob("*.py") if path.name != "throwaway_urls.py"]
    check = _ruff(module["root"], "check", "--no-cache", *files)
    assert check.returncode == 0, f"`ruff check` (make test) fails on the module of {DOC.name}:\n{check.stdout}"
    written = [str(path) for path in module["files"].values()]
    formatted = _ruff(module["root"], "format", "--check", "--no-cache", *written)
    assert formatted.returncode == 0, f"`ruff format --check` (make lint) fails:\n{formatted.stdout}"


def test_the_documented_module_serves(module, api):
    response = api.post(f"{PREFIX}/process", {"input_data": "hello world"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"result": "HELLO WORLD"}
    # Like every endpoint: camelCase accepted, unknown keys refused in the contract's error shape.
    assert api.post(f"{PREFIX}/process", {"inputData": "abc"}, format="json").json() == {"result": "ABC"}
    refused = api.post(f"{PREFIX}/process", {"input_data": "x", "extra": 1}, format="json")
    assert refused.status_code == 400
    assert refused.json()["success"] is False and refused.json()["statusCode"] == 400
    assert api.get(f"{PREFIX}/health").json() == {"status": "healthy", "service": APP}


def test_the_documents_own_tests_pass(module):
    test_module = _load_test_module(module["files"]["tests/test_my_feature.py"])
    tests = [getattr(test_module, name) for name in dir(test_module) if name.startswith("test_")]
    assert len(tests) >= 2
    for test in tests:
        test()


def test_the_documented_module_is_in_the_schema(module, api):
    schema, warnings = generate_schema()
    problems = warning_problems(warnings) + operation_problems(schema)
    assert not problems, "\n".join(problems)
    process = schema["paths"][f"{PREFIX}/process"]["post"]
    health = schema["paths"][f"{PREFIX}/health"]["get"]
    assert process["tags"] == health["tags"] == ["My Feature"]
    assert process["summary"] == "Upper-case a text" and health["summary"] == "My Feature health"
    # ProcessView's own docstring is its description; HealthView has none, so the summary is used.
    assert process["description"].startswith("Upper-cases `input_data`")
    assert health["description"].startswith("My Feature health.")
    assert process["security"] == health["security"] == ALTERNATIVE_KEYS
    assert "ProcessRequest" in process["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "My Feature" in [tag["name"] for tag in schema["tags"]]
    # And through the served schema (what /api/v1/docs/ renders).
    served = api.get("/api/v1/schema/").json()
    assert served["paths"][f"{PREFIX}/process"]["post"]["tags"] == ["My Feature"]


def test_the_documented_module_needs_the_api_key_once_keys_are_configured(module, api, settings):
    settings.ML_SERVICE_API_KEYS = ["module-secret"]
    auth_service.get_instance().invalidate()
    body = {"input_data": "hi"}
    missing = api.post(f"{PREFIX}/process", body, format="json")
    assert missing.status_code == 401
    assert missing.json()["success"] is False and missing.json()["statusCode"] == 401
    assert api.get(f"{PREFIX}/health").status_code == 401
    wrong = api.post(f"{PREFIX}/process", body, format="json", HTTP_X_API_KEY="wrong")
    assert wrong.status_code == 401
    bearer = api.post(f"{PREFIX}/process", body, format="json", HTTP_AUTHORIZATION="Bearer module-secret")
    assert bearer.status_code == 200 and bearer.json() == {"result": "HI"}
    header = api.get(f"{PREFIX}/health", HTTP_X_API_KEY="module-secret")
    assert header.status_code == 200 and header.json()["service"] == APP


# The guide's own step 4 health_check, verbatim: it declares no response.
GUIDE_HEALTH_CHECK = """\
from rest_framework.decorators import api_view
from rest_framework.response import Response
from drf_spectacular.utils import extend_schema

@extend_schema(tags=['My Feature'])
@api_view(['GET'])
def health_check(request):
    return Response({'status': 'healthy', 'service': 'my_feature'})
"""


def test_the_schema_test_says_what_the_guides_health_check_lacks(module):
    views = module["root"] / APP / "views.py"
    views.write_text(views.read_text() + "\n\n" + GUIDE_HEALTH_CHECK)
    urls = module["root"] / APP / "urls.py"
    urls.write_text(urls.read_text().replace("]\n", '    path("guide-health", views.health_check),\n]\n'))
    _forget_modules()
    clear_url_caches()
    schema, warnings = generate_schema()
    problems = "\n".join(warning_problems(warnings) + operation_problems(schema))
    assert f"GET {PREFIX}/guide-health: no success response schema" in problems
    assert "responses={200: SomeResponseSerializer}" in problems and "docs/ADDING_MODULES.md" in problems
