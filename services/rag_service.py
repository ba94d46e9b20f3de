"""Retrieval-augmented generation: indexing, hybrid search and cited answers (contract 4.3).

    rag = rag_service.get_instance()
    rag.index_document(content=..., source=..., collection="default")
    rag.search(SearchRequest(query="...", collection="default"))   # list[RetrievedContext dicts]
    rag.answer(query="...", collection="default")

Scores and thresholds. ``relevanceScore`` is a calibrated, probability-like relevance in [0, 1]
(services/rag_calibration.py): how unlikely the chunk's cosine to the query would be for unrelated
text, read against the query's cosines to a packaged background of generic sentences. It depends
only on the query and the chunk, so it is the same in every mode and on every store, and
``minScore`` (default 0.5, as in the contract: "more likely relevant than a chance match") keeps
one meaning. Modes only change the *ranking*: ``dense`` by cosine, ``lexical`` by BM25, ``hybrid``
(default) by fusing both candidate lists (standardised scores, or reciprocal ranks with
``RAG_FUSION=rrf``); the score is monotone in the cosine within a query.
A ``minScore`` of 0 turns the threshold off (pure ranking, as retrieval benchmarks use).

Abstention. ``/rag/query`` does not call a language model when no chunk clears ``minScore`` or,
with a threshold on, when the best chunk scores under ANSWER_MIN_SCORE: the answer then says the
documents do not support one (``answerType`` "extractive", no citations, ``tokensUsed`` 0).
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from asgiref.sync import sync_to_async

from mlservice.core.errors import BadRequest, PayloadTooLarge, ServiceError, ServiceUnavailable
from mlservice.core.formatting import js_number
from mlservice.core.limits import MAX_JSON_DEPTH, check_text_chars, check_texts_chars, nesting_exceeds
from mlservice.core.resets import register_reset
from services import embedding_service, rag_calibration, rerank_service
from services.chunking import chunk_text
from services.llm.base import ChatDelta, empty_usage
from services.rag_config import rag_config
from services.vectorstores import get_store
from services.vectorstores.base import ChunkRecord, Hit, SearchFilter, VectorStore

logger = logging.getLogger("mlservice.rag")

MODES = ("hybrid", "dense", "lexical")
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # whole name (fullmatch): "$" allows "\n"
# Filters every backend can run: SQLite builds one expression per key (2,000 keys overflowed its
# expression tree), and binds integers as 64-bit (2**63 raised OverflowError).
MAX_FILTER_KEYS = 50
MAX_FILTER_VALUES = 100
MAX_SOURCE_TYPES = 100
_INT64 = (-(2**63), 2**63 - 1)
# Fixed namespace so the same "<documentId>_chunk_<i>" always maps to the same point id.
CHUNK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://synthstack.dev/rag/chunk")
RESERVED_METADATA = frozenset({"content", "source", "source_type", "document_id"})
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# Models cite as asked ([1], [2][3]), list several in one bracket ([1, 2]), or copy the context's
# header ([Source 1: name], seen from the local Qwen in benchmarks/local_llm.py): each form names
# numbered sources.
_CITATION = re.compile(r"\[(?:sources?\s+)?(\d{1,3}(?:\s*,\s*\d{1,3})*)(?:\s*:[^\]\n]{0,200})?\]", re.IGNORECASE)
# With a threshold on (minScore > 0), an answer needs one chunk at least this relevant (the
# contract's default minScore: a calibrated 0.5 is "more likely relevant than a chance match").
ANSWER_MIN_SCORE = 0.5
ATTRIBUTION_MIN_SCORE = 0.5  # RAGService.attributed: the same bar as the contract's minScore
MIN_ATTRIBUTED_CHARS = 20  # shorter sentences ("Yes.") state no claim of their own
_SENTENCE_KEEPING_SPACE = re.compile(f"({_SENTENCE.pattern})")  # _SENTENCE, separators kept
PASSAGE_COUNT_SECONDS = 60.0  # how long a collection's chunk count is reused by the score
NO_ANSWER = "No relevant context was found in the documents for this question, so it cannot be answered from them."

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant that answers questions using only the provided context. "
    "Each context block starts with [Source n: name]. Cite the sources you use with their number "
    "in square brackets, for example [1] or [2][3]. If the context does not contain the answer, "
    "say that you do not know based on the available information."
)


@dataclass(frozen=True)
class DocumentInput:
    content: str
    source: str
    source_type: str = "document"
    metadata: dict[str, Any] = field(default_factory=dict)
    document_id: str | None = None


@dataclass(frozen=True)
class FileInput:
    """One file's extracted text for :meth:`RAGService.index_files` (chunked, unlike DocumentInput)."""

    document_id: str
    filename: str
    content: str
    file_type: str
    metadata: dict[str, Any] = field(default_factory=dict)
    source_type: str = "file"


