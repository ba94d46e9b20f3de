"""Text out of uploaded or on-disk documents: PDF, DOCX, HTML, Markdown and plain text.

One place for ``POST /rag/documents`` and ``manage.py index_documents``::

    fmt = detect_format(data, filename="report.pdf", content_type="application/pdf")
    document = extract_text(data, fmt)          # ExtractedDocument(text, format, pages)

Libraries, chosen by measurement (README "Documents into RAG"): pypdf for PDF; for DOCX the
standard library (``zipfile`` + ElementTree on ``word/document.xml``) found every paragraph, heading
and table cell that python-docx and docx2python found, 20-50x faster (1.8 ms against 37 and 86 ms
for a 40 KB document); for HTML the standard ``html.parser`` kept every sentence whole, where
selectolax and BeautifulSoup (``get_text``) split sentences at inline tags (<b>) unless told to
glue table cells together. Extraction is 1-10 ms a document; embedding its chunks costs 100x that.

Failures: a format we do not read is ``UnsupportedMedia`` (415); a corrupt or encrypted file is
``UnreadableDocument`` (422); more pages or characters than RAG_DOCUMENT_MAX_PAGES /
RAG_DOCUMENT_MAX_CHARS is ``PayloadTooLarge`` (413). Nothing else escapes: callers never see a
parser's own exception.
"""

from __future__ import annotations

import io
import logging
import posixpath
import time
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from mlservice.core.errors import PayloadTooLarge, ServiceError, UnsupportedMedia
from services.rag_config import rag_config

logger = logging.getLogger("mlservice.rag")

FORMATS = ("pdf", "docx", "html", "markdown", "text")
EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}
CONTENT_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
}
# A DOCX's XML is compressed about 10:1; past this many bytes unpacked it is a zip bomb, not a document.
_DOCX_MAX_XML_BYTES_PER_CHAR = 40


class UnreadableDocument(ServiceError):
    """A file in a supported format that cannot be read (corrupt, encrypted, not what it claims)."""

    code = "unreadable_document"
    default_status = 422


@dataclass(frozen=True)
class ExtractedDocument:
    text: str
    format: str
    pages: int | None = None  # PDF only


def detect_format(data: bytes, *, filename: str = "", content_type: str = "") -> str:
    """The format of ``data``: its magic bytes first (a PDF named .txt is still a PDF), then the
    extension, then the declared content type. Raises ``UnsupportedMedia`` for anything else."""
    extension = Path(filename).suffix.lower()
    declared = content_type.split(";")[0].strip().lower()
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        if extension == ".docx" or CONTENT_TYPES.get(declared) == "docx" or _is_docx(data):
            return "docx"
        raise UnsupportedMedia(f"{filename or 'file'}: a ZIP archive that is not a DOCX document")
    claimed = EXTENSIONS.get(extension) or CONTENT_TYPES.get(declared)
    if claimed in {"pdf", "docx"}:
        # Named like a binary format without its signature: a broken file, not another format.
        raise UnreadableDocument(f"{filename or 'file'}: not a valid {claimed.upper()} file (missing its signature)")
    if b"\x00" in data[:8192]:
        raise UnsupportedMedia(f"{filename or 'file'}: binary content; supported formats are {', '.join(FORMATS)}")
    if claimed:
        return claimed
    if declared.startswith("text/") or (not extension and not declared) or declared == "application/octet-stream":
        head = data[:1024].lstrip().lower()
        return "html" if head.startswith((b"<!doctype html", b"<html")) else "text"
    raise UnsupportedMedia(
        f"{filename or 'file'}: unsupported document type ({extension or declared}); "
        f"supported formats are {', '.join(FORMATS)}"
    )


def extract_text(data: bytes, fmt: str, *, name: str = "file") -> ExtractedDocument:
    """The text of ``data`` in format ``fmt`` (one of ``FORMATS``), within the configured limits."""
    max_chars = rag_config().document_max_chars
    if fmt == "pdf":
        text, pages = _pdf_text(data, name, max_chars)
        document = ExtractedDocument(text, fmt, pages)
    elif fmt == "docx":
        document = ExtractedDocument(_docx_text(data, name, max_chars), fmt)
    elif fmt in {"html", "markdown", "text"}:
        text = _decode(data)
        if fmt == "html":
            text = html_text(text)
        document = ExtractedDocument(text, fmt)
    else:
        raise UnsupportedMedia(f"{name}: unsupported document type {fmt!r}")
    if len(document.text) > max_chars:
        raise PayloadTooLarge(
            f"{name}: more than {max_chars} characters of text (RAG_DOCUMENT_MAX_CHARS)", code="document_too_long"
        )
    return document


