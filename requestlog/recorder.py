"""Writes ``ml_service_requests`` rows and ``ml_service_usage`` aggregates without slowing requests.

The middleware only puts a small record on a bounded in-memory queue; a daemon thread per process
drains it in batches. A slow or stopped database therefore never blocks or fails a request: when
the queue is full, records are dropped and counted, and write errors are logged (rate-limited).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import queue
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from mlservice.api.log_context import fast_uuid4
from mlservice.api.parsers import RAW_BODY_ATTRIBUTE

logger = logging.getLogger("mlservice.requestlog")

# Health probes, docs, admin and metrics are not API usage (contract 7.4).
SKIPPED_PREFIXES = (
    "/health",
    "/live",
    "/ready",
    "/api/v1/health",
    "/api/v1/live",
    "/api/v1/ready",
    "/api/v1/docs",
    "/api/v1/redoc",
    "/api/v1/schema",
    "/admin",
    "/static",
    "/metrics",
    "/favicon",
)
CATEGORIES = ("embeddings", "rag", "analysis", "complexity", "transcription")
_JSON_METHODS = {"POST", "PUT", "PATCH"}
_LOGGED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}


@dataclass(slots=True)
class RequestRecord:
    endpoint: str
    method: str
    status_code: int
    duration_ms: float
    request_body: bytes | None
    response_body: bytes | None
    request_id: str
    user_id: str | None
    organization_id: str | None
    ip_address: str | None
    user_agent: str | None
    credits: int
    day: date


def record_request(request: HttpRequest, response: HttpResponse, duration_ms: float) -> None:
    if not settings.ENABLE_REQUEST_LOGGING or request.path.startswith(SKIPPED_PREFIXES):
        return
    try:
        record = _build_record(request, response, duration_ms)
    except Exception:
        logger.exception("Could not build request-log record")
        return
    if settings.REQUEST_LOG_SYNC:
        try:
            write_records([record])
        except Exception:
            logger.exception("Request log write failed")
    else:
        _writer().submit(record)


def _build_record(request: HttpRequest, response: HttpResponse, duration_ms: float) -> RequestRecord:
    limit = settings.REQUEST_LOG_MAX_PAYLOAD_BYTES
    headers = request.headers
    return RequestRecord(
        endpoint=request.get_full_path()[:255],
        method=request.method or "GET",
        status_code=response.status_code,
        duration_ms=duration_ms,
        request_body=_json_body(request, limit),
        response_body=_response_body(response, limit),
        request_id=getattr(request, "request_id", "") or str(uuid.uuid4()),
        user_id=headers.get("X-User-ID"),
        organization_id=headers.get("X-Organization-ID"),
        ip_address=_client_ip(request),
        user_agent=headers.get("User-Agent"),
        credits=_int_or_zero(response.get("X-Credits-Charged")),
        day=timezone.now().date(),
    )


def _json_body(request: HttpRequest, limit: int) -> bytes | None:
    if request.method not in _JSON_METHODS or not (request.content_type or "").endswith("json"):
        return None
    body = getattr(request, RAW_BODY_ATTRIBUTE, None)
    if body is None:
        return None
    return body if 0 < len(body) <= limit else None


def _response_body(response: HttpResponse, limit: int) -> bytes | None:
    if getattr(response, "streaming", False) or not response.get("Content-Type", "").startswith("application/json"):
        return None
    content = response.content
    return content if 0 < len(content) <= limit else None


def _client_ip(request: HttpRequest) -> str | None:
    candidates = (
        request.headers.get("X-Forwarded-For", "").split(",")[0].strip(),
        request.headers.get("X-Real-IP", "").strip(),
        request.META.get("REMOTE_ADDR", ""),
    )
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _int_or_zero(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _loads(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def endpoint_category(path: str) -> str:
    for category in CATEGORIES:
        if f"/{category}" in path:
            return category
    return "other"


_COLUMNS = (
    "id",
    "user_id",
    "organization_id",
    "service_name",
    "endpoint",
    "method",
    "request_payload",
    "response_payload",
    "status_code",
    "error_message",
    "duration_ms",
    "credits_charged",
    "ip_address",
    "user_agent",
    "request_id",
    "created_at",
)
_JSON_COLUMNS = {"request_payload", "response_payload"}


def write_records(records: list[RequestRecord]) -> None:
    """Insert the request rows and fold them into the daily usage aggregates, in one transaction.

    Rows go in with one ``executemany`` and the JSON bodies exactly as they were sent: building
    model instances and re-serialising the payloads cost ~100 us a row on the serving CPU.
    """
    from requestlog.models import RequestLog

    fields = {field.column: field for field in RequestLog._meta.concrete_fields}
    now = timezone.now()
    rows = [_row(rec, fields, now) for rec in records]
    is_postgres = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    placeholders = ", ".join("%s::jsonb" if is_postgres and col in _JSON_COLUMNS else "%s" for col in _COLUMNS)
    sql = (
        f"INSERT INTO {quote(RequestLog._meta.db_table)} ({', '.join(quote(c) for c in _COLUMNS)}) "
        f"VALUES ({placeholders})"
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        if settings.ENABLE_USAGE_ANALYTICS:
            _add_usage(records)


def _row(rec: RequestRecord, fields: dict[str, Any], now: Any) -> list[Any]:
    values = {
        "id": fast_uuid4(),
        "user_id": _uuid_or_none(rec.user_id),
        "organization_id": _uuid_or_none(rec.organization_id),
        "service_name": settings.SERVICE_NAME,
        "endpoint": rec.endpoint,
        "method": rec.method if rec.method in _LOGGED_METHODS else "POST",
        "status_code": rec.status_code,
        "error_message": _error_message(rec.response_body) if rec.status_code >= 400 else None,
        "duration_ms": max(0, round(rec.duration_ms)),
        "credits_charged": rec.credits,
        "ip_address": rec.ip_address,
        "user_agent": rec.user_agent,
        "request_id": rec.request_id[:255],
        "created_at": now,
    }
    row = []
    for column in _COLUMNS:
        if column in _JSON_COLUMNS:
            raw = rec.request_body if column == "request_payload" else rec.response_body
            row.append(_valid_json_text(raw))
        else:
            row.append(fields[column].get_db_prep_value(values[column], connection, prepared=False))
    return row


def _valid_json_text(raw: bytes | None) -> str | None:
    """The body as JSON text when it is valid JSON (a malformed request body is logged as NULL)."""
    if raw is None:
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return raw.decode("utf-8")


def _error_message(body: bytes | None) -> str | None:
    parsed = _loads(body)
    if isinstance(parsed, dict):
        message = parsed.get("message")
        if isinstance(message, list):
            return "; ".join(str(m) for m in message)
        return str(parsed.get("error") or message or "") or None
    return None


def _add_usage(records: list[RequestRecord]) -> None:
    from requestlog.models import UsageDaily

    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for rec in records:
        key = (_uuid_or_none(rec.user_id), _uuid_or_none(rec.organization_id), rec.day, endpoint_category(rec.endpoint))
        bucket = totals[key]
        bucket[0] += 1
        bucket[1] += rec.credits
        bucket[2] += max(0, round(rec.duration_ms))
        bucket[3 if rec.status_code < 400 else 4] += 1
    for (user_id, org_id, day, category), (count, credits, duration, ok, errors) in totals.items():
        _lock_usage_key(user_id, org_id, day, category)
        lookup = {
            "user_id": user_id,
            "organization_id": org_id,
            "date": day,
            "service_name": settings.SERVICE_NAME,
            "endpoint_category": category,
        }
        row = UsageDaily.objects.select_for_update().filter(**lookup).first()
        if row is None:
            row = UsageDaily(**lookup)
        row.total_requests = (row.total_requests or 0) + count
        row.total_credits = (row.total_credits or 0) + credits
        row.total_duration_ms = (row.total_duration_ms or 0) + duration
        row.success_count = (row.success_count or 0) + ok
        row.error_count = (row.error_count or 0) + errors
        row.save()


def _lock_usage_key(*key: Any) -> None:
    # NULLs are distinct in the shared table's unique key, so a plain upsert cannot stop two
    # processes inserting the same (null org) row; a transaction-scoped advisory lock can.
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


class _BackgroundWriter:
    def __init__(self) -> None:
        self._queue: queue.Queue[RequestRecord] = queue.Queue(maxsize=settings.REQUEST_LOG_QUEUE_SIZE)
        self.dropped = 0
        self._last_error_log = 0.0
        self._thread = threading.Thread(target=self._run, name="request-log-writer", daemon=True)
        self._thread.start()

    def submit(self, record: RequestRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + 0.2
            while len(batch) < 500 and time.monotonic() < deadline:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[RequestRecord]) -> None:
        try:
            write_records(batch)
        except Exception as exc:  # noqa: BLE001 - the database may be down; requests go on
            now = time.monotonic()
            if now - self._last_error_log > 30:
                self._last_error_log = now
                logger.warning("Request log: dropped %d records, database write failed: %s", len(batch), exc)
            close_old_connections()
        if self._queue.empty():
            # Idle: give the connection back (the writer is a long-lived thread, so Django's
            # per-request connection cleanup never runs for it); busy periods keep it open.
            connection.close()


_writer_instance: _BackgroundWriter | None = None
_writer_lock = threading.Lock()


def _writer() -> _BackgroundWriter:
    global _writer_instance
    if _writer_instance is None:
        with _writer_lock:
            if _writer_instance is None:
                _writer_instance = _BackgroundWriter()
    return _writer_instance


def flush(timeout: float = 5.0) -> bool:
    """Wait until the background queue is drained (tests, graceful shutdown)."""
    deadline = time.monotonic() + timeout
    while _writer_instance is not None and _writer_instance.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    return _writer_instance is None or _writer_instance.pending() == 0