@dataclass(frozen=True)
class SearchRequest:
    query: str
    collection: str = "default"
    limit: int = 5
    min_score: float = 0.5
    source_types: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    mode: str = "hybrid"
    rerank: bool = False  # reorder the candidates with the configured reranker (services/rerank_service.py)


def chunk_id(document_id: str, index: int) -> str:
    return f"{document_id}_chunk_{index}"


def chunk_uuid(document_id: str, index: int) -> str:
    return str(uuid.uuid5(CHUNK_NAMESPACE, chunk_id(document_id, index)))


def validate_collection_name(name: str) -> str:
    if not isinstance(name, str) or not _COLLECTION_NAME.fullmatch(name):
        raise BadRequest(
            "collection must be 1-128 characters: letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return name


def metadata_filter_problem(filters: dict[str, Any]) -> str | None:
    """Why ``filters`` cannot be run on every backend (None when it can); phrased to follow the
    field name: ``{"key": value}`` or ``{"key": [values]}`` of strings, booleans and 64-bit integers."""
    if len(filters) > MAX_FILTER_KEYS:
        return f"may have at most {MAX_FILTER_KEYS} keys"
    for wanted in filters.values():
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values or not all(isinstance(value, str | int | bool) for value in values):
            return "values must be strings, integers, booleans or non-empty lists of them"
        if len(values) > MAX_FILTER_VALUES:
            return f"a filter may list at most {MAX_FILTER_VALUES} values per key"
        if any(isinstance(value, int) and not _INT64[0] <= value <= _INT64[1] for value in values):
            return f"integers must be between {_INT64[0]} and {_INT64[1]}"
    return None


def retrieved_context(hit: Hit) -> dict[str, Any]:
    """The contract's RetrievedContext: payload minus content/source/source_type as metadata."""
    return {
        "content": hit.content,
        "source": hit.source,
        "sourceType": hit.source_type,
        "relevanceScore": js_number(round(hit.cosine if hit.score is None else hit.score, 6)),
        "metadata": hit.metadata,
    }


class RAGService:
    def __init__(self, store: VectorStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix
        self._passage_counts: dict[str, tuple[float, int]] = {}  # physical name -> (when, chunks)

    @classmethod
    def get_instance(cls) -> RAGService:
        """The service for the current configuration (the guide's service pattern)."""
        return get_instance()

    # --- the guide's async methods -------------------------------------------------------------
    # The stores talk to the database through Django's per-thread connections (the embedded store's
    # SQLite, pgvector), so each runs its sync twin through sync_to_async: thread-sensitive, back
    # in the request's thread, on its connection and transaction. Streamed answers stay sync.
    async def add_document(self, document: DocumentInput, collection: str = "default") -> str:
        return await sync_to_async(self.index_document)(document, collection)

    async def add_documents(self, documents: Sequence[DocumentInput], collection: str = "default") -> list[str]:
        return await sync_to_async(self.index_documents)(documents, collection)

    async def add_project_document(
        self,
        *,
        document_id: str,
        project_id: str,
        filename: str,
        content: str,
        file_type: str,
        chunk_size: int = 1000,
        chunk_overlap: int = 200,
    ) -> tuple[str, int]:
        """``index_project_document``, with its keyword arguments."""
        index = functools.partial(
            self.index_project_document,
            document_id=document_id,
            project_id=project_id,
            filename=filename,
            content=content,
            file_type=file_type,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
        )
        return await sync_to_async(index)()

    async def add_files(self, collection: str, files: Sequence[FileInput], **options: Any) -> list[int]:
        """``index_files`` (chunk_size, chunk_overlap, extra_metadata as keywords)."""
        return await sync_to_async(functools.partial(self.index_files, collection, files, **options))()

    async def retrieve(self, request: SearchRequest) -> list[Hit]:
        return await sync_to_async(self.search)(request)

    async def query(
        self,
        *,
        query: str,
        collection: str = "default",
        context_limit: int = 5,
        model: str | None = None,
        system_prompt: str | None = None,
        min_score: float = 0.5,
        mode: str = "hybrid",
        rerank: bool = False,
    ) -> dict[str, Any]:
        """``answer``, with its keyword arguments."""
        answer = functools.partial(
            self.answer,
            query=query,
            collection=collection,
            context_limit=context_limit,
            model=model,
            system_prompt=system_prompt,
            min_score=min_score,
            mode=mode,
            rerank=rerank,
        )
        return await sync_to_async(answer)()

    async def list_collections(self) -> list[str]:
        return await sync_to_async(self.collections)()

    async def remove_collection(self, collection: str) -> bool:
        return await sync_to_async(self.delete_collection)(collection)

    async def remove_document(self, collection: str, document_id: str) -> int:
        return await sync_to_async(self.delete_document)(collection, document_id)

    async def get_stats(self) -> dict[str, Any]:
        return await sync_to_async(self.stats)()

    # --- names -------------------------------------------------------------------------------
    def physical(self, collection: str) -> str:
        return self.prefix + validate_collection_name(collection)

    def collections(self) -> list[str]:
        return [name[len(self.prefix) :] for name in self.store.list_collections() if name.startswith(self.prefix)]

    # --- indexing ----------------------------------------------------------------------------
    def index_documents(self, documents: Sequence[DocumentInput], collection: str = "default") -> list[str]:
        """Index whole documents, one point each (contract /rag/index). All or nothing."""
        physical = self.physical(collection)
        for document in documents:
            _check_content(document.content, embedded_whole=True)
            _check_metadata(document.metadata)
        check_texts_chars([document.content for document in documents], "documents")
        _check_unique_ids(documents)
        ids = [document.document_id or str(uuid.uuid4()) for document in documents]
        vectors = self._embed([document.content for document in documents])
        records = [
            ChunkRecord(
                id=_point_id(document_id),
                document_id=document_id,
                content=document.content,
                source=document.source,
                source_type=document.source_type,
                metadata={**document.metadata, "document_id": document_id},
                vector=vectors[position],
            )
            for position, (document, document_id) in enumerate(zip(documents, ids, strict=True))
        ]
        self._upsert(physical, records, replace=[d.document_id for d in documents if d.document_id])
        return ids

    def index_document(self, document: DocumentInput, collection: str = "default") -> str:
        return self.index_documents([document], collection)[0]

    def index_project_document(
        self,
        *,
        document_id: str,
        project_id: str,
        filename: str,
        content: str,
        file_type: str,
        chunk_size: int = 1000,
        chunk_overlap: int = 200,
    ) -> tuple[str, int]:
        """Chunk, embed and store a gateway project document, replacing any earlier version."""
        return self.index_file(
            collection=f"project_{project_id}",
            document_id=document_id,
            filename=filename,
            content=content,
            file_type=file_type,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            source_type="project_document",
            extra_metadata={"project_id": project_id},
        )

    def index_file(
        self,
        *,
        collection: str,
        document_id: str,
        filename: str,
        content: str,
        file_type: str,
        chunk_size: int = 1000,
        chunk_overlap: int = 200,
        source_type: str = "file",
        extra_metadata: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        """Chunk a document (contract chunker), embed every chunk, then store them in one atomic
        write that also removes the document's previous chunks."""
        file = FileInput(document_id, filename, content, file_type, dict(extra_metadata or {}), source_type)
        return collection, self.index_files(collection, [file], chunk_size=chunk_size, chunk_overlap=chunk_overlap)[0]

    def index_files(
        self,
        collection: str,
        files: Sequence[FileInput],
        *,
        chunk_size: int = 1000,
        chunk_overlap: int = 200,
        extra_metadata: dict[str, Any] | None = None,
    ) -> list[int]:
        """:meth:`index_file` for several files in ONE atomic write (POST /rag/documents, the .jsonl
        lines of index_documents): every file is chunked, all chunks embedded in one call, then
        stored, so a failure in any file leaves the collection as it was. Returns each file's chunk count."""
        physical = self.physical(collection)
        if chunk_overlap >= chunk_size:
            raise BadRequest("chunkOverlap must be smaller than chunkSize")
        _check_unique_ids([DocumentInput(content="", source=f.filename, document_id=f.document_id) for f in files])
        for metadata in [extra_metadata or {}, *(file.metadata for file in files)]:
            _check_metadata(metadata)
        per_file = [self._file_chunks(file.content, chunk_size, chunk_overlap) for file in files]
        every_chunk = [chunk for chunks in per_file for chunk in chunks]
        vectors = self._embed(every_chunk) if every_chunk else np.zeros((0, 0), dtype=np.float32)
        records: list[ChunkRecord] = []
        for file, chunks in zip(files, per_file, strict=True):
            metadata = {**(extra_metadata or {}), **file.metadata}
            records += self._file_records(file, metadata, chunks, vectors[len(records) : len(records) + len(chunks)])
        self._upsert(physical, records, replace=[file.document_id for file in files])
        return [len(chunks) for chunks in per_file]

    @staticmethod
    def _file_chunks(content: str, chunk_size: int, chunk_overlap: int) -> list[str]:
        if content.strip():  # contract 4.3.0: blank content is a success with 0 chunks
            _check_content(content)
        # The chunker stops one chunk past the limit: a tiny step (chunkOverlap just under chunkSize)
        # would otherwise cut a 2 MB text into 2 million chunks before the count is checked.
        limit = rag_config().max_chunks_per_document
        chunks = chunk_text(content, chunk_size, chunk_overlap, max_chunks=limit + 1)
        if len(chunks) > limit:
            raise PayloadTooLarge(
                f"Document would make more than {limit} chunks, the limit "
                "(RAG_MAX_CHUNKS_PER_DOCUMENT): use a larger chunkSize or a smaller chunkOverlap"
            )
        return chunks

    @staticmethod
    def _file_records(
        file: FileInput, extra_metadata: dict[str, Any], chunks: list[str], vectors: np.ndarray
    ) -> list[ChunkRecord]:
        document_id, total = file.document_id, len(chunks)
        base = {"document_id": document_id, **extra_metadata, "filename": file.filename, "file_type": file.file_type}
        return [
            ChunkRecord(
                id=chunk_uuid(document_id, index),
                document_id=document_id,
                content=chunk,
                source=f"{file.filename} (chunk {index + 1}/{total})",
                source_type=file.source_type,
                metadata={
                    **base,
                    "chunk_index": index,
                    "total_chunks": total,
                    "chunk_id": chunk_id(document_id, index),
                },
                vector=vectors[index],
            )
            for index, chunk in enumerate(chunks)
        ]

    def _upsert(self, physical: str, records: list[ChunkRecord], replace: list[str]) -> None:
        started = time.perf_counter()
        self._passage_counts.pop(physical, None)
        self.store.upsert(physical, records, replace)
        logger.info(
            "indexed %d chunks into %s (%s) in %.1f ms",
            len(records),
            physical,
            self.store.name,
            (time.perf_counter() - started) * 1000,
        )

    def delete_document(self, collection: str, document_id: str) -> int:
        self._passage_counts.pop(self.physical(collection), None)
        return self.store.delete_document(self.physical(collection), document_id)

    def delete_collection(self, collection: str) -> bool:
        self._passage_counts.pop(self.physical(collection), None)
        return self.store.delete_collection(self.physical(collection))

    def stats(self) -> dict[str, Any]:
        collections: dict[str, dict[str, int]] = {}
        for name in self.collections():
            try:
                info = self.store.collection_stats(self.prefix + name)
            except ServiceError:
                continue  # contract: a collection whose info lookup fails is left out
            if info is not None:
                collections[name] = {"vectorsCount": info.indexed_vectors, "pointsCount": info.points}
        return {"totalCollections": len(collections), "collections": collections}

    # --- search ------------------------------------------------------------------------------
    def search(self, request: SearchRequest) -> list[Hit]:
        if request.mode not in MODES:
            raise BadRequest(f"mode must be one of the following values: {', '.join(MODES)}")
        _check_filters(request)
        check_text_chars(request.query, "query")
        physical = self.physical(request.collection)
        if not self.store.has_collection(physical):
            return []  # contract: a missing collection is an empty result, not an error
        vector = self._embed([request.query])[0]
        filters = SearchFilter(tuple(request.source_types), dict(request.metadata))
        # rerank: the reranker reorders a larger pool, then the limit applies (rerank_pool).
        fetch = rerank_pool(request.limit) if request.rerank else request.limit
        config = rag_config()
        candidates = max(fetch, config.hybrid_candidates)
        if request.mode == "dense":
            ranked = self.store.dense_search(physical, vector, fetch, filters)
        elif request.mode == "lexical":
            ranked = self.store.lexical_search(physical, request.query, vector, candidates, filters)
        else:
            dense = self.store.dense_search(physical, vector, candidates, filters)
            lexical = self.store.lexical_search(physical, request.query, vector, candidates, filters)
            weights = [config.dense_weight, config.lexical_weight]
            if config.fusion == "rrf":
                ranked = reciprocal_rank_fusion([dense, lexical], weights, config.rrf_k)
            else:
                ranked = zscore_fusion(dense, lexical, weights)
        calibration = rag_calibration.calibrate(vector, self._background(), self._passages(physical))
        for hit in ranked:
            hit.score = calibration.score(hit.cosine)
        if request.min_score > 0:
            ranked = [hit for hit in ranked if (hit.score or 0.0) >= request.min_score]
        if request.rerank:
            ranked = _reranked(request.query, ranked[:fetch])
        return ranked[: request.limit]

    # --- answers -----------------------------------------------------------------------------
    def answer(
        self,
        *,
        query: str,
        collection: str = "default",
        context_limit: int = 5,
        model: str | None = None,
        system_prompt: str | None = None,
        min_score: float = 0.5,
        mode: str = "hybrid",
        rerank: bool = False,
    ) -> dict[str, Any]:
        hits = self._answer_hits(query, collection, context_limit, min_score, mode, rerank)
        llm = _answer_llm()
        if not _supported(hits, min_score):
            body = _abstention()
        elif llm is not None:
            body = self._generative_answer(llm, query, hits, model, system_prompt)
            body["answer"] = self.attributed(body["answer"], hits, collection)
        else:
            body = self._extractive_answer(query, hits)
        answer = {
            "answer": body["answer"],
            "answerType": body["answerType"],
            "sources": [retrieved_context(hit) for hit in hits],
            "citations": _citations(body["answer"], hits),
            "model": body["model"],
        }
        if "tokensUsed" in body:  # contract 2.6: left out when the provider reports no usage
            answer["tokensUsed"] = body["tokensUsed"]
        return answer

    def stream_answer(
        self,
        *,
        query: str,
        collection: str = "default",
        context_limit: int = 5,
        model: str | None = None,
        system_prompt: str | None = None,
        min_score: float = 0.5,
        mode: str = "hybrid",
        rerank: bool = False,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """:meth:`answer` as events: ``("sources", {"sources", "answerType", "model"})``,
        ``("delta", {"content"})``..., ``("done", <answer()'s body + usage>)``. ``temperature`` and
        ``max_tokens`` default to DEFAULT_TEMPERATURE and DEFAULT_MAX_TOKENS.

        Retrieval and the model's first token happen before this returns, so their failures (bad
        input, no model, a provider's 429, a full local-LLM queue) raise here and the caller can
        still answer with a status; later failures raise from the iterator. Closing the iterator
        closes the provider's stream, which stops the generation (the local LLM at its next token).
        """
        hits = self._answer_hits(query, collection, context_limit, min_score, mode, rerank)
        sources = [retrieved_context(hit) for hit in hits]
        llm = _answer_llm()
        if not _supported(hits, min_score):
            return iter(
                [
                    ("sources", {"sources": sources, "answerType": "extractive", "model": "extractive"}),
                    *self._extractive_events(query, hits, sources, abstain=True),
                ]
            )
        if llm is None:
            return iter(
                [
                    ("sources", {"sources": sources, "answerType": "extractive", "model": "extractive"}),
                    *self._extractive_events(query, hits, sources),
                ]
            )
        messages = _answer_messages(query, hits, system_prompt)
        stream = llm.stream_chat(messages, model=model or None, temperature=temperature, max_tokens=max_tokens)
        try:
            first = next(stream)
        except StopIteration:
            first = ChatDelta(done=True)
        except BaseException:
            _close(stream)
            raise
        fallback_model = llm.resolve(model or None).model
        attribute = functools.partial(self.attributed, hits=hits, collection=collection)
        return _generative_events(first, stream, hits, sources, fallback_model, attribute)

    def _answer_hits(
        self, query: str, collection: str, context_limit: int, min_score: float, mode: str, rerank: bool
    ) -> list[Hit]:
        """The chunks an answer (plain or streamed) is built from."""
        request = SearchRequest(
            query=query, collection=collection, limit=context_limit, min_score=min_score, mode=mode, rerank=rerank
        )
        return self.search(request)

    def _extractive_events(
        self, query: str, hits: list[Hit], sources: list[dict[str, Any]], *, abstain: bool = False
    ) -> list[tuple[str, dict[str, Any]]]:
        body = _abstention() if abstain else self._extractive_answer(query, hits)
        done = {
            "answer": body["answer"],
            "answerType": body["answerType"],
            "sources": sources,
            "citations": _citations(body["answer"], hits),
            "model": body["model"],
            "tokensUsed": 0,
            "usage": empty_usage(),
        }
        return [("delta", {"content": body["answer"]}), ("done", done)]

    def _generative_answer(
        self, llm: Any, query: str, hits: list[Hit], model: str | None, system_prompt: str | None
    ) -> dict[str, Any]:
        messages = _answer_messages(query, hits, system_prompt)
        # Temperature and max tokens: DEFAULT_TEMPERATURE, DEFAULT_MAX_TOKENS (the LLM service applies them).
        result = llm.chat(messages, model=model or None)
        body: dict[str, Any] = {"answer": result.content or "", "answerType": "generative", "model": result.model}
        total = (result.usage or {}).get("total_tokens")
        if total is not None:
            body["tokensUsed"] = total
        return body

    def _extractive_answer(self, query: str, hits: list[Hit]) -> dict[str, Any]:
        """No language model: the retrieved sentences closest to the query, each with its [n]."""
        body: dict[str, Any] = {"answerType": "extractive", "model": "extractive", "tokensUsed": 0}
        config = rag_config()
        sentences = [
            (number, sentence.strip())
            for number, hit in enumerate(hits, 1)
            for sentence in _SENTENCE.split(hit.content)
            if len(sentence.strip()) >= 20
        ][: config.extractive_max_candidates]
        if not sentences:
            body["answer"] = NO_ANSWER
            return body
        vectors = self._embed([query] + [sentence for _, sentence in sentences])
        scores = vectors[1:] @ vectors[0]
        best = sorted(np.argsort(-scores)[: config.extractive_sentences].tolist())
        body["answer"] = " ".join(f"{sentences[i][1]} [{sentences[i][0]}]" for i in best)
        return body

    def attributed(self, answer: str, hits: list[Hit], collection: str) -> str:
        """The model's answer with ``[n]`` after each sentence a retrieved chunk supports, when the
        model cited nothing itself (the local 0.5B model wrote a citation in 4 of 30 SciFact answers,
        benchmarks/local_llm.py). A sentence is attributed to the chunk a search for it would
        return first, if that chunk scores ATTRIBUTION_MIN_SCORE or more on the calibrated
        relevance scale every search uses (the contract's minScore): a sentence the chunks do not
        support ("the context does not say") gets no marker."""
        if not hits or _CITATION.search(answer):
            return answer
        try:
            return self._attribute_sentences(answer, hits, collection)
        except ServiceError as exc:  # the answer is written already: keep it, uncited, rather than fail it
            logger.warning("citation attribution skipped: %s", exc.message)
            return answer

    def _attribute_sentences(self, answer: str, hits: list[Hit], collection: str) -> str:
        parts = _SENTENCE_KEEPING_SPACE.split(answer)  # sentence, separator, sentence, ...
        claims = [i for i in range(0, len(parts), 2) if len(parts[i].strip()) >= MIN_ATTRIBUTED_CHARS]
        if not claims:
            return answer
        vectors = self._embed([parts[i] for i in claims] + [hit.content for hit in hits])
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        claim_vectors, chunk_vectors = vectors[: len(claims)], vectors[len(claims) :]
        passages = self._passages(self.physical(collection))
        background = self._background()
        for i, vector in zip(claims, claim_vectors, strict=True):
            cosines = chunk_vectors @ vector
            best = int(np.argmax(cosines))
            score = rag_calibration.calibrate(vector, background, passages).score(float(cosines[best]))
            if score >= ATTRIBUTION_MIN_SCORE:
                parts[i] = f"{parts[i].rstrip()} [{best + 1}]"
        return "".join(parts)

    # --- helpers -----------------------------------------------------------------------------
    def _passages(self, physical: str) -> int:
        """The collection's chunk count for the calibration, cached PASSAGE_COUNT_SECONDS (the score
        moves on a log scale with it); this process's writes refresh it at once."""
        now = time.monotonic()
        cached = self._passage_counts.get(physical)
        if cached is not None and now - cached[0] < PASSAGE_COUNT_SECONDS:
            return cached[1]
        info = self.store.collection_stats(physical)
        count = info.points if info is not None else 0
        if len(self._passage_counts) > 10_000:
            self._passage_counts.clear()
        self._passage_counts[physical] = (now, count)
        return count

    def warm_calibration(self) -> None:
        """Embed the calibration background now rather than on the first search."""
        self._background()

    @staticmethod
    def _background() -> np.ndarray:
        """The calibration background, embedded once per process with the default embedding model."""
        model = embedding_service.get_instance().default_model_name()
        return rag_calibration.background_vectors(model, RAGService._embed)

    @staticmethod
    def _embed(texts: list[str]) -> np.ndarray:
        try:
            return embedding_service.get_instance().embed(texts).vectors
        except ServiceError:
            raise
        except Exception as exc:
            logger.exception("embedding failed")
            raise ServiceUnavailable(f"Embedding failed: {exc}") from exc


def _supported(hits: Sequence[Hit], min_score: float) -> bool:
    """Whether the retrieved chunks support an answer: at least one, and with a threshold on
    (``min_score`` > 0) the best one scoring ANSWER_MIN_SCORE or more."""
    if not hits:
        return False
    return min_score <= 0 or max(hit.score or 0.0 for hit in hits) >= ANSWER_MIN_SCORE


def _abstention() -> dict[str, Any]:
    """The answer when the documents do not support one: no model is called."""
    return {"answer": NO_ANSWER, "answerType": "extractive", "model": "extractive", "tokensUsed": 0}


def zscore_fusion(dense: Sequence[Hit], lexical: Sequence[Hit], weights: Sequence[float]) -> list[Hit]:
    """Weighted sum of standardised scores: cosine over every candidate, BM25 over the lexical list.

    Standardising (z-scores per query) puts cosine and any backend's lexical score on one scale;
    a candidate missing from the lexical top list gets that list's lowest score (its own is lower
    still). On SciFact this beats rank fusion by about 0.01-0.015 nDCG@10 (docs/rag.md)."""
    hits: dict[str, Hit] = {hit.id: hit for hit in dense}
    for hit in lexical:
        hits.setdefault(hit.id, hit)
    if not hits:
        return []
    lexical_scores = {hit.id: float(hit.lexical or 0.0) for hit in lexical}
    ids = list(hits)
    cosines = np.array([hits[key].cosine for key in ids], dtype=np.float64)
    floor = min(lexical_scores.values()) if lexical_scores else 0.0
    bm25 = np.array([lexical_scores.get(key, floor) for key in ids], dtype=np.float64)
    fused = weights[0] * _standardise(cosines) + weights[1] * _standardise(bm25)
    return [hits[ids[i]] for i in np.argsort(-fused, kind="stable")]


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-12 else np.zeros_like(values)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], weights: Sequence[float], k: float) -> list[Hit]:
    """score(d) = sum_i w_i / (k + rank_i(d)); ties keep the first list's order."""
    fused: dict[str, float] = {}
    hits: dict[str, Hit] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, 1):
            fused[hit.id] = fused.get(hit.id, 0.0) + weight / (k + rank)
            hits.setdefault(hit.id, hit)
    order = sorted(fused, key=lambda key: -fused[key])
    return [hits[key] for key in order]


def rerank_pool(limit: int) -> int:
    """How many retrieved candidates ``rerank: true`` reorders: max(limit * 4, RAG_RERANK_CANDIDATES)."""
    return max(limit * 4, rag_config().rerank_candidates)


def _reranked(query: str, hits: list[Hit]) -> list[Hit]:
    """``hits`` in the reranker's order. Only the order changes: ``relevanceScore`` stays the
    calibrated score (and ``minScore`` filtered on it), so scores keep one meaning with and without
    rerank; the reranker's own 0..1 score is ``Hit.rerank_score``. Long chunks are cut to fit the reranker's
    limits (rerankers read the first few hundred tokens anyway)."""
    if len(hits) < 2:
        return hits
    limits = rerank_service.rerank_config()
    per_document = min(limits.max_document_chars, limits.max_total_chars // (len(hits) + 1))
    outcome = rerank_service.get_instance().rerank(
        query[:per_document], [hit.content[:per_document] or " " for hit in hits]
    )
    ordered = []
    for result in outcome.results:
        hit = hits[result.index]
        hit.rerank_score = result.score
        ordered.append(hit)
    return ordered


def _point_id(document_id: str) -> str:
    """A valid point id for any document id: itself if it is a UUID, else a UUIDv5 of it."""
    try:
        return str(uuid.UUID(document_id))
    except ValueError:
        return chunk_uuid(document_id, 0)


def _check_content(content: str, *, embedded_whole: bool = False) -> None:
    if not content.strip():
        raise BadRequest("content should not be empty")
    config = rag_config()
    limit, setting = config.max_content_chars, "RAG_MAX_CONTENT_CHARS"
    if embedded_whole and config.embedding_max_text_chars < limit:
        # One point per document: the whole content is tokenised, so the embedding limit applies.
        limit = config.embedding_max_text_chars
        setting = "EMBEDDING_MAX_TEXT_CHARS; /rag/index-project-document chunks longer documents"
    if len(content) > limit:
        raise PayloadTooLarge(f"content is longer than {limit} characters ({setting})")


def _check_unique_ids(documents: Sequence[DocumentInput]) -> None:
    """Two documents with one id in one write would collide on every backend but Qdrant, where the
    last would silently win: refuse the request instead (HTTP batches and index_documents alike)."""
    counts = Counter(document.document_id for document in documents if document.document_id)
    repeated = sorted(document_id for document_id, count in counts.items() if count > 1)
    if repeated:
        raise BadRequest(f"documentId {repeated[0]!r} appears more than once")


def _check_metadata(metadata: dict[str, Any]) -> None:
    reserved = sorted(RESERVED_METADATA & set(metadata))
    if reserved:
        raise BadRequest(f"metadata keys {', '.join(reserved)} are reserved")
    if nesting_exceeds(metadata, MAX_JSON_DEPTH):
        # Deeper metadata would be stored, then break every search that returns it (encoders stop).
        raise BadRequest(f"metadata must not nest objects or arrays more than {MAX_JSON_DEPTH} levels deep")


def _check_filters(request: SearchRequest) -> None:
    problem = metadata_filter_problem(request.metadata)
    if problem:
        raise BadRequest(f"metadataFilter {problem}")
    if len(request.source_types) > MAX_SOURCE_TYPES:
        raise BadRequest(f"sourceTypes must contain no more than {MAX_SOURCE_TYPES} elements")


def _citations(answer: str, hits: list[Hit]) -> list[dict[str, Any]]:
    numbers = (int(n) for group in _CITATION.findall(answer) for n in group.split(","))
    cited = sorted({n for n in numbers if 1 <= n <= len(hits)})
    return [
        {
            "index": n,
            "source": hits[n - 1].source,
            "chunkId": hits[n - 1].id,
            "documentId": hits[n - 1].metadata.get("document_id"),
        }
        for n in cited
    ]


def _answer_messages(query: str, hits: list[Hit], system_prompt: str | None) -> list[dict[str, str]]:
    context = "\n\n---\n\n".join(f"[Source {i}: {hit.source}]\n{hit.content}" for i, hit in enumerate(hits, 1))
    return [
        {"role": "system", "content": system_prompt or DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": f"Context:\n{context}\n\n---\n\nQuestion: {query}"},
    ]


def _generative_events(
    first: ChatDelta,
    stream: Iterator[ChatDelta],
    hits: list[Hit],
    sources: list[dict[str, Any]],
    model: str,
    attribute: Callable[[str], str],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The model's tokens as ``delta`` events; ``done`` carries the answer with the server's
    ``[n]`` attributions (RAGService.attributed) where the model cited nothing itself."""
    pieces: list[str] = []
    last = ChatDelta(done=True)
    try:
        yield "sources", {"sources": sources, "answerType": "generative", "model": model}
        for delta in itertools.chain([first], stream):
            if delta.done:
                last = delta
            elif delta.content:
                pieces.append(delta.content)
                yield "delta", {"content": delta.content}
    finally:
        _close(stream)  # a client that went away stops the generation now, not at garbage collection
    answer = attribute("".join(pieces))
    body: dict[str, Any] = {
        "answer": answer,
        "answerType": "generative",
        "sources": sources,
        "citations": _citations(answer, hits),
        "model": last.model or model,
        "usage": last.usage or empty_usage(),
    }
    if last.usage is not None:  # as answer(): left out when the provider reports no usage
        body["tokensUsed"] = last.usage.get("total_tokens", 0)
    yield "done", body


def _close(stream: Iterator[Any]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def _answer_llm() -> Any | None:
    """The LLM that writes answers, or None for extractive answers (RAG_ANSWER_MODE)."""
    mode = rag_config().answer_mode
    llm = _llm_if_available() if mode != "extractive" else None
    if llm is None and mode == "llm":
        raise ServiceUnavailable("No language model is configured for RAG answers (RAG_ANSWER_MODE=llm)")
    return llm


def _llm_if_available() -> Any | None:
    try:
        from services import llm_service
    except ImportError:
        return None
    try:
        llm = llm_service.get_instance()
        return llm if llm.is_available() else None
    except Exception:
        logger.warning("LLM service unavailable; answering extractively", exc_info=True)
        return None


def _config_key() -> tuple[Any, ...]:
    config = rag_config()
    return (
        config.vector_store,
        str(config.embedded_path),
        config.qdrant_url,
        config.collection_prefix,
        config.is_postgres,
    )


@functools.cache
def _instance(key: tuple[Any, ...]) -> RAGService:
    return RAGService(get_store(), rag_config().collection_prefix)


register_reset(_instance.cache_clear, settings=("RAG_", "QDRANT_", "DATABASES"))  # drops stale stores


def get_instance() -> RAGService:
    """One service per configuration (tests point the store elsewhere with override_settings)."""
    return _instance(_config_key())
