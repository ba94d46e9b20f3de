"""Shared benchmark plumbing: free ports, starting our server, waiting for it, wrk runs."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up in {timeout:.0f}s")


def server_env(data_dir: str, **extra: str) -> dict[str, str]:
    """Production settings on a throwaway data folder, as a deployment would run."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        MLSERVICE_DATA_DIR=data_dir,
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def uvicorn_command(app: str, port: int, workers: int) -> list[str]:
    return [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log"]  # fmt: skip


def django_command(server: str, port: int, workers: int) -> list[str]:
    if server == "granian":  # what `make serve` and the Dockerfile run
        return [
            sys.executable,
            "manage.py",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    if server == "granian-wsgi":  # the serving model before issue 10: 1 blocking thread per worker
        return [str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--blocking-threads", "1", "--backlog", "2048", "--no-ws",
                "--log-level", "warning", "mlservice.wsgi:application"]  # fmt: skip
    if server == "gunicorn":
        return [
            str(BIN / "gunicorn"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--log-level",
            "warning",
            "mlservice.wsgi:application",
        ]
    if server == "uvicorn-asgi":
        return uvicorn_command("mlservice.asgi:application", port, workers)
    raise ValueError(server)


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], health_url: str, timeout: float = 120.0) -> Iterator[None]:
    # The server's output goes to a file: an unread pipe fills up (access logs) and blocks it.
    log = tempfile.NamedTemporaryFile("w+", prefix="mlservice-server-", suffix=".log", delete=False)
    # Its own process group, so that stopping it stops its workers too: granian's graceful shutdown
    # waits for in-flight requests, and workers orphaned by killing the parent alone kept draining a
    # queue of abandoned batches for minutes, skewing whatever was measured next.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_until_up(health_url, timeout)
        except RuntimeError:
            log.seek(0)
            print(log.read()[-4000:], file=sys.stderr)
            raise
        yield
    finally:
        log.close()
        os.unlink(log.name)
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)  # whatever is left of the group (workers included)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


@contextlib.contextmanager
def django_server(server: str = "granian", workers: int = 2, **extra_env: str) -> Iterator[str]:
    """Migrate a fresh SQLite database and serve our app; yields the base URL."""
    data_dir = tempfile.mkdtemp(prefix="mlservice-bench-")
    env = server_env(data_dir, **extra_env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with running(django_command(server, port, workers), env, f"{base}/health"):
            yield base
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _processes() -> Iterator[tuple[int, int, bytes]]:
    """(pid, parent pid, cmdline) of every process that can still be read."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            yield int(proc.name), parent, (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue


def process_tree(roots: Iterable[int]) -> list[int]:
    """``roots`` and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent, _ in _processes():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return sorted(found)


def server_pids(port: int) -> list[int]:
    """Every process serving on ``port``: the one started with ``--port N`` and all its descendants."""
    marker = f"--port\0{port}\0".encode()
    return process_tree(pid for pid, _, cmdline in _processes() if marker in cmdline)


def server_cpu_seconds(port: int) -> float:
    """User + system CPU seconds used so far by the server on ``port`` (all its processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in server_pids(port):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return total / ticks


def wait_until_quiet(port: int, idle_share: float = 0.05, window: float = 1.0, timeout: float = 90.0) -> float:
    """Wait until the server on ``port`` uses under ``idle_share`` of one CPU over ``window`` seconds
    (its start-up work, such as loading models in the background, is done); returns the seconds waited.

    Without it the first figure after a start counted the warm-up's CPU as the requests' cost."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = server_cpu_seconds(port)
        time.sleep(window)
        if server_cpu_seconds(port) - before < idle_share * window:
            break
    return time.monotonic() - started


def server_rss_mb(port: int) -> float:
    """Resident memory of the server on ``port`` (all its processes), in MB."""
    total_kb = 0
    for pid in server_pids(port):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str, seconds: float, connections: int, body: str | None = None, lua: str | None = None
) -> dict[str, float]:
    """Run wrk (1 thread) against url; POSTs body as JSON when given, or runs the ``lua`` script
    (one that builds each request itself). Returns req/s, p99 ms, errors (non-2xx/3xx answers)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    script = None
    if body is not None or lua is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        if lua is None:
            escaped = (body or "").replace("\\", "\\\\").replace('"', '\\"')
            lua = f'wrk.method = "POST"\nwrk.body = "{escaped}"\nwrk.headers["Content-Type"] = "application/json"\n'
        script.write(lua)
        script.close()
        command[1:1] = ["-s", script.name]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        if script is not None:
            os.unlink(script.name)
    p99 = _WRK_P99.search(out)
    errors = _WRK_ERRORS.search(out)
    return {
        "rps": float(_WRK_RPS.search(out).group(1)),
        "p99_ms": float(p99.group(1)) * _UNIT[p99.group(2)] if p99 else float("nan"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def wrk_per_server_cpu(
    port: int, url: str, seconds: float, connections: int, body: str | None = None, lua: str | None = None
) -> dict[str, float]:
    """``wrk`` against the server on ``port``, with ``per_cpu_s`` added: requests per server
    CPU-second, what the server costs whatever the load generator (on the same cores) takes."""
    cpu_before = server_cpu_seconds(port)
    result = wrk(url, seconds, connections, body, lua)
    cpu = server_cpu_seconds(port) - cpu_before
    return {**result, "per_cpu_s": result["rps"] * seconds / max(cpu, 1e-9)}
