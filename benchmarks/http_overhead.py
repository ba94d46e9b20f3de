"""HTTP overhead: our Django service against an equivalent minimal FastAPI app, same machine, same run.

Usage: .venv/bin/python benchmarks/http_overhead.py [--seconds 10] [--connections 32] [--servers granian,gunicorn]

Both sides serve GET /health and POST /complexity/estimate with 2 worker processes on 127.0.0.1;
wrk (1 thread) loads each in turn, in two rounds of opposite order, because machines here are
noisy and the load generator shares the cores. Ratios to FastAPI within a round are what count.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (
    django_server,
    free_port,
    running,
    server_env,
    uvicorn_command,
    wait_until_quiet,
    wrk,
    wrk_per_server_cpu,
)

ENDPOINTS = {
    "GET /health": ("/health", None),
    "POST /complexity/estimate": (
        "/complexity/estimate",
        json.dumps(
            {
                "title": "Refactor authentication system",
                "description": "Major security overhaul",
                "issueType": "refactor",
                "relatedFiles": ["a.ts", "b.ts"],
            }
        ),
    ),
}


@contextlib.contextmanager
def fastapi_server(workers: int):
    port = free_port()
    command = uvicorn_command("benchmarks.fastapi_baseline:app", port, workers)
    base = f"http://127.0.0.1:{port}"
    with running(command, server_env("/tmp"), f"{base}/health"):
        yield base


def django_stack(name: str, workers: int):
    """`granian`, `gunicorn`, `uvicorn-asgi`; a `-nolog` suffix also turns off the database request log.

    The access log is off on every stack, as it is for the FastAPI baseline (--no-access-log).
    """
    server = name.removesuffix("-nolog")
    extra = {"ACCESS_LOG": "false"}
    if name.endswith("-nolog"):
        extra["ENABLE_REQUEST_LOGGING"] = "false"
    return django_server(server, workers, **extra)


def measure(name: str, server, args) -> dict[str, dict[str, float]]:
    results = {}
    with server as base:
        port = int(base.rsplit(":", 1)[1])
        wait_until_quiet(port)  # models warm in the background after start: not the requests' cost
        for label, (path, body) in ENDPOINTS.items():
            wrk(base + path, 2, args.connections, body)  # warm-up: imports, caches, connections
            results[label] = wrk_per_server_cpu(port, base + path, args.seconds, args.connections, body)
            print(
                f"  {name:<22} {label:<28} {results[label]['rps']:>9.0f} req/s  p99 {results[label]['p99_ms']:.1f} ms"
                f"  {results[label]['per_cpu_s']:>8.0f} req/CPU-s  non-2xx {results[label]['errors']:.0f}",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--servers",
        default="granian,granian-wsgi,uvicorn-asgi",
        help="Django stacks: granian (make serve), granian-wsgi (before issue 10), gunicorn, uvicorn-asgi, X-nolog",
    )
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    stacks = ["fastapi", *[f"django-{s}" for s in args.servers.split(",")]]
    rounds = []
    for index in range(args.rounds):
        order = stacks if index % 2 == 0 else list(reversed(stacks))
        print(f"round {index + 1}: {', '.join(order)}")
        round_results = {}
        for stack in order:
            if stack == "fastapi":
                server = fastapi_server(args.workers)
            else:
                server = django_stack(stack.removeprefix("django-"), args.workers)
            round_results[stack] = measure(stack, server, args)
        rounds.append(round_results)

    for key, title in (("rps", "req/s"), ("per_cpu_s", "requests per server CPU-second")):
        print(f"\n{title} (ratio to FastAPI in the same round)")
        header = f"{'stack':<20}" + "".join(f"{label:>38}" for label in ENDPOINTS)
        print(header)
        for stack in stacks:
            cells = []
            for label in ENDPOINTS:
                parts = []
                for round_results in rounds:
                    value = round_results[stack][label][key]
                    ratio = value / round_results["fastapi"][label][key]
                    parts.append(f"{value:,.0f} ({ratio:.2f}x)")
                cells.append(" / ".join(parts))
            print(f"{stack:<20}" + "".join(f"{cell:>38}" for cell in cells))


if __name__ == "__main__":
    main()