def extract_path(path: Path) -> ExtractedDocument:
    """``extract_text`` for a file on disk (``manage.py index_documents``), with the upload's size limit."""
    size = path.stat().st_size
    if size > rag_config().upload_max_file_bytes:
        raise PayloadTooLarge(f"{path.name}: {size} bytes, over RAG_UPLOAD_MAX_FILE_BYTES")
    data = path.read_bytes()
    return extract_text(data, detect_format(data, filename=path.name), name=path.name)


# --- formats ---------------------------------------------------------------------------------
def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Not UTF-8: Windows-1252 is what such text files nearly always are; never fail on text.
        return data.decode("cp1252", errors="replace")


def _pdf_text(data: bytes, name: str, max_chars: int) -> tuple[str, int]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument(f"{name}: the PDF is encrypted with a password")
        config = rag_config()
        pages = len(reader.pages)
        if pages > config.document_max_pages:
            raise PayloadTooLarge(f"{name}: {pages} pages, over RAG_DOCUMENT_MAX_PAGES ({config.document_max_pages})")
        parts: list[str] = []
        total = 0
        deadline = time.monotonic() + config.document_max_seconds
        for page in reader.pages:
            if time.monotonic() > deadline:  # a crafted page can take pypdf seconds: bound the whole file
                raise PayloadTooLarge(
                    f"{name}: text extraction took longer than RAG_DOCUMENT_MAX_SECONDS "
                    f"({config.document_max_seconds:g} s)"
                )
            text = page.extract_text() or ""
            total += len(text) + 2
            if total > max_chars:  # stop reading: the rest would be refused anyway
                raise PayloadTooLarge(f"{name}: more than {max_chars} characters of text (RAG_DOCUMENT_MAX_CHARS)")
            parts.append(text)
    except ServiceError:
        raise
    except Exception as exc:  # pypdf raises many kinds (PdfReadError, KeyError, ValueError...) on bad input
        logger.info("unreadable PDF %s: %r", name, exc)
        raise UnreadableDocument(f"{name}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    return "\n\n".join(parts), pages


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_BLOCKS = {_W + "p", _W + "tr"}
_CELL = _W + "tc"


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist() or _main_part(archive) is not None
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _main_part(archive: zipfile.ZipFile) -> str | None:
    """The main document part named by the package relationships (Word always uses word/document.xml)."""
    try:
        rels = ElementTree.fromstring(archive.read("_rels/.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    for rel in rels:
        if rel.get("Type", "").endswith("/officeDocument") and rel.get("Target"):
            return posixpath.normpath(rel.get("Target", "").lstrip("/"))
    return None


def _docx_text(data: bytes, name: str, max_chars: int) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            part = _main_part(archive) or "word/document.xml"
            info = archive.getinfo(part)
            if info.file_size > max_chars * _DOCX_MAX_XML_BYTES_PER_CHAR:
                raise PayloadTooLarge(f"{name}: the document's XML unpacks to {info.file_size} bytes")
            root = ElementTree.fromstring(archive.read(info))
    except ServiceError:
        raise
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, ValueError, EOFError) as exc:
        raise UnreadableDocument(f"{name}: not a readable DOCX document ({type(exc).__name__}: {exc})") from exc
    parts: list[str] = []
    _walk_docx(root, parts)
    return "".join(parts).strip()


def _walk_docx(element: Any, parts: list[str]) -> None:
    """Text in document order: runs' ``w:t``, tabs and breaks; a paragraph or table row ends a
    block, table cells are separated by tabs. Text boxes (paragraphs inside paragraphs) stay in place."""
    tag = element.tag
    if tag == _W + "t":
        parts.append(element.text or "")
        return
    if tag == _W + "tab":
        parts.append("\t")
    elif tag in {_W + "br", _W + "cr"}:
        parts.append("\n")
    for child in element:
        _walk_docx(child, parts)
    if tag == _CELL:
        if parts and parts[-1] == "\n\n":
            parts.pop()  # the cell's last paragraph: cells of a row stay on one line
        parts.append("\t")
    elif tag in _BLOCKS:
        parts.append("\n\n")


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "head", "noscript", "template", "svg"}
    BLOCKS = {
        "p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "section",
        "article", "header", "footer", "blockquote", "pre", "table", "ul", "ol", "dt", "dd", "hr",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n" if tag not in {"td", "th"} else "\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self.BLOCKS and tag not in {"td", "th"}:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """Visible text of an HTML page: scripts, styles and <head> dropped, blocks on their own lines."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n\n"))
    return "\n\n".join(line for line in lines if line)
