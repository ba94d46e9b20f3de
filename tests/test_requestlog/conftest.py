"""A PostgreSQL database of the request-log tables, for what SQLite lets through (NUL, lengths).

``make test`` runs Django itself on SQLite, so the tests get a database of their own on the
machine's server, reached through an extra connection alias, with the two tables created from
the models.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import dj_database_url
import psycopg
import pytest
from django.db import connections

from requestlog.models import RequestLog, UsageDaily

PG_ALIAS = "requestlog_pg"


@pytest.fixture
def pg_requestlog(require_service: Callable[[str], str]) -> Iterator[str]:
    server = require_service("postgres")
    name = f"mlservice_requestlog_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = f"{server.rsplit('/', 1)[0]}/{name}"
    configured = connections.configure_settings(
        {"default": dict(connections.settings["default"]), PG_ALIAS: dj_database_url.parse(url)}
    )
    connections.settings[PG_ALIAS] = configured[PG_ALIAS]
    try:
        # Connected by hand: Django's test case refuses to open connections of aliases it was
        # not told about (it wraps ensure_connection, not connect).
        connections[PG_ALIAS].connect()
        with connections[PG_ALIAS].schema_editor() as editor:
            editor.create_model(RequestLog)
            editor.create_model(UsageDaily)
        yield PG_ALIAS
    finally:
        connections[PG_ALIAS].close()
        if hasattr(connections._connections, PG_ALIAS):
            delattr(connections._connections, PG_ALIAS)
        del connections.settings[PG_ALIAS]
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
