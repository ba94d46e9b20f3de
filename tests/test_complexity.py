"""Contract 5.2: the TS service's verified examples, reproduced exactly."""

import pytest

FILES_15 = [f"f{i}.ts" for i in range(15)]
FILES_6 = [f"f{i}.ts" for i in range(6)]

CASES = [
    ({"title": "Test task"}, 3, "Moderate", 10, 5, {"issueTypeAdjustment": 0}, 0.65),
    ({"title": "x", "issueType": None, "description": None}, 3, "Moderate", 10, 5, {}, 0.6),
    (
        {"title": "Fix typo in README"},
        1,
        "Trivial",
        0.55,
        1,
        {"trivialKeyword": True, "issueTypeAdjustment": 0},
        0.7999999999999999,
    ),
    (
        {"title": "Fix typo in README", "description": "Simple documentation fix"},
        1,
        "Trivial",
        0.55,
        1,
        {"trivialKeyword": True, "simpleKeyword": True, "issueTypeAdjustment": 0, "descriptionLength": 24},
        0.9,
    ),
    ({"title": "Generic task", "issueType": "bug"}, 3, "Moderate", 10, 5, {"issueTypeAdjustment": -0.5}, 0.65),
    (
        {"title": "Simple change", "issueType": "bug"},
        2,
        "Simple",
        2.5,
        3,
        {"simpleKeyword": True, "issueTypeAdjustment": -0.5},
        0.7999999999999999,
    ),
    (
        {"title": "Small fix", "issueType": "Feature"},
        3,
        "Moderate",
        10,
        5,
        {"simpleKeyword": True, "issueTypeAdjustment": 0.5},
        0.7999999999999999,
    ),
    (
        {"title": "Improve performance", "issueType": "enhancement"},
        5,
        "Epic",
        80,
        13,
        {"complexKeyword": True, "issueTypeAdjustment": 0.5},
        0.7999999999999999,
    ),
    (
        {"title": "Quick config tweak", "issueType": "documentation"},
        1,
        "Trivial",
        0.55,
        1,
        {"trivialKeyword": True, "simpleKeyword": True, "issueTypeAdjustment": -1},
        0.85,
    ),
    (
        {"title": "Refactor authentication system", "description": "Major security overhaul", "issueType": "refactor"},
        5,
        "Epic",
        80,
        13,
        {"complexKeyword": True, "epicKeyword": True, "issueTypeAdjustment": 1, "descriptionLength": 23},
        0.9,
    ),
    (
        {"title": "Architecture overhaul and platform redesign", "description": "Major system redesign"},
        5,
        "Epic",
        80,
        13,
        {"epicKeyword": True, "issueTypeAdjustment": 0, "descriptionLength": 21},
        0.85,
    ),
    (
        {"title": "Update configuration", "relatedFiles": FILES_15},
        4,
        "Complex",
        28,
        8,
        {"trivialKeyword": True, "issueTypeAdjustment": 0, "relatedFilesCount": 15},
        0.95,
    ),
    (
        {"title": "Generic task", "issueType": "bug", "relatedFiles": FILES_6},
        3,
        "Moderate",
        10,
        5,
        {"issueTypeAdjustment": -0.5, "relatedFilesCount": 6},
        0.7999999999999999,
    ),
    (
        {"title": "Task", "description": "x" * 1100},
        4,
        "Complex",
        28,
        8,
        {"issueTypeAdjustment": 0, "descriptionLength": 1100},
        0.7,
    ),
    (
        {"title": "Task", "description": "x" * 600, "issueType": "documentation"},
        3,
        "Moderate",
        10,
        5,
        {"issueTypeAdjustment": -1, "descriptionLength": 600},
        0.7,
    ),
    (
        {
            "title": "Add login",
            "issueType": "feature",
            "labels": ["backend"],
            "relatedFiles": ["a.ts", "b.ts"],
            "milestone": "v1",
            "projectContext": "ctx",
        },
        4,
        "Complex",
        28,
        8,
        {"issueTypeAdjustment": 0.5, "relatedFilesCount": 2},
        0.7999999999999999,
    ),
]


