"""Fault injection against the real services of this machine (issue 7). Run as root, not in CI:
it stops and restarts the machine's Redis and PostgreSQL.

Usage: .venv/bin/python benchmarks/faults.py [--only redis,postgres,kill,worker-kill,lying-flac]

1. redis:    Redis stopped -> requests are still served (cache degrades to none), /ready 503;
             Redis back -> /ready 200.
2. postgres: PostgreSQL stopped -> /ready 503, RAG answers a clear 503, complexity still answers;
             PostgreSQL back -> /ready 200 and the document indexed before is still found.
3. kill:     the server is killed (SIGKILL) in the middle of indexing a large document -> after a
             restart, the document has no chunks at all (no partial document) and re-indexing works.
4. worker-kill: one granian worker is killed (SIGKILL, as the OOM killer does) under load -> the
             other worker keeps answering, a new worker replaces the dead one, and then every
             request succeeds again (issue 10).
5. lying-flac: FLACs whose STREAMINFO claims 10 s (issue 12), sent to a server whose processes run
             under an address-space limit (prlimit --as): 5 h of audio -> a clear 413 stating the
             duration limit on /transcribe and /convert; 5 min -> a background job that completes.
             The workers' peak RSS (VmHWM) stays bounded throughout.
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

from benchmarks._harness import (
    ROOT,
    django_command,
    free_port,
    process_tree,
    server_env,
    server_pids,
    wait_until_up,
)

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


def _wait(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.5)


@contextlib.contextmanager
def server(env: dict[str, str], wrapper: tuple[str, ...] = ()) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    process = subprocess.Popen(
        [*wrapper, *django_command("granian", port, 2)],
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


def worker_kill_scenario(env: dict[str, str]) -> None:
    print("worker-kill: SIGKILL one worker process under load")
    estimate = {"title": "Refactor authentication system", "description": "Major security overhaul"}
    with server(env) as (base, process):
        port = int(base.rsplit(":", 1)[1])
        workers_before = [pid for pid in server_pids(port) if pid != process.pid]
        outcomes: list[tuple[float, int]] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=base, timeout=5) as client:
                while not stop.is_set():
                    try:
                        status = client.post("/complexity/estimate", json=estimate).status_code
                    except httpx.HTTPError:
                        status = 0
                    outcomes.append((time.monotonic(), status))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        victim = workers_before[-1]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        replaced_after = None
        while time.monotonic() - killed_at < 30:
            current = [pid for pid in server_pids(port) if pid != process.pid]
            if victim not in current and len(current) >= len(workers_before):
                replaced_after = time.monotonic() - killed_at
                break
            time.sleep(0.1)
        time.sleep(3.0)
        stop.set()
        for thread in threads:
            thread.join()
    during = [status for at, status in outcomes if at >= killed_at]
    settled = [status for at, status in outcomes if at >= killed_at + (replaced_after or 30) + 1.0]
    failed = sum(1 for status in during if status != 201)
    check(
        "a killed worker is replaced",
        replaced_after is not None,
        f"in {replaced_after:.1f} s" if replaced_after is not None else "not within 30 s",
    )
    check(
        "the server kept answering while a worker died",
        len(during) > 20 and failed <= 8,
        f"{len(during)} requests after the kill, {failed} failed (requests in flight on the dead worker)",
    )
    check(
        "every request succeeds once the worker is back",
        bool(settled) and all(status == 201 for status in settled),
        f"{len(settled)} requests, statuses {sorted(set(settled))}",
    )


def _quiet_post(url: str, body: dict) -> int:
    """The answer's status, or 0 when the connection broke."""
    try:
        return httpx.post(url, json=body, timeout=600).status_code
    except httpx.HTTPError:
        return 0


# --- lying-flac
# Each server process may map 3 GiB (a worker maps ~1.7 GiB after a transcription, ~350 MB
# resident); the 5 h file decoded whole is 1.1 GB of float32 and its log-mel features several GB.
LYING_FLAC_AS_LIMIT = 3 * 1024**3
LYING_FLAC_MAX_RSS = 1024**3


