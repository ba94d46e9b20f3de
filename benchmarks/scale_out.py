"""Scale-out: two instances of the service behind one PostgreSQL (pgvector) and one Redis.

Usage: .venv/bin/python benchmarks/scale_out.py   (needs the machine's PostgreSQL with pgvector and Redis)

Nothing that must agree between instances may live in one process. Checked here, on two
instances started as `make serve` runs them (one worker each), sharing DATABASE_URL and REDIS_URL:
1. a per-key throttle of 20/min admits 20 requests in all, whichever instance they reach;
2. a document indexed through instance A is found by a search through instance B;
3. a key created through one instance's CLI works on both within a second, and once revoked
   stops working on both within a second.
Exit status 1 when a check fails.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT, django_command, free_port, running, server_env

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mlservice_scale_out"
REDIS_URL = "redis://127.0.0.1:6379/8"
STATIC_KEY = "scale-out-static-key-" + secrets.token_hex(8)
# Instances of one deployment share their secret key (key identities are derived from it).
SECRET_KEY = secrets.token_urlsafe(64)
RESULTS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, ok, detail))
    print(f"  [{'PASS' if ok else 'FAIL'}] {name} {detail}", flush=True)


def shared_env(data_dir: str) -> dict[str, str]:
    return server_env(
        data_dir,
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        DJANGO_SECRET_KEY=SECRET_KEY,
        ML_SERVICE_API_KEYS=STATIC_KEY,
        THROTTLE_RATE_PER_KEY="20/min",
        WARM_MODELS_ON_START="true",
        ACCESS_LOG="false",
    )


def prepare_database(env: dict[str, str]) -> None:
    for statement in ("DROP DATABASE IF EXISTS mlservice_scale_out", "CREATE DATABASE mlservice_scale_out"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", statement, "postgres"], check=True)
    subprocess.run(["redis-cli", "-n", "8", "flushdb"], check=True, capture_output=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


@contextlib.contextmanager
def instance(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(django_command("granian", port, 1), env, f"{base}/live", timeout=180):
        yield base


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def index_then_search(a: str, b: str) -> None:
    document = {
        "documentId": "scale-doc",
        "projectId": "scale",
        "filename": "runbook.md",
        "fileType": "md",
        "content": "To rotate the database password, open the vault, create a new secret and restart the pods.",
    }
    indexed = httpx.post(f"{a}/rag/index-project-document", json=document, headers=auth(STATIC_KEY), timeout=60)
    found = httpx.post(
        f"{b}/rag/search",
        json={"query": "how do I rotate the database password", "collection": "project_scale", "minScore": 0.1},
        headers=auth(STATIC_KEY),
        timeout=60,
    )
    ids = [hit.get("metadata", {}).get("document_id") for hit in found.json().get("results", [])]
    check(
        "indexed through A, found through B",
        indexed.status_code == 201 and "scale-doc" in ids,
        f"index {indexed.status_code}, search {found.status_code}, hits {ids[:3]}",
    )


def shared_throttle(a: str, b: str) -> None:
    statuses = []
    with httpx.Client(timeout=30) as client:
        for i in range(30):
            base = a if i % 2 == 0 else b
            answer = client.post(f"{base}/complexity/estimate", json={"title": f"task {i}"}, headers=auth(STATIC_KEY))
            statuses.append(answer.status_code)
    admitted = sum(1 for status in statuses if status < 300)
    refused = sum(1 for status in statuses if status == 429)
    check(
        "a 20/min key limit admits 20 in all across both instances",
        admitted == 20 and refused == 10,
        f"admitted {admitted}, refused {refused}",
    )


def key_changes_reach_both(env: dict[str, str], a: str, b: str) -> None:
    created = subprocess.run(
        [sys.executable, "manage.py", "apikey", "create", "scale-out-db-key"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = created.strip()
    time.sleep(1.2)
    works = [httpx.get(f"{base}/ready", headers=auth(key), timeout=30).status_code for base in (a, b)]
    check("a key created through the CLI works on both instances within 1 s", works == [200, 200], f"{works}")
    subprocess.run(
        [sys.executable, "manage.py", "apikey", "revoke", key[:12]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    time.sleep(1.2)
    refused = [httpx.get(f"{base}/ready", headers=auth(key), timeout=30).status_code for base in (a, b)]
    check("a revoked key is refused on both instances within 1 s", refused == [401, 401], f"{refused}")


def main() -> int:
    with tempfile.TemporaryDirectory() as data_a, tempfile.TemporaryDirectory() as data_b:
        env_a, env_b = shared_env(data_a), shared_env(data_b)
        prepare_database(env_a)
        with instance(env_a) as a, instance(env_b) as b:
            print(f"instances: A {a}, B {b} (one PostgreSQL, one Redis)")
            shared_throttle(a, b)  # first: every request with the key counts against its limit
            time.sleep(60)  # a fresh minute for the key
            index_then_search(a, b)
            key_changes_reach_both(env_a, a, b)
    failed = [name for name, ok, _ in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
