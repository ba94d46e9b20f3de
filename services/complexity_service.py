"""Deterministic task-complexity estimation, reproducing the TS service exactly (contract section 5).

Keyword tests are plain substring tests, rounding is JavaScript's round-half-up (never Python's
``round``), lengths are UTF-16 code units and ``factors`` keeps the insertion order of the steps.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from mlservice.core.formatting import iso_now, js_number, js_text


@dataclass(frozen=True)
class Level:
    level: int
    name: str
    description: str
    hours_min: float
    hours_max: float
    base_points: int
    indicators: tuple[str, ...]

    @property
    def estimated_hours(self) -> float:
        return (self.hours_min + self.hours_max) / 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "name": self.name,
            "description": self.description,
            "hoursMin": js_number(self.hours_min),
            "hoursMax": js_number(self.hours_max),
            "basePoints": self.base_points,
            "indicators": list(self.indicators),
        }


SCALE: dict[int, Level] = {
    1: Level(
        1,
        "Trivial",
        "Quick fix, typo, or configuration change",
        0.1,
        1,
        1,
        ("Single file change", "Config update", "Typo fix", "Documentation update"),
    ),
    2: Level(
        2,
        "Simple",
        "Small, well-defined change",
        1,
        4,
        3,
        ("Single component change", "Simple bug fix", "Minor refactor", "Add test cases"),
    ),
    3: Level(
        3,
        "Moderate",
        "Standard feature or significant bug fix",
        4,
        16,
        5,
        ("Multiple file changes", "New API endpoint", "UI component with state", "Database migration"),
    ),
    4: Level(
        4,
        "Complex",
        "Large feature requiring careful design",
        16,
        40,
        8,
        ("Cross-service changes", "New integration", "Performance optimization", "Security implementation"),
    ),
    5: Level(
        5,
        "Epic",
        "Major feature or system overhaul",
        40,
        120,
        13,
        ("Architecture change", "New service", "Major refactor", "Platform migration"),
    ),
}

TRIVIAL_KEYWORDS = ("typo", "fix typo", "update readme", "bump version", "config")
SIMPLE_KEYWORDS = ("simple", "small", "minor", "quick")
COMPLEX_KEYWORDS = ("refactor", "migration", "integrate", "security", "performance")
EPIC_KEYWORDS = ("architecture", "overhaul", "platform", "major", "redesign")
ISSUE_TYPE_ADJUSTMENT = {"bug": -0.5, "documentation": -1, "feature": 0.5, "enhancement": 0.5, "refactor": 1}
KEYWORD_FACTORS = ("trivialKeyword", "simpleKeyword", "complexKeyword", "epicKeyword")


@dataclass(frozen=True)
class Adjustment:
    multiplier: float
    bonus_percent: int
    reason: str


def round_half_up(value: float) -> int:
    """JavaScript ``Math.round``: 2.5 -> 3, 4.5 -> 5 (Python's ``round`` gives 2 and 4)."""
    return math.floor(value + 0.5)


def js_length(text: str) -> int:
    """String length in UTF-16 code units, as JavaScript counts it."""
    return len(text.encode("utf-16-le")) // 2


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class ComplexityService:
    """Task-complexity scoring (rules of the reference service). Pure CPU, no I/O, no ORM."""

    @classmethod
    def get_instance(cls) -> ComplexityService:
        """The process-wide service (the guide's service pattern)."""
        return get_instance()

    # The guide's async methods: the scoring touches no ORM and takes microseconds, so each runs
    # inline on the private loop async_to_sync gives the call.
    async def estimate_task(
        self,
        title: str,
        description: str | None = None,
        issue_type: str | None = "task",
        related_files: list[str] | None = None,
    ) -> dict[str, Any]:
        return self.estimate(title, description, issue_type, related_files)

    async def analyze_task(
        self,
        lines_added: float = 0,
        lines_removed: float = 0,
        files_changed: float = 0,
        commits: float = 1,
        time_to_merge_hours: float | None = None,
        review_comments: float = 0,
        pre_complexity_score: float | None = None,
    ) -> dict[str, Any]:
        return self.analyze(
            lines_added,
            lines_removed,
            files_changed,
            commits,
            time_to_merge_hours,
            review_comments,
            pre_complexity_score,
        )

    async def calculate_adjustment(self, pre_level: float, actual_level: float) -> Adjustment:
        return self.adjustment(pre_level, actual_level)

    async def complexity_scale(self) -> list[dict[str, Any]]:
        return self.scale()

    def scale(self) -> list[dict[str, Any]]:
        return [level.as_dict() for level in SCALE.values()]

    def estimate(
        self,
        title: str,
        description: str | None = None,
        issue_type: str | None = "task",
        related_files: list[str] | None = None,
    ) -> dict[str, Any]:
        score: float = 3
        factors: dict[str, Any] = {}
        reasons: list[str] = []
        text = f"{title.lower()} {(description or '').lower()}"

        if any(k in text for k in TRIVIAL_KEYWORDS):
            score = 1
            factors["trivialKeyword"] = True
            reasons.append("Contains trivial task keywords")
        if any(k in text for k in SIMPLE_KEYWORDS):
            score = min(score, 2)
            factors["simpleKeyword"] = True
            reasons.append("Contains simple task keywords")
        if any(k in text for k in COMPLEX_KEYWORDS):
            score = max(score, 4)
            factors["complexKeyword"] = True
            reasons.append("Contains complex task keywords")
        if any(k in text for k in EPIC_KEYWORDS):
            score = 5
            factors["epicKeyword"] = True
            reasons.append("Contains major/epic task keywords")
        if issue_type:
            adjustment = ISSUE_TYPE_ADJUSTMENT.get(issue_type.lower(), 0)
            score = clamp(score + adjustment, 1, 5)
            factors["issueTypeAdjustment"] = adjustment
        if related_files:
            count = len(related_files)
            factors["relatedFilesCount"] = count
            reasons.append(f"{count} related files identified")
            if count > 10:
                score = max(score, 4)
            elif count > 5:
                score = max(score, 3)
        if description:
            length = js_length(description)
            factors["descriptionLength"] = length
            reasons.append(f"Description length: {length} characters")
            if length > 1000:
                score = max(score, 4)
            elif length > 500:
                score = max(score, 3)

        level = SCALE[round_half_up(score)]
        if not reasons:
            reasons.append("Default moderate complexity estimate")
        return {
            "complexityScore": level.level,
            "complexityName": level.name,
            "estimatedHours": js_number(level.estimated_hours),
            "estimatedPoints": level.base_points,
            "factors": factors,
            "reasoning": f"Estimated as {level.name} ({level.level}/5): {'. '.join(reasons)}.",
            "confidence": js_number(self._confidence(factors)),
            "timestamp": iso_now(),
        }

    @staticmethod
    def _confidence(factors: dict[str, Any]) -> float:
        # Same operations in the same order as the TS code, so the float noise matches too.
        confidence = 0.6
        confidence += min(0.2, len(factors) * 0.05)
        if any(factors.get(key) for key in KEYWORD_FACTORS):
            confidence += 0.1
        if "relatedFilesCount" in factors:
            confidence += 0.1
        return min(0.95, confidence)

    def analyze(
        self,
        lines_added: float = 0,
        lines_removed: float = 0,
        files_changed: float = 0,
        commits: float = 1,
        time_to_merge_hours: float | None = None,
        review_comments: float = 0,
        pre_complexity_score: float | None = None,
    ) -> dict[str, Any]:
        total = lines_added + lines_removed
        metrics: dict[str, Any] = {
            "totalLinesChanged": js_number(total),
            "filesChanged": js_number(files_changed),
            "commits": js_number(commits),
        }
        if time_to_merge_hours is not None:
            metrics["timeToMergeHours"] = js_number(time_to_merge_hours)
        metrics["reviewComments"] = js_number(review_comments)

        level_number = self._level_for_lines(total)
        if files_changed > 20:
            level_number = max(level_number, 4)
        elif files_changed > 10:
            level_number = max(level_number, 3)
        if time_to_merge_hours and time_to_merge_hours > 40:
            level_number = max(level_number, 4)
        if review_comments and review_comments > 20:
            level_number = max(level_number, 4)
        level = SCALE[round_half_up(clamp(level_number, 1, 5))]

        analysis = (
            f"Actual complexity: {level.name} ({level.level}/5) based on {js_text(total)} lines changed "
            f"across {js_text(files_changed)} files."
        )
        accuracy: float | None = None
        if pre_complexity_score:
            adjustment = self.adjustment(pre_complexity_score, level.level)
            accuracy = 100 - abs(pre_complexity_score - level.level) * 25
            analysis += " " + self._comparison(level.level - pre_complexity_score)
        else:
            adjustment = Adjustment(1, 0, "No pre-estimate provided")

        body: dict[str, Any] = {
            "actualComplexity": level.level,
            "complexityName": level.name,
            "actualPoints": round_half_up(level.base_points * adjustment.multiplier),
            "metrics": metrics,
        }
        if accuracy is not None:
            body["accuracyScore"] = js_number(accuracy)
        body["pointAdjustment"] = js_number(adjustment.multiplier)
        body["adjustmentReason"] = adjustment.reason
        body["analysis"] = analysis
        body["timestamp"] = iso_now()
        return body

    @staticmethod
    def _level_for_lines(total: float) -> int:
        for limit, level in ((50, 1), (200, 2), (500, 3), (1000, 4)):
            if total < limit:
                return level
        return 5

    @staticmethod
    def _comparison(diff: float) -> str:
        if diff > 0:
            unit = "levels" if diff > 1 else "level"
            return f"Task was more complex than estimated ({js_text(diff)} {unit} higher)."
        if diff < 0:
            unit = "levels" if abs(diff) > 1 else "level"
            return f"Task was simpler than estimated ({js_text(abs(diff))} {unit} lower)."
        return "Estimation was accurate."

    @staticmethod
    def adjustment(pre_level: float, actual_level: float) -> Adjustment:
        diff = actual_level - pre_level
        if diff >= 2:
            return Adjustment(1.25, 25, "Significantly underestimated complexity - 25% bonus")
        if diff == 1:
            return Adjustment(1.15, 15, "Slightly underestimated complexity - 15% bonus")
        if diff == 0:
            return Adjustment(1.1, 10, "Perfect estimation accuracy - 10% bonus")
        if diff == -1:
            return Adjustment(1.0, 0, "Slightly overestimated complexity - no adjustment")
        return Adjustment(0.9, -10, "Significantly overestimated complexity - 10% penalty")


@functools.cache
def get_instance() -> ComplexityService:
    return ComplexityService()
