"""The OpenAPI schema documents every endpoint: request and response schemas, no warnings, one tag
per area, a summary and a description per operation, and the API key as Bearer *or* X-API-Key.

The rules a new module must meet are in docs/ADDING_MODULES.md ("What the schema test needs");
each failure message below names the operation and what to add.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import yaml
from django.contrib.staticfiles import finders
from django.utils.module_loading import import_string
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from mlservice.api.schema import FALLBACK_SUMMARIES

GUIDE = "docs/ADDING_MODULES.md"
AREA_TAGS = {"Health", "Complexity", "Embeddings", "RAG", "Analysis", "Generation", "Transcription", "Rerank"}
OPENAI_TAG = "OpenAI-compatible"
ALTERNATIVE_KEYS = [{"bearerAuth": []}, {"apiKeyHeader": []}]
PUBLIC_PATHS = {"/api/v1/", "/api/v1/health", "/api/v1/live", "/api/v1/health/live"}
BASE_VIEW_DOC = "Base of every API view"


def generate_schema() -> tuple[dict[str, Any], list[str]]:
    """The schema as `manage.py spectacular --validate` builds it, and drf-spectacular's warnings
    and errors (what `--fail-on-warn` fails on)."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    warnings = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    validate_schema(schema)
    # Through JSON, as clients get it (drops lazy strings and other Python-only values).
    return orjson.loads(orjson.dumps(schema, default=str)), warnings


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def warning_problems(warnings: list[str]) -> list[str]:
    return [
        f"drf-spectacular: {warning}\n    -> declare what it could not work out with "
        f"@extend_schema(request=..., responses=...) on the view method ({GUIDE}, step 4)"
        for warning in warnings
    ]


def operation_problems(schema: dict[str, Any]) -> list[str]:
    """What each operation lacks, with the fix, for the rules of ``GUIDE``."""
    problems = []
    for method, path, op in operations(schema):
        where = f"{method} {path}"
        if method in {"POST", "PUT", "PATCH"} and "requestBody" not in op:
            problems.append(f"{where}: no request body -> add request=SomeRequestSerializer to its @extend_schema")
        success = {code: response for code, response in op["responses"].items() if code.startswith("2")}
        if not any("content" in response or code == "204" for code, response in success.items()):
            problems.append(
                f"{where}: no success response schema -> add responses={{200: SomeResponseSerializer}} to its "
                f'@extend_schema (text: responses={{(200, "text/plain"): OpenApiTypes.STR}}; no body: '
                f"responses={{204: None}}); see {GUIDE}, 'What the schema test needs'"
            )
        if not op.get("summary"):
            problems.append(f'{where}: no summary -> add summary="..." to its @extend_schema')
        if not op.get("tags"):
            problems.append(f"{where}: no tag")
    return problems


@pytest.fixture(scope="module")
def generated(django_db_blocker) -> tuple[dict[str, Any], list[str]]:
    with django_db_blocker.unblock():
        return generate_schema()


@pytest.fixture(scope="module")
def schema(generated) -> dict[str, Any]:
    return generated[0]


def test_schema_generates_without_warnings(generated):
    schema, warnings = generated
    assert schema["info"]["title"] == "SynthStack ML Service (Django)"
    assert schema["openapi"].startswith("3.")
    problems = warning_problems(warnings)
    assert not problems, "\n".join(problems)


def test_every_operation_has_request_and_response_schemas(schema):
    for _, path, _ in operations(schema):
        assert path.startswith(("/api/v1/", "/v1/")), path
        assert not path.startswith("/api/v1/v1/"), path
    problems = operation_problems(schema)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/complexity/estimate", "/api/v1/complexity/post-analyze"])
def test_known_paths_are_documented(schema, path):
    assert path in schema["paths"]


def test_one_tag_per_area(schema):
    tag_of = {(method, path): op["tags"] for method, path, op in operations(schema)}
    assert all(len(tags) == 1 for tags in tag_of.values())
    used = {tags[0] for tags in tag_of.values()}
    assert used == {*AREA_TAGS, OPENAI_TAG}
    assert tag_of[("GET", "/api/v1/ready")] == ["Health"]
    assert tag_of[("GET", "/api/v1/metrics")] == ["Health"]
    assert tag_of[("POST", "/api/v1/chat/completions")] == ["Generation"]
    assert tag_of[("POST", "/v1/chat/completions")] == [OPENAI_TAG]
    assert tag_of[("POST", "/v1/embeddings")] == [OPENAI_TAG]
    assert tag_of[("POST", "/api/v1/rerank")] == ["Rerank"]
    assert tag_of[("POST", "/v1/rerank")] == [OPENAI_TAG]
    # The top-level list describes each tag, areas in their usual order.
    assert [tag["name"] for tag in schema["tags"]][:2] == ["Health", "Complexity"]
    assert all(tag.get("description") for tag in schema["tags"])


