"""docker-compose.yml and the Dockerfile say what the guide's Docker commands expect.

No compose engine runs here, so the compose file is checked as YAML (merge keys resolved, as
compose does) and the Dockerfile as text.
"""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_guides_service_in_the_django_profile():
    services = _compose()["services"]
    assert "django" not in services
    service = services["ml-service-django"]
    assert service["profiles"] == ["django"]
    assert service["build"] == "."
    # The gateway-facing mapping: ML_SERVICE_URL defaults to http://localhost:8001.
    assert service["ports"] == ["8001:8001"]
    assert service["environment"]["PORT"] == "8001"
    assert service["environment"]["DJANGO_ENV"] == "production"
    assert set(service["depends_on"]) == {"postgres", "redis"}
    for name in ("worker", "postgres", "redis", "qdrant"):
        assert "django" in services[name]["profiles"]


def test_compose_demands_a_secret_key_and_says_how_to_make_one():
    value = _compose()["services"]["ml-service-django"]["environment"]["DJANGO_SECRET_KEY"]
    assert value.startswith("${DJANGO_SECRET_KEY:?") and value.endswith("}")
    assert "secrets.token_urlsafe(50)" in value


def test_image_listens_on_port_default_8000():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^\s+PORT=8000$", dockerfile, re.MULTILINE)
    assert re.search(r"^EXPOSE 8000$", dockerfile, re.MULTILINE)
    assert "--port ${PORT}" in dockerfile
    assert "os.environ.get('PORT', '8000')" in dockerfile  # the healthcheck follows PORT
    assert "-r requirements.txt" in dockerfile


def test_env_files_stay_out_of_the_image():
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_the_image_serves_through_manage_py_serve():
    # One server command for the Makefile, the image and the benchmarks (respawn, timeouts, ASGI front).
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "exec python manage.py serve --host 0.0.0.0 --port ${PORT}" in dockerfile
    assert "--interface wsgi" not in dockerfile


def test_compose_services_restart_and_the_worker_has_its_own_healthcheck():
    services = _compose()["services"]
    assert {name: service.get("restart") for name, service in services.items()} == dict.fromkeys(
        services, "unless-stopped"
    )
    # The worker has no HTTP server: the image's /health check could never pass there.
    assert "celery -A mlservice inspect ping" in services["worker"]["healthcheck"]["test"][1]
