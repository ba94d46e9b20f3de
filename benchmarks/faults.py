"""Fault injection against the real services of this machine (issue 7). Run as root, not in CI:
it stops and restarts the machine's Redis and PostgreSQL.

Usage: .venv/bin/python benchmarks/faults.py [--only redis,postgres,kill]

1. redis:    Redis stopped -> requests are still served (cache degrades to none), /ready 503;
             Redis back -> /ready 200.
2. postgres: PostgreSQL stopped -> /ready 503, RAG answers a clear 503, complexity still answers;
             PostgreSQL back -> /ready 200 and the document indexed before is still found.
3. kill:     the server is killed (SIGKILL) in the middle of indexing a large document -> after a
             restart, the document has no chunks at all (no partial document) and re-indexing works.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT, django_command, free_port, server_env, wait_until_up

PG_VERSION = sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else "15"
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mlservice_faults"
REDIS_URL = "redis://127.0.0.1:6379/9"
RESULTS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, ok, detail))
    print(f"  [{'PASS' if ok else 'FAIL'}] {name} {detail}", flush=True)


def sh(command: str) -> None:
    subprocess.run(command, shell=True, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_redis() -> None:
    sh("redis-cli -h 127.0.0.1 -p 6379 shutdown nosave")


def start_redis() -> None:
    sh(
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
        "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
    )
    _wait(lambda: subprocess.run(["redis-cli", "ping"], capture_output=True).returncode == 0)


def stop_postgres() -> None:
    sh(f"pg_ctlcluster --skip-systemctl-redirect {PG_VERSION} main stop -m fast")


def start_postgres() -> None:
    sh(f"pg_ctlcluster --skip-systemctl-redirect {PG_VERSION} main start")
    _wait(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0)


def _wait(condition, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.5)


@contextlib.contextmanager
def server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    process = subprocess.Popen(
        django_command("granian", port, 2),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(f"{base}/live")
        yield base, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
        os.unlink(log.name)


def environment(data_dir: str, **extra: str) -> dict[str, str]:
    env = server_env(data_dir, DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, ACCESS_LOG="false", **extra)
    sh("psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS mlservice_faults' postgres")
    sh("psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE mlservice_faults' postgres")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    return env


DOC = {
    "document_id": "doc-1",
    "project_id": "faults",
    "filename": "guide.md",
    "file_type": "md",
    "content": "Reset a password from Settings, Security, Send reset email. The link is valid for one hour. " * 20,
}
QUERY = {"query": "how long is the password reset link valid", "collection": "project_faults", "minScore": 0.1}


def redis_scenario(env: dict[str, str]) -> None:
    print("redis: stop Redis under a running service")
    with server(env) as (base, _):
        client = httpx.Client(base_url=base, timeout=60)
        client.post("/embeddings/generate", json={"text": "warm the cache"})
        stop_redis()
        try:
            estimate = client.post("/complexity/estimate", json={"title": "Fix typo"})
            check("complexity served without Redis", estimate.status_code == 201, str(estimate.status_code))
            embed = client.post("/embeddings/generate", json={"text": "warm the cache"})
            check("embeddings served without Redis", embed.status_code == 201, str(embed.status_code))
            ready = client.get("/ready")
            check("/ready is 503 without Redis", ready.status_code == 503, ready.text[:200])
        finally:
            start_redis()
        time.sleep(6)  # the cache circuit re-closes after its open interval
        ready = client.get("/ready")
        check("/ready is 200 once Redis is back", ready.status_code == 200, str(ready.status_code))


def postgres_scenario(env: dict[str, str]) -> None:
    print("postgres: stop PostgreSQL under a running service")
    with server(env) as (base, _):
        client = httpx.Client(base_url=base, timeout=60)
        indexed = client.post("/rag/index-project-document", json=DOC)
        check("document indexed", indexed.status_code == 201, indexed.text[:200])
        stop_postgres()
        try:
            ready = client.get("/ready")
            check("/ready is 503 without PostgreSQL", ready.status_code == 503, ready.text[:200])
            search = client.post("/rag/search", json=QUERY)
            body = search.json()
            check(
                "RAG search answers a clear 503",
                search.status_code == 503 and body.get("success") is False,
                f"{search.status_code} {str(body)[:160]}",
            )
            estimate = client.post("/complexity/estimate", json={"title": "Fix typo"})
            check("complexity still served without PostgreSQL", estimate.status_code == 201, str(estimate.status_code))
        finally:
            start_postgres()
        _wait(lambda: client.get("/ready").status_code == 200, timeout=30)
        check("/ready is 200 once PostgreSQL is back", client.get("/ready").status_code == 200)
        results = client.post("/rag/search", json=QUERY).json().get("results", [])
        check("document indexed before the outage is still found", bool(results), f"{len(results)} results")


def kill_scenario(env: dict[str, str]) -> None:
    print("kill: SIGKILL the service while it indexes a large document")
    # Distinct sentences: repeated chunks would be embedded once and the request would finish
    # before the kill, proving nothing.
    content = " ".join(f"Sentence {i} about vector search and password resets." for i in range(4000))
    big = dict(DOC, document_id="doc-big", content=content)
    outcome: list[int] = []
    with server(env) as (base, process):
        url = f"{base}/rag/index-project-document"
        thread = threading.Thread(target=lambda: outcome.append(_quiet_post(url, big)))
        thread.start()
        time.sleep(2.0)
        os.killpg(process.pid, signal.SIGKILL)
        thread.join()
    check("the index request was cut off by the kill", outcome == [0], f"status {outcome}")
    with server(env) as (base, _):
        client = httpx.Client(base_url=base, timeout=300)
        search = client.post("/rag/search", json=dict(QUERY, limit=100, minScore=0.0)).json()
        partial = [r for r in search.get("results", []) if r.get("metadata", {}).get("document_id") == "doc-big"]
        check("no partial chunks of the killed document", not partial, f"{len(partial)} chunks found")
        again = client.post("/rag/index-project-document", json=dict(big, content=big["content"][:20000]))
        check("re-indexing after the kill works", again.status_code == 201, again.text[:160])


def _quiet_post(url: str, body: dict) -> int:
    """The answer's status, or 0 when the connection broke."""
    try:
        return httpx.post(url, json=body, timeout=600).status_code
    except httpx.HTTPError:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="redis,postgres,kill")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("faults.py stops system services: run it as root")
    with tempfile.TemporaryDirectory() as data_dir:
        env = environment(data_dir, DJANGO_SECRET_KEY=secrets.token_urlsafe(64))
        scenarios = {"redis": redis_scenario, "postgres": postgres_scenario, "kill": kill_scenario}
        for name in args.only.split(","):
            scenarios[name](env)
    failed = [name for name, ok, _ in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
