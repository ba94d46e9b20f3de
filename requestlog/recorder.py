"""Writes ``ml_service_requests`` rows and ``ml_service_usage`` aggregates without slowing requests.

The middleware only puts a small record on a bounded in-memory queue; a daemon thread per process
drains it in batches. A slow or stopped database therefore never blocks or fails a request: when
the queue is full, records are dropped and counted, and write errors are logged (rate-limited).
Every text is made storable first (PostgreSQL refuses NUL), and a row the database still refuses
is dropped alone: the rest of its batch is written row by row.

Rows are kept ``REQUEST_LOG_RETENTION_DAYS`` (``manage.py requestlog_prune``, from cron). The
client IP is the one the per-IP throttle uses (``mlservice.api.client_ip``), and the request body
of a request that the API refused for want of a key is not stored: it is anyone's text.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from mlservice.api.client_ip import client_ip
from mlservice.api.exceptions import error_message
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
        ip_address=_valid_ip(client_ip(request)),
        user_agent=headers.get("User-Agent"),
        credits=_int_or_zero(response.get("X-Credits-Charged")),
        day=timezone.now().date(),
    )


def _json_body(request: HttpRequest, limit: int) -> bytes | None:
    if request.method not in _JSON_METHODS or not (request.content_type or "").endswith("json"):
        return None
    body = getattr(request, RAW_BODY_ATTRIBUTE, None)
    if body is None or not 0 < len(body) <= limit:
        return None
    return body if _key_accepted_or_open(request) else None


def _key_accepted_or_open(request: HttpRequest) -> bool:
    """False for a request without a valid key while keys are required: its body is not ours to keep."""
    from mlservice.api.auth import ApiKeyUser
    from services import auth_service

    # DRF copies the authenticated user onto the Django request; unresolved paths have none.
    if isinstance(getattr(request, "user", None), ApiKeyUser):
        return True
    try:
        return not auth_service.get_instance().auth_enabled()
    except Exception:  # noqa: BLE001 - unknown means "keys may be required": keep nothing
        return False


def _response_body(response: HttpResponse, limit: int) -> bytes | None:
    if getattr(response, "streaming", False) or not response.get("Content-Type", "").startswith("application/json"):
        return None
    content = response.content
    return content if 0 < len(content) <= limit else None


def _valid_ip(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
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


def write_records(records: list[RequestRecord], using: str = DEFAULT_DB_ALIAS) -> int:
    """Insert the request rows and fold them into the daily usage aggregates, in one transaction.

    Rows go in with one ``executemany`` and the JSON bodies exactly as they were sent: building
    model instances and re-serialising the payloads cost ~100 us a row on the serving CPU. If the
    database refuses the batch, the rows are retried one by one and only the refused ones are
    dropped (and logged). Returns the number of rows dropped.
    """
    from requestlog.models import RequestLog

    conn = connections[using]
    fields = {field.column: field for field in RequestLog._meta.concrete_fields}
    now = timezone.now()
    rows = [_row(rec, fields, now, conn) for rec in records]
    quote = conn.ops.quote_name
    placeholders = ", ".join(
        "%s::jsonb" if conn.vendor == "postgresql" and col in _JSON_COLUMNS else "%s" for col in _COLUMNS
    )
    sql = (
        f"INSERT INTO {quote(RequestLog._meta.db_table)} ({', '.join(quote(c) for c in _COLUMNS)}) "
        f"VALUES ({placeholders})"
    )
    with transaction.atomic(using=using):
        dropped = _insert_rows(conn, sql, rows, records)
        if settings.ENABLE_USAGE_ANALYTICS:
            # The usage counts every request served, including one whose row was refused.
            _add_usage(records, using)
    return dropped


def _insert_rows(conn: Any, sql: str, rows: list[list[Any]], records: list[RequestRecord]) -> int:
    with conn.cursor() as cursor:
        try:
            # A savepoint, so that a refused batch leaves the transaction usable for the retry.
            with transaction.atomic(using=conn.alias):
                cursor.executemany(sql, rows)
            return 0
        except (OperationalError, InterfaceError):
            raise  # the database is down or the connection is gone: no row would fare better
        except (DatabaseError, ValueError) as exc:
            batch_error = exc
        refused = []
        for row, rec in zip(rows, records, strict=True):
            try:
                with transaction.atomic(using=conn.alias):
                    cursor.execute(sql, row)
            except (OperationalError, InterfaceError):
                raise
            except (DatabaseError, ValueError) as exc:
                refused.append(f"{rec.method} {rec.endpoint!r} {rec.status_code}: {exc}")
    logger.warning(
        "Request log: the database refused %d of %d rows (batch error: %s); dropped only those: %s",
        len(refused),
        len(rows),
        batch_error,
        "; ".join(refused),
    )
    return len(refused)


def _row(rec: RequestRecord, fields: dict[str, Any], now: Any, conn: Any) -> list[Any]:
    values = {
        "id": fast_uuid4(),
        "user_id": _uuid_or_none(rec.user_id),
        "organization_id": _uuid_or_none(rec.organization_id),
        "service_name": settings.SERVICE_NAME,
        "endpoint": storable_text(rec.endpoint),
        "method": rec.method if rec.method in _LOGGED_METHODS else "POST",
        "status_code": rec.status_code,
        "error_message": storable_text(error_message(rec.response_body)) if rec.status_code >= 400 else None,
        "duration_ms": max(0, round(rec.duration_ms)),
        "credits_charged": rec.credits,
        "ip_address": rec.ip_address,
        "user_agent": storable_text(rec.user_agent),
        "request_id": storable_text(rec.request_id[:255]),
        "created_at": now,
    }
    row = []
    for column in _COLUMNS:
        if column in _JSON_COLUMNS:
            raw = rec.request_body if column == "request_payload" else rec.response_body
            row.append(_valid_json_text(raw))
        else:
            row.append(fields[column].get_db_prep_value(values[column], conn, prepared=False))
    return row


# A JSON "\u0000" escape (not an escaped backslash followed by "u0000"): an even run of
# backslashes before it belongs to the text.
_JSON_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def storable_text(text: str | None) -> str | None:
    """Text every database can store: PostgreSQL refuses NUL, UTF-8 refuses lone surrogates.

    Both become U+FFFD / "?" instead of costing the row (``GET /%00`` cost its whole batch).
    """
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _valid_json_text(raw: bytes | None) -> str | None:
    """The body as JSON text when it is valid JSON (a malformed request body is logged as NULL).

    A NUL escape is rewritten as U+FFFD: PostgreSQL's jsonb cannot hold it.
    """
    if raw is None:
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    text = raw.decode("utf-8")
    if "\\u0000" in text:
        text = _JSON_NUL_ESCAPE.sub(r"\1\\ufffd", text)
    return text


def prune(days: float, batch_size: int = 10_000) -> int:
    """Delete this service's request rows older than ``days`` (other services' rows are theirs).

    In batches, so that a first prune of a large table does not hold one long transaction.
    The daily usage aggregates hold no client data and are kept.
    """
    from requestlog.models import RequestLog

    cutoff = timezone.now() - timedelta(days=days)
    old = RequestLog.objects.filter(service_name=settings.SERVICE_NAME, created_at__lt=cutoff)
    deleted = 0
    while True:
        ids = list(old.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += RequestLog.objects.filter(pk__in=ids).delete()[0]


def _add_usage(records: list[RequestRecord], using: str = DEFAULT_DB_ALIAS) -> None:
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
        _lock_usage_key(using, user_id, org_id, day, category)
        lookup = {
            "user_id": user_id,
            "organization_id": org_id,
            "date": day,
            "service_name": settings.SERVICE_NAME,
            "endpoint_category": category,
        }
        row = UsageDaily.objects.using(using).select_for_update().filter(**lookup).first()
        if row is None:
            row = UsageDaily(**lookup)
        row.total_requests = (row.total_requests or 0) + count
        row.total_credits = (row.total_credits or 0) + credits
        row.total_duration_ms = (row.total_duration_ms or 0) + duration
        row.success_count = (row.success_count or 0) + ok
        row.error_count = (row.error_count or 0) + errors
        row.save(using=using)


def _lock_usage_key(using: str, *key: Any) -> None:
    # NULLs are distinct in the shared table's unique key, so a plain upsert cannot stop two
    # processes inserting the same (null org) row; a transaction-scoped advisory lock can.
    conn = connections[using]
    if conn.vendor != "postgresql":
        return
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


class _BackgroundWriter:
    """Writes records in batches from a thread. Requests only append to a deque: no lock and no
    wake-up per request (a ``queue.Queue`` notified the writer on every put, handing it the GIL,
    which was a sixth of a small request's cost); the writer looks every ``POLL_SECONDS``."""

    POLL_SECONDS = 0.2
    MAX_BATCH = 500

    def __init__(self) -> None:
        self._records: deque[RequestRecord] = deque()
        self._capacity = settings.REQUEST_LOG_QUEUE_SIZE
        self.dropped = 0
        self._last_error_log = 0.0
        self._thread = threading.Thread(target=self._run, name="request-log-writer", daemon=True)
        self._thread.start()

    def submit(self, record: RequestRecord) -> None:
        if len(self._records) >= self._capacity:
            self.dropped += 1
            return
        self._records.append(record)  # atomic: deque.append needs no lock

    def pending(self) -> int:
        return len(self._records)

    def _run(self) -> None:
        while True:
            if not self._records:
                time.sleep(self.POLL_SECONDS)
                continue
            batch: list[RequestRecord] = []
            while self._records and len(batch) < self.MAX_BATCH:
                batch.append(self._records.popleft())
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
        if not self._records:
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
