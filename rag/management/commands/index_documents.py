"""python manage.py index_documents PATH --collection NAME [--chunk-size N --chunk-overlap N] [--strict]

Indexes a file or a folder (recursively) of .pdf, .docx, .html/.htm, .md, .txt and .jsonl files.
Text comes out of each file with the same functions as ``POST /rag/documents``
(``services.documents``), and every document, a file or one .jsonl line, is chunked with
``--chunk-size``/``--chunk-overlap`` and stored atomically under a document id derived from its
path (``_id``/``id`` for a .jsonl line), so re-running the command replaces documents instead of
duplicating them. A .jsonl line holds one document (``text`` or ``content``, optional ``title``,
``_id``/``id``, ``source`` and ``metadata``); lines are indexed in batches.

The progress bar counts documents (each .jsonl line is one). A corrupt file or a bad line is
reported, skipped, and listed in the summary at the end. The exit status is non-zero when nothing
was indexed although there was something to index, or with ``--strict`` when anything was skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from mlservice.core.errors import ServiceError
from services import rag_service
from services.documents import EXTENSIONS, extract_path
from services.rag_service import FileInput

SUFFIXES = set(EXTENSIONS) | {".jsonl"}
JSONL_BATCH = 64
SUMMARY_REASONS = 50  # skipped documents listed one by one at the end; the rest are counted


class Skipped(Exception):
    """A .jsonl line that is not a document (bad JSON, no text)."""


def jsonl_documents(path: Path) -> Iterator[tuple[int, FileInput | Skipped]]:
    """(line number, document or why the line is skipped) for every non-blank line."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, Skipped(f"invalid JSON ({exc})")
                continue
            if not isinstance(row, dict):
                yield number, Skipped("not a JSON object")
                continue
            title = row.get("title") if isinstance(row.get("title"), str) else None
            body = row.get("text") or row.get("content")
            text = "\n".join(part for part in (title, body if isinstance(body, str) else None) if part)
            if not text.strip():
                yield number, Skipped("no text (needs 'text' or 'content')")
                continue
            identifier = str(row.get("_id") or row.get("id") or f"{path.name}:{number}")
            metadata = dict(row.get("metadata") or {}) if isinstance(row.get("metadata"), dict) else {}
            if title:
                metadata.setdefault("title", title)
            yield (
                number,
                FileInput(
                    document_id=identifier,
                    filename=str(row.get("source") or identifier),
                    content=text,
                    file_type="jsonl",
                    metadata=metadata,
                    source_type="jsonl",
                ),
            )


def count_documents(path: Path) -> int:
    if path.suffix.lower() != ".jsonl":
        return 1
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


class Command(BaseCommand):
    help = "Index .pdf/.docx/.html/.md/.txt/.jsonl files (a file or a folder) into a RAG collection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--collection", default="default")
        parser.add_argument("--chunk-size", type=int, default=1000)
        parser.add_argument("--chunk-overlap", type=int, default=200)
        parser.add_argument("--strict", action="store_true", help="exit non-zero when any document is skipped")

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["path"]
        if not root.exists():
            raise CommandError(f"{root} does not exist")
        if options["chunk_overlap"] >= options["chunk_size"] or options["chunk_size"] <= 0:
            raise CommandError("--chunk-overlap must be smaller than --chunk-size, which must be positive")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        files = [p for p in files if p.suffix.lower() in SUFFIXES]
        if not files:
            raise CommandError(f"no {'/'.join(sorted(SUFFIXES))} files under {root}")
        self.rag = rag_service.get_instance()
        rag_service.validate_collection_name(options["collection"])
        self.options = options
        self.indexed = self.chunks = 0
        self.skipped: list[str] = []
        total = sum(count_documents(path) for path in files)
        with tqdm(total=total, unit="doc", desc=f"indexing into {options['collection']}") as progress:
            self.progress = progress
            for path in files:
                relative = str(path.relative_to(root)) if root.is_dir() else path.name
                if path.suffix.lower() == ".jsonl":
                    self._index_jsonl(path, relative)
                else:
                    self._index_file(path, relative)
        self._summary(options["collection"])

    # --- documents -----------------------------------------------------------------------------
    def _index_file(self, path: Path, relative: str) -> None:
        try:
            document = extract_path(path)
            if not document.text.strip():
                raise Skipped("no text found (a scanned PDF needs OCR first)")
            self._store([FileInput(relative, relative, document.text, path.suffix.lower().lstrip("."))])
        except (ServiceError, Skipped, OSError, ValueError) as exc:
            self._skip(relative, exc)
        self._advance(1)

    def _index_jsonl(self, path: Path, relative: str) -> None:
        batch: list[FileInput] = []
        try:
            for number, item in jsonl_documents(path):
                if isinstance(item, Skipped):
                    self._skip(f"{relative}:{number}", item)
                    self._advance(1)
                    continue
                batch.append(item)
                if len(batch) == JSONL_BATCH:
                    self._store_batch(batch, relative)
                    batch = []
            if batch:
                self._store_batch(batch, relative)
        except OSError as exc:
            self._skip(relative, exc)

    def _store_batch(self, batch: list[FileInput], relative: str) -> None:
        try:
            self._store(batch)
        except ServiceError:
            # One bad document fails its batch's atomic write: store the rest one by one.
            for document in batch:
                try:
                    self._store([document])
                except ServiceError as exc:
                    self._skip(f"{relative}: document {document.document_id!r}", exc)
        self._advance(len(batch))

    def _store(self, files: list[FileInput]) -> None:
        counts = self.rag.index_files(
            self.options["collection"],
            files,
            chunk_size=self.options["chunk_size"],
            chunk_overlap=self.options["chunk_overlap"],
        )
        self.indexed += len(files)
        self.chunks += sum(counts)

    # --- reporting -----------------------------------------------------------------------------
    def _skip(self, name: str, exc: BaseException) -> None:
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        self.skipped.append(f"{name}: {reason}")
        if len(self.skipped) <= SUMMARY_REASONS:
            self.progress.write(f"skipped {name}: {reason}")

    def _advance(self, documents: int) -> None:
        self.progress.update(documents)
        self.progress.set_postfix(chunks=self.chunks, skipped=len(self.skipped))

    def _summary(self, collection: str) -> None:
        line = f"indexed {self.indexed} documents ({self.chunks} chunks) into '{collection}'"
        if self.skipped:
            self.stdout.write(self.style.WARNING(f"{line}; skipped {len(self.skipped)}:"))
            for reason in self.skipped[:SUMMARY_REASONS]:
                self.stdout.write(f"  {reason}")
            if len(self.skipped) > SUMMARY_REASONS:
                self.stdout.write(f"  ... and {len(self.skipped) - SUMMARY_REASONS} more")
        else:
            self.stdout.write(self.style.SUCCESS(line))
        if self.skipped and not self.indexed:
            raise CommandError(f"nothing was indexed: {len(self.skipped)} documents skipped")
        if self.skipped and self.options["strict"]:
            raise CommandError(f"{len(self.skipped)} documents skipped (--strict)")
