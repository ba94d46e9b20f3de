"""python manage.py index_documents PATH --collection NAME

Indexes a file or a folder (recursively) of .txt, .md, .html/.htm, .pdf and .jsonl files. Text
files are chunked with the contract's chunker; each file's chunks are stored atomically under a
document id derived from its path, so re-running the command replaces files instead of
duplicating them. A .jsonl file holds one document per line (``text`` or ``content``, optional
``title``, ``_id``/``id``, ``source`` and ``metadata``), indexed in batches as whole documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from mlservice.core.errors import ServiceError
from services import rag_service
from services.rag_service import DocumentInput

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
JSONL_BATCH = 64


class _TextExtractor(HTMLParser):
    SKIP = {"script", "style", "head", "noscript"}
    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def extract_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        return "\n\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    text = path.read_text(encoding="utf-8", errors="replace")
    if suffix in {".html", ".htm"}:
        parser = _TextExtractor()
        parser.feed(text)
        text = "".join(parser.parts)
    return text


def jsonl_documents(path: Path) -> Iterator[DocumentInput]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CommandError(f"{path}:{number}: invalid JSON ({exc})") from exc
            text = "\n".join(part for part in (row.get("title"), row.get("text") or row.get("content")) if part)
            if not text.strip():
                continue
            identifier = str(row.get("_id") or row.get("id") or f"{path.name}:{number}")
            metadata = dict(row.get("metadata") or {})
            if row.get("title"):
                metadata.setdefault("title", row["title"])
            yield DocumentInput(
                content=text,
                source=str(row.get("source") or identifier),
                source_type="jsonl",
                metadata=metadata,
                document_id=identifier,
            )


class Command(BaseCommand):
    help = "Index .txt/.md/.html/.pdf/.jsonl files (a file or a folder) into a RAG collection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--collection", default="default")
        parser.add_argument("--chunk-size", type=int, default=1000)
        parser.add_argument("--chunk-overlap", type=int, default=200)

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["path"]
        if not root.exists():
            raise CommandError(f"{root} does not exist")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        files = [p for p in files if p.suffix.lower() in TEXT_SUFFIXES | {".jsonl"}]
        if not files:
            raise CommandError(f"no .txt/.md/.html/.pdf/.jsonl files under {root}")
        rag = rag_service.get_instance()
        collection = options["collection"]
        chunks = failed = 0
        with tqdm(files, unit="file", desc=f"indexing into {collection}") as progress:
            for path in progress:
                try:
                    if path.suffix.lower() == ".jsonl":
                        chunks += self._index_jsonl(rag, path, collection)
                    else:
                        chunks += self._index_file(rag, path, root, collection, options)
                except (ServiceError, OSError, ValueError) as exc:
                    failed += 1
                    progress.write(f"skipped {path}: {getattr(exc, 'message', exc)}")
                progress.set_postfix(chunks=chunks, failed=failed)
        self.stdout.write(
            self.style.SUCCESS(f"{len(files) - failed} files, {chunks} chunks indexed into '{collection}'")
        )
        if failed:
            raise CommandError(f"{failed} files failed")

    @staticmethod
    def _index_file(rag: Any, path: Path, root: Path, collection: str, options: dict[str, Any]) -> int:
        text = extract_text(path)
        if not text.strip():
            return 0
        relative = str(path.relative_to(root)) if root.is_dir() else path.name
        _, count = rag.index_file(
            collection=collection,
            document_id=relative,
            filename=relative,
            content=text,
            file_type=path.suffix.lower().lstrip("."),
            chunk_size=options["chunk_size"],
            chunk_overlap=options["chunk_overlap"],
        )
        return count

    @staticmethod
    def _index_jsonl(rag: Any, path: Path, collection: str) -> int:
        batch: list[DocumentInput] = []
        count = 0
        for document in jsonl_documents(path):
            batch.append(document)
            if len(batch) == JSONL_BATCH:
                count += len(rag.index_documents(batch, collection))
                batch = []
        if batch:
            count += len(rag.index_documents(batch, collection))
        return count