def test_every_operation_has_its_own_summary_and_description(schema):
    for method, path, op in operations(schema):
        assert op.get("summary"), f"{method} {path}"
        description = op.get("description", "")
        # Never a base class's internal docstring (ContractView, OpenProbeView).
        assert BASE_VIEW_DOC not in description and "Probes answer" not in description, f"{method} {path}"
        assert description.strip(), f"{method} {path}"


def test_descriptions_come_from_the_summary_or_the_views_own_docstring(schema):
    classify = schema["paths"]["/api/v1/analysis/classify"]["post"]
    assert (
        "Also served at the gateway path `/analysis/classify` (where a success answers 201" in classify["description"]
    )
    # MetricsView documents itself in its own docstring.
    metrics = schema["paths"]["/api/v1/metrics"]["get"]
    assert metrics["description"].startswith("Prometheus exposition (text format, not JSON).")
    # A route with a converter (<uuid:job_id>) still finds its gateway alias.
    job = schema["paths"]["/api/v1/transcription/jobs/{job_id}"]["get"]
    assert "`/transcription/jobs/{job_id}`" in job["description"]


def test_security_is_bearer_or_x_api_key(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["apiKeyHeader"] == {**schemes["apiKeyHeader"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert all(scheme["description"] for scheme in schemes.values())
    for method, path, op in operations(schema):
        if path in PUBLIC_PATHS:
            assert op.get("security", []) == [], f"{method} {path} is public"
            assert "without an API key" in op["description"]
        else:
            # A list of alternatives (OR), not one object naming both (AND).
            assert op["security"] == ALTERNATIVE_KEYS, f"{method} {path}"
            assert "`Authorization: Bearer <key>` or `X-API-Key: <key>`" in op["description"]


def test_schema_endpoint_answers_json_by_default(api):
    for accept in (None, "*/*", "application/json", "text/html,application/xhtml+xml,*/*;q=0.8"):
        response = api.get("/api/v1/schema/", **({"HTTP_ACCEPT": accept} if accept else {}))
        assert response.status_code == 200, accept
        assert "json" in response["Content-Type"], accept
        body = orjson.loads(response.content)
        assert body["info"]["title"] == "SynthStack ML Service (Django)"
        assert body["paths"]["/api/v1/rag/query"]["post"]["tags"] == ["RAG"]


@pytest.mark.parametrize(
    ("query", "accept"),
    [("?format=yaml", None), ("", "application/vnd.oai.openapi"), ("", "application/yaml")],
)
def test_schema_endpoint_answers_yaml_when_asked(api, query, accept):
    response = api.get(f"/api/v1/schema/{query}", **({"HTTP_ACCEPT": accept} if accept else {}))
    assert response.status_code == 200
    assert "yaml" in response["Content-Type"] or "vnd.oai.openapi;" in response["Content-Type"]
    body = yaml.safe_load(response.content)
    assert body["info"]["title"] == "SynthStack ML Service (Django)"


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/", "/api/v1/schema/"])
def test_docs_pages_are_served(api, path):
    response = api.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        (
            "/api/v1/docs/",
            [
                "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
                "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
                "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
            ],
        ),
        ("/api/v1/redoc/", ["drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"]),
    ],
)
def test_docs_pages_load_their_assets_locally(api, settings, path, assets):
    html = api.get(path).content.decode()
    # Nothing from another host (CDN scripts, web fonts): the pages must work offline.
    assert "https://" not in html and "http://" not in html and "//cdn" not in html
    for asset in assets:
        assert f'"/{settings.STATIC_URL.strip("/")}/{asset}"' in html
        assert finders.find(asset), f"{asset} is not among the static files (drf_spectacular_sidecar installed?)"


def test_fallback_summaries_name_existing_views():
    # A renamed view would silently lose its summary (it would get one made from its class name).
    for dotted in FALLBACK_SUMMARIES:
        try:
            import_string(dotted)
        except ImportError:
            pytest.fail(f"{dotted} no longer exists: rename or remove its entry in mlservice/api/schema.py")