def lying_flac_scenario() -> None:
    print(f"lying-flac: FLACs that claim 10 s, server under prlimit --as={LYING_FLAC_AS_LIMIT}")
    from tests.test_transcription.lying_audio import lying_flac

    with tempfile.TemporaryDirectory() as folder:
        # Production settings on SQLite, no Redis: jobs run in the server's own processes, so
        # their memory is in the RSS measured below.
        env = server_env(folder, ACCESS_LOG="false")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        five_hours = lying_flac(Path(folder) / "five-hours.flac", 5 * 3600, claimed_seconds=10)
        five_minutes = lying_flac(Path(folder) / "five-minutes.flac", 300, claimed_seconds=10)
        print(f"  files: 5 h = {five_hours.stat().st_size} bytes, 5 min = {five_minutes.stat().st_size} bytes")
        wrapper = ("prlimit", f"--as={LYING_FLAC_AS_LIMIT}", "--")
        with server(env, wrapper) as (base, process):
            client = httpx.Client(base_url=base, timeout=600)
            limit = int(float(env.get("TRANSCRIPTION_MAX_DURATION_SECONDS", 4 * 3600)))
            expected = f"Audio is too long: more than {limit} s of decoded audio (limit {limit} s)"
            for route, extra in (
                ("/api/v1/transcription/transcribe", {}),
                ("/api/v1/transcription/convert", {"target_format": "wav"}),
            ):
                started = time.monotonic()
                response = _post_file(client, route, five_hours, extra)
                body = _json(response)
                check(
                    f"5 h claiming 10 s on {route.rsplit('/', 1)[-1]}: 413 stating the limit",
                    response.status_code == 413 and body.get("error") == expected and body.get("statusCode") == 413,
                    f"{response.status_code} {str(body)[:160]} in {time.monotonic() - started:.1f}s",
                )
            response = _post_file(client, "/api/v1/transcription/transcribe", five_minutes, {})
            queued = _json(response).get("job", {})
            check(
                "5 min claiming 10 s: a background job on its real length",
                response.status_code == 202 and abs(queued.get("duration", 0) - 300) < 1,
                f"{response.status_code} {str(queued)[:160]}",
            )
            job = _wait_for_job(client, queued.get("statusUrl")) if response.status_code == 202 else {}
            check("the job completes", job.get("status") == "completed", f"{job.get('status')} {job.get('error', '')}")
            alive = client.get("/live").status_code == 200 and process.poll() is None
            check("the server is still up", alive)
            peak = _peak_rss(process.pid)
            check(
                f"peak RSS of the server's processes under {LYING_FLAC_MAX_RSS // 2**20} MiB",
                0 < peak < LYING_FLAC_MAX_RSS,
                f"VmHWM {peak / 2**20:.0f} MiB",
            )


def _post_file(client: httpx.Client, route: str, path: Path, fields: dict[str, str]) -> httpx.Response:
    with path.open("rb") as handle:
        return client.post(route, files={"file": (path.name, handle, "audio/flac")}, data=fields)


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _wait_for_job(client: httpx.Client, url: str | None, timeout: float = 900.0) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while url and time.monotonic() < deadline:
        job = _json(client.get(url)).get("job", {})
        if job.get("status") in ("completed", "failed"):
            break
        time.sleep(1.0)
    return job


def _peak_rss(root: int) -> int:
    """The largest VmHWM (peak resident set, bytes) among ``root`` and its descendants."""
    peak = 0
    for pid in process_tree([root]):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="redis,postgres,kill,worker-kill,lying-flac")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("faults.py stops system services: run it as root")
    with tempfile.TemporaryDirectory() as data_dir:
        scenarios = {
            "redis": redis_scenario,
            "postgres": postgres_scenario,
            "kill": kill_scenario,
            "worker-kill": worker_kill_scenario,
        }
        names = args.only.split(",")
        # lying-flac needs no PostgreSQL (nor pgvector): only the scenarios that do build its database.
        env = environment(data_dir, DJANGO_SECRET_KEY=secrets.token_urlsafe(64)) if set(names) & set(scenarios) else {}
        for name in names:
            if name == "lying-flac":
                lying_flac_scenario()
            else:
                scenarios[name](env)
    failed = [name for name, ok, _ in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