@pytest.mark.parametrize(("body", "score", "name", "hours", "points", "factors", "confidence"), CASES)
def test_estimate_matches_ts_examples(post_json, body, score, name, hours, points, factors, confidence):
    response = post_json("/complexity/estimate", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["complexityScore"] == score
    assert data["complexityName"] == name
    assert data["estimatedHours"] == hours
    assert data["estimatedPoints"] == points
    assert data["factors"] == factors
    assert list(data["factors"]) == list(factors), "factor keys keep the TS insertion order"
    assert data["confidence"] == confidence
    # The gateway reads the snake_case copies.
    assert data["complexity_score"] == score
    assert data["complexity_name"] == name
    assert data["estimated_hours"] == hours
    assert data["estimated_points"] == points


@pytest.mark.parametrize(
    ("body", "reasoning"),
    [
        (
            {"title": "Fix typo in README", "description": "Simple documentation fix"},
            "Estimated as Trivial (1/5): Contains trivial task keywords. Contains simple task keywords. Description length: 24 characters.",
        ),
        ({"title": "Test task"}, "Estimated as Moderate (3/5): Default moderate complexity estimate."),
        (
            {"title": "Add login", "issueType": "feature", "relatedFiles": ["a.ts", "b.ts"]},
            "Estimated as Complex (4/5): 2 related files identified.",
        ),
    ],
)
def test_reasoning_text(post_json, body, reasoning):
    assert post_json("/complexity/estimate", body).json()["reasoning"] == reasoning


def test_gateway_snake_case_body_is_accepted(post_json):
    body = {
        "title": "Fix typo",
        "description": "",
        "issue_type": "task",
        "labels": [],
        "project_context": "",
        "milestone": None,
        "related_files": [],
    }
    response = post_json("/complexity/estimate", body)
    assert response.status_code == 201
    assert response.json()["complexity_score"] == 1


def test_float_noise_and_whole_numbers_print_like_javascript(post_json):
    raw = post_json("/complexity/estimate", {"title": "Fix typo in README"}).content
    assert b'"confidence":0.7999999999999999' in raw
    raw = post_json("/complexity/estimate", {"title": "Test task"}).content
    assert b'"estimatedHours":10,' in raw


def test_timestamp_is_javascript_iso(post_json):
    ts = post_json("/complexity/estimate", {"title": "t"}).json()["timestamp"]
    assert len(ts) == 24 and ts.endswith("Z") and ts[19] == "."


def test_utf16_description_length(post_json):
    # "😀" is two UTF-16 code units in JavaScript.
    data = post_json("/complexity/estimate", {"title": "t", "description": "😀a"}).json()
    assert data["factors"]["descriptionLength"] == 3


@pytest.mark.parametrize(
    "path",
    [
        "/complexity/estimate",
        "/api/v1/complexity/estimate",
        "/api/v1/complexity/pre-estimate",
        "/complexity/pre-estimate",
    ],
)
def test_all_paths_answer(post_json, path):
    assert post_json(path, {"title": "Fix typo"}).json()["complexityScore"] == 1


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({}, ["title must be a string"]),
        ({"title": 5}, ["title must be a string"]),
        ({"title": "t", "bogus": 1}, ["property bogus should not exist"]),
        ({"title": "t", "labels": "x"}, ["labels must be an array"]),
        ({"title": "t", "labels": [1]}, ["each value in labels must be a string"]),
        ({"title": "t", "issueType": 3}, ["issueType must be a string"]),
        ({"title": "t", "issue_type": 3}, ["issue_type must be a string"]),
        ([1, 2], ["request body must be a JSON object"]),
    ],
)
def test_bad_bodies_get_contract_400(post_json, body, messages):
    response = post_json("/complexity/estimate", body)
    assert response.status_code == 400
    data = response.json()
    assert data == {"success": False, "error": "Bad Request", "message": messages, "statusCode": 400}


def test_the_service_class_async_methods_answer_as_the_sync_ones() -> None:
    """The guide's pattern: ComplexityService.get_instance() and async methods (for async callers)."""
    import asyncio

    from services.complexity_service import ComplexityService

    service = ComplexityService.get_instance()
    assert service is ComplexityService.get_instance()
    task = {"title": "Add OAuth login", "description": "Google and GitHub providers", "issue_type": "feature"}

    def untimed(body: dict) -> dict:  # the timestamp may tick between the two calls
        return {key: value for key, value in body.items() if key != "timestamp"}

    estimated = asyncio.run(service.estimate_task(**task))
    assert untimed(estimated) == untimed(service.estimate(**task)) and estimated["complexityScore"] == 4
    work = {"lines_added": 420, "lines_removed": 80, "files_changed": 9, "commits": 5, "pre_complexity_score": 3}
    analysed = asyncio.run(service.analyze_task(**work))
    assert untimed(analysed) == untimed(service.analyze(**work)) and analysed["metrics"]["totalLinesChanged"] == 500
    assert asyncio.run(service.calculate_adjustment(3, 3)).multiplier == 1.1
    assert [level["level"] for level in asyncio.run(service.complexity_scale())] == [1, 2, 3, 4, 5]
