"""Contract 5.3 and 5.4: post-analysis and point adjustment, verified TS examples."""

import pytest


def analyze(post_json, body):
    response = post_json("/complexity/analyze", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_empty_body_is_trivial(post_json):
    data = analyze(post_json, {})
    assert data["actualComplexity"] == 1
    assert data["complexityName"] == "Trivial"
    assert data["actualPoints"] == 1
    assert data["metrics"] == {"totalLinesChanged": 0, "filesChanged": 0, "commits": 1, "reviewComments": 0}
    assert data["pointAdjustment"] == 1
    assert data["adjustmentReason"] == "No pre-estimate provided"
    assert "accuracyScore" not in data
    assert data["accuracy_score"] is None


@pytest.mark.parametrize(
    ("lines", "level"), [(49, 1), (50, 2), (199, 2), (200, 3), (499, 3), (500, 4), (999, 4), (1000, 5)]
)
def test_line_boundaries(post_json, lines, level):
    assert analyze(post_json, {"linesAdded": lines})["actualComplexity"] == level


@pytest.mark.parametrize(
    ("extra", "level"),
    [
        ({"filesChanged": 11}, 3),
        ({"filesChanged": 21}, 4),
        ({"timeToMergeHours": 40}, 1),
        ({"timeToMergeHours": 40.5}, 4),
        ({"reviewComments": 20}, 1),
        ({"reviewComments": 21}, 4),
    ],
)
def test_other_signals(post_json, extra, level):
    assert analyze(post_json, {"linesAdded": 10, **extra})["actualComplexity"] == level


def test_overestimate_with_half_up_points(post_json):
    data = analyze(
        post_json, {"linesAdded": 200, "linesRemoved": 100, "filesChanged": 5, "commits": 8, "preComplexityScore": 5}
    )
    assert data["actualComplexity"] == 3
    assert data["accuracyScore"] == 50
    assert data["pointAdjustment"] == 0.9
    assert data["adjustmentReason"] == "Significantly overestimated complexity - 10% penalty"
    assert data["actualPoints"] == 5
    assert data["analysis"] == (
        "Actual complexity: Moderate (3/5) based on 300 lines changed across 5 files. "
        "Task was simpler than estimated (2 levels lower)."
    )


def test_underestimate(post_json):
    data = analyze(post_json, {"linesAdded": 2000, "filesChanged": 30, "commits": 12, "preComplexityScore": 1})
    assert (data["actualComplexity"], data["accuracyScore"], data["pointAdjustment"], data["actualPoints"]) == (
        5,
        0,
        1.25,
        16,
    )
    assert data["analysis"].endswith("Task was more complex than estimated (4 levels higher).")


@pytest.mark.parametrize(
    ("pre", "accuracy", "multiplier", "reason", "tail"),
    [
        (
            3,
            75,
            1,
            "Slightly overestimated complexity - no adjustment",
            "Task was simpler than estimated (1 level lower).",
        ),
        (2, 100, 1.1, "Perfect estimation accuracy - 10% bonus", "Estimation was accurate."),
    ],
)
def test_small_differences(post_json, pre, accuracy, multiplier, reason, tail):
    data = analyze(
        post_json, {"linesAdded": 120, "linesRemoved": 30, "filesChanged": 3, "commits": 2, "preComplexityScore": pre}
    )
    assert data["actualComplexity"] == 2
    assert data["accuracyScore"] == accuracy
    assert data["pointAdjustment"] == multiplier
    assert data["adjustmentReason"] == reason
    assert data["actualPoints"] == 3
    assert data["analysis"].endswith(tail)


def test_merge_time_is_echoed(post_json):
    data = analyze(
        post_json,
        {
            "linesAdded": 700,
            "linesRemoved": 100,
            "filesChanged": 8,
            "commits": 4,
            "preComplexityScore": 3,
            "timeToMergeHours": 12.5,
            "reviewComments": 6,
        },
    )
    assert (data["actualComplexity"], data["accuracyScore"], data["pointAdjustment"], data["actualPoints"]) == (
        4,
        75,
        1.15,
        9,
    )
    assert data["metrics"]["timeToMergeHours"] == 12.5
    assert data["analysis"].endswith("(1 level higher).")


def test_gateway_snake_case(post_json):
    body = {
        "lines_added": 120,
        "lines_removed": 30,
        "files_changed": 3,
        "commits": 2,
        "time_to_merge_hours": 0,
        "review_comments": 0,
        "pr_description": "",
        "pre_complexity_score": 2,
        "pre_estimated_hours": 2.5,
        "pre_reasoning": "r",
    }
    data = analyze(post_json, body)
    assert data["actual_complexity"] == 2
    assert data["accuracy_score"] == 100
    assert data["point_adjustment"] == 1.1
    assert data["adjustment_reason"] == "Perfect estimation accuracy - 10% bonus"
    assert data["actual_points"] == 3


@pytest.mark.parametrize("pre", [None, 0])
def test_missing_null_or_zero_pre_score_means_no_pre_estimate(post_json, pre):
    data = analyze(post_json, {"linesAdded": 10, "preComplexityScore": pre})
    assert data["accuracy_score"] is None
    assert data["adjustmentReason"] == "No pre-estimate provided"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"linesAdded": -1}, "linesAdded must not be less than 0"),
        ({"commits": 0}, "commits must not be less than 1"),
        ({"linesAdded": "10"}, "linesAdded must be a number conforming to the specified constraints"),
        ({"linesAdded": True}, "linesAdded must be a number conforming to the specified constraints"),
        ({"preComplexityScore": 6}, "preComplexityScore must not be greater than 5"),
    ],
)
def test_bad_numbers(post_json, body, message):
    response = post_json("/complexity/analyze", body)
    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    ("pre", "actual", "multiplier", "bonus", "reason"),
    [
        (1, 3, 1.25, 25, "Significantly underestimated complexity - 25% bonus"),
        (2, 3, 1.15, 15, "Slightly underestimated complexity - 15% bonus"),
        (3, 3, 1.1, 10, "Perfect estimation accuracy - 10% bonus"),
        (4, 3, 1, 0, "Slightly overestimated complexity - no adjustment"),
        (5, 3, 0.9, -10, "Significantly overestimated complexity - 10% penalty"),
        (2.5, 3, 0.9, -10, "Significantly overestimated complexity - 10% penalty"),
    ],
)
def test_adjustment_table(post_json, pre, actual, multiplier, bonus, reason):
    for path in ("/complexity/adjustment", "/api/v1/complexity/calculate-adjustment"):
        response = post_json(path, {"preLevel": pre, "actualLevel": actual})
        assert response.status_code == (200 if path.startswith("/api/v1/") else 201)
        assert response.json() == {"multiplier": multiplier, "bonusPercent": bonus, "reason": reason}


