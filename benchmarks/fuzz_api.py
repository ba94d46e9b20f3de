"""Property-based fuzzing of every endpoint in /api/v1/schema/ with schemathesis: 0 server errors.

Usage: .venv/bin/python benchmarks/fuzz_api.py [--max-examples 120] [--max-time 900]

Starts the service (production settings, granian, throwaway SQLite and vector store), fetches its
OpenAPI schema and lets schemathesis generate valid and invalid requests for every operation.
The check is `no_unexpected_server_error` (benchmarks/fuzz_checks.py): any 5xx fails the run,
except the documented 503 of the generative endpoints when no LLM or image provider is configured,
as on this server.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import BIN, ROOT, django_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=120, help="examples per operation")
    parser.add_argument("--max-time", type=int, default=1200, help="seconds for the whole run")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--seed", type=int, help="fixed seed (CI), so a run can be replayed; default random")
    parser.add_argument("--exclude-path-regex", default="", help="skip operations (e.g. slow model endpoints)")
    args = parser.parse_args()

    # The local LLM answers generation requests: a few tokens each keep the run about inputs, and
    # its joined model file is reused from var/models instead of rebuilt in the throwaway data dir.
    local_llm = {"LOCAL_LLM_MAX_TOKENS": "8", "LOCAL_LLM_MODELS_DIR": str(ROOT / "var" / "models")}
    with django_server(
        "granian", workers=2, DOCS_REQUIRE_LOGIN="false", WARM_MODELS_ON_START="true", **local_llm
    ) as base:
        schema = httpx.get(f"{base}/api/v1/schema/?format=json", timeout=60).json()
        operations = sum(len(ops) for ops in schema["paths"].values())
        with tempfile.TemporaryDirectory() as tmp:
            schema_path = Path(tmp) / "openapi.json"
            schema_path.write_text(json.dumps(schema))
            report = Path(tmp) / "report.json"
            command = [
                str(BIN / "schemathesis"),
                "run",
                str(schema_path),
                "--url",
                base,
                "--checks",
                "no_unexpected_server_error",
                "--max-examples",
                str(args.max_examples),
                "--max-time",
                str(args.max_time),
                "--workers",
                args.workers,
                "--request-timeout",
                "120",
                "--continue-on-failure",
                "--suppress-health-check",
                "all",
                "--report",
                "ndjson",
                "--report-ndjson-path",
                str(report),
                "--no-shrink",
            ]
            if args.seed is not None:
                command += ["--seed", str(args.seed)]
            if args.exclude_path_regex:
                command += ["--exclude-path-regex", args.exclude_path_regex]
            print(f"{operations} operations; running: {' '.join(command[2:])}", flush=True)
            hooks_env = {**os.environ, "SCHEMATHESIS_HOOKS": "benchmarks.fuzz_checks", "PYTHONPATH": str(ROOT)}
            result = subprocess.run(command, text=True, capture_output=True, env=hooks_env)
            print(result.stdout[-20000:])
            cases = _count_cases(report)
    print(f"\nschemathesis: {operations} operations, {cases} generated cases, exit code {result.returncode}")
    return result.returncode


def _count_cases(report: Path) -> int:
    """Count test cases from schemathesis' ndjson event stream (one scenario event per case)."""
    if not report.exists():
        return 0
    total = 0
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for name, payload in event.items():
            if name == "ScenarioFinished" and isinstance(payload, dict):
                recorder = payload.get("recorder") or {}
                total += len(recorder.get("cases", {})) or 1
    return total


if __name__ == "__main__":
    raise SystemExit(main())