def test_adjustment_prints_whole_multiplier_without_decimals(post_json):
    assert b'"multiplier":1,' in post_json("/complexity/adjustment", {"preLevel": 4, "actualLevel": 3}).content


def test_adjustment_validation(post_json):
    response = post_json("/complexity/adjustment", {"preLevel": 0})
    assert response.status_code == 400
    assert response.json()["message"] == [
        "preLevel must not be less than 1",
        "actualLevel must be a number conforming to the specified constraints",
    ]


def test_scale_and_health(api):
    scale = api.get("/complexity/scale").json()["scale"]
    assert [level["basePoints"] for level in scale] == [1, 3, 5, 8, 13]
    assert scale[0] == {
        "level": 1,
        "name": "Trivial",
        "description": "Quick fix, typo, or configuration change",
        "hoursMin": 0.1,
        "hoursMax": 1,
        "basePoints": 1,
        "indicators": ["Single file change", "Config update", "Typo fix", "Documentation update"],
    }
    health = api.get("/api/v1/complexity/health").json()
    assert health["status"] == "ok" and health["service"] == "complexity-estimation"


def test_huge_numbers_do_not_break_json(post_json):
    # Found by schemathesis: integer-valued floats beyond 2**53 must stay floats in JSON.
    data = analyze(post_json, {"linesRemoved": 5.917957939310266e307, "timeToMergeHours": 1.2e308, "commits": 5.5e16})
    assert data["actualComplexity"] == 5
    assert data["metrics"]["timeToMergeHours"] == 1.2e308
    assert data["metrics"]["commits"] == 5.5e16
    assert "based on 5.917957939310266e+307 lines changed across 0 files." in data["analysis"]


def test_tiny_pre_score_is_a_real_pre_estimate(post_json):
    # 1 - 1.17e-38 rounds to exactly 1.0 in doubles (as in JavaScript): one level higher.
    data = analyze(post_json, {"linesAdded": 10, "preComplexityScore": 1.1754943508222875e-38})
    assert data["pointAdjustment"] == 1.15
    assert data["accuracyScore"] == 75
    assert data["analysis"].endswith("(1 level higher).")
