"""Text analysis (contract 4.4): with a language model when one is configured, local methods otherwise.

The method is chosen per request (``method``) or by ``ANALYSIS_BACKEND``: ``auto`` (a cloud or
OpenAI-compatible LLM when one is configured, else the fast local methods), ``fast`` (``local``),
or ``llm`` (any LLM, the local GGUF one included; 503 without one). Results are plain dicts with
the contract's keys plus ``method`` (``"llm:<model that answered>"`` or ``"local:<method>"``).
Fast methods (``services/analysis``): embedding-axis sentiment, position-biased SingleRank
keyphrases, lead-biased TextRank summary, embedding zero-shot classification. The local LLM reads
a bounded prefix of the text (its context window is small) and writes a bounded answer.

Views follow the guide's service pattern: ``AnalysisService.get_instance()`` and
``async_to_sync(service.summarize_text)(...)`` (likewise ``analyze_sentiment``, ``extract_keywords``,
``classify_text``, ``generate_text``, ``analyze_text``); the sync methods they wrap (``summarize``,
``sentiment``, ...) stay for sync callers, and ``stream_generate`` stays a sync stream.
"""

from __future__ import annotations

import functools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from mlservice.core.errors import PayloadTooLarge, ServiceError
from mlservice.core.resets import register_reset
from services import llm_service
from services.llm.base import ChatDelta
from services.llm.config import llm_config
from services.llm_service import ChatStream

from .analysis import classify as local_classify
from .analysis import keywords as local_keywords
from .analysis import llm_labels
from .analysis import sentiment as local_sentiment
from .analysis import summary as local_summary
from .analysis.llm_json import (
    InvalidAnswer,
    ask_json,
    require_number,
    require_object_list,
    require_string,
    require_string_list,
)

logger = logging.getLogger("mlservice.analysis")

LOCAL_MODEL = "local"
SENTIMENTS = ("positive", "negative", "neutral", "mixed")
LOCAL_LLM_SENTIMENTS = SENTIMENTS[:3]  # _local_llm_sentiment says why
DEFAULT_ANALYSES = ("sentiment", "summary", "keywords")
GENERATE_SYSTEM_PROMPT = "You are a helpful assistant that writes clear, accurate content."
METHODS = ("auto", "fast", "llm")  # the request's `method`; ANALYSIS_BACKEND also takes "local" for "fast"
# The local LLM's window (LOCAL_LLM_CONTEXT_TOKENS) holds prompt and answer: keep this many tokens
# for the instructions and the answer, and read at most the rest of the text (about 3 characters a
# token for English in Qwen's tokenizer, rounded down so the cut is on the safe side).
LOCAL_LLM_RESERVED_TOKENS = 700
CHARS_PER_TOKEN = 3
SENTIMENT_MAX_TOKENS = 60  # {"sentiment": ..., "score": ..., "confidence": ...} is about 25 tokens
SUMMARY_MAX_TOKENS = 400
# The local LLM's summary length (default, and cap on maxLength), so summary and key points fit
# in SUMMARY_MAX_TOKENS.
LOCAL_SUMMARY_WORDS = 80
LOCAL_SUMMARY_MAX_WORDS = 150
CHARS_PER_SUMMARY_WORD = 7  # an English word and its space average about 6 characters
LOCAL_KEY_POINT_CHARS = 160


@dataclass(frozen=True)
class AnalysisConfig:
    """The area's settings, read once (``analysis_config()``; rebuilt when a setting changes)."""

    backend: str  # ANALYSIS_BACKEND: auto, fast or llm ("local" is read as "fast")
    max_text_chars: int


@functools.cache
def analysis_config() -> AnalysisConfig:
    return AnalysisConfig(backend=settings.ANALYSIS_BACKEND, max_text_chars=settings.ANALYSIS_MAX_TEXT_CHARS)


# Every setting analysis_config() reads: names, or prefixes ending in "_".
register_reset(analysis_config.cache_clear, settings=("ANALYSIS_",))


class AnalysisService:
    @classmethod
    def get_instance(cls) -> AnalysisService:
        """The process-wide service (the guide's service pattern)."""
        return get_instance()

    # --- async interface (the guide's views call these through async_to_sync) ----------------
    # Each runs its sync twin back on the request's own thread (sync_to_async, thread_sensitive):
    # the local methods read and write the embedding cache through Django's per-thread cache
    # connections, and ``analyze`` fans out to its own thread pool; on async_to_sync's private
    # loop thread they would open fresh connections for every request.
    async def summarize_text(
        self, text: str, max_length: int | None = None, model: str | None = None, method: str | None = None
    ) -> dict[str, Any]:
        return await sync_to_async(self.summarize)(text, max_length, model, method)

    async def analyze_sentiment(
        self, text: str, include_aspects: bool = False, model: str | None = None, method: str | None = None
    ) -> dict[str, Any]:
        return await sync_to_async(self.sentiment)(text, include_aspects, model, method)

    async def extract_keywords(
        self, text: str, max_keywords: int = 10, model: str | None = None, method: str | None = None
    ) -> dict[str, Any]:
        return await sync_to_async(self.keywords)(text, max_keywords, model, method)

    async def classify_text(
        self,
        text: str,
        categories: list[str],
        multi_label: bool = False,
        model: str | None = None,
        method: str | None = None,
    ) -> dict[str, Any]:
        return await sync_to_async(self.classify)(text, categories, multi_label, model, method)

    async def generate_text(
        self,
        prompt: str,
        context: str | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> dict[str, Any]:
        return await sync_to_async(self.generate)(prompt, context, model, max_tokens, temperature)

    async def analyze_text(
        self, text: str, analyses: list[str] | None = None, model: str | None = None, method: str | None = None
    ) -> dict[str, Any]:
        return await sync_to_async(self.analyze)(text, analyses, model, method)

    # --- backend choice ---------------------------------------------------------------------
    def uses_llm(self, method: str | None = None) -> bool:
        """``method`` from the request wins over ANALYSIS_BACKEND (validated at start-up)."""
        choice = method or analysis_config().backend
        if choice in ("fast", "local"):
            return False
        if choice == "llm":
            return True  # any LLM, the local one included; llm_service answers 503 when there is none
        # auto: a remote LLM is better and fast; the local one is slower than the fast methods on a CPU,
        # so it serves an analysis only when asked for (method "llm").
        return llm_service.get_instance().remote_available()

    @staticmethod
    def _is_local(model: str | None) -> bool:
        try:
            return llm_service.get_instance().resolve(model).kind == "local"
        except ServiceError:
            return False  # no LLM for this model: the call itself says so

    @classmethod
    def _bounded_for_llm(cls, text: str, model: str | None) -> str:
        """The text cut to what the local LLM's window holds; remote models get it whole."""
        if not cls._is_local(model):
            return text
        limit = max(500, (llm_config().local_context_tokens - LOCAL_LLM_RESERVED_TOKENS) * CHARS_PER_TOKEN)
        if len(text) <= limit:
            return text
        cut = text[:limit]
        sentence_end = max(cut.rfind(". "), cut.rfind("\n"))
        return cut[: sentence_end + 1] if sentence_end > limit // 2 else cut

    def methods(self) -> dict[str, str]:
        """What answers each analysis right now (for /health and the docs)."""
        if self.uses_llm():
            model = llm_service.get_instance().default_model() or "unconfigured"
            return dict.fromkeys(("summarize", "sentiment", "keywords", "classify", "generate"), f"llm:{model}")
        llm = llm_service.get_instance()
        return {
            "summarize": "local:lead-textrank",
            "sentiment": "local:embedding-axis",
            "keywords": "local:singlerank-embedrank",
            "classify": "local:embedding-zero-shot",
            "generate": f"llm:{llm.default_model()}" if llm.is_available() else "unavailable",
        }

    def warm(self) -> None:
        """Embed the sentiment prototypes now, so the first request does not pay for it."""
        if not self.uses_llm():
            local_sentiment.polarity_scores(["warm-up"])

    @staticmethod
    def _check_size(text: str) -> None:
        limit = analysis_config().max_text_chars
        if len(text) > limit:
            raise PayloadTooLarge(f"text is {len(text)} characters; the limit is {limit} (ANALYSIS_MAX_TEXT_CHARS)")

    @staticmethod
    def _model_name(model: str | None) -> str:
        """The contract reports the requested model, else the configured default (4.4)."""
        return model or llm_service.get_instance().default_model() or LOCAL_MODEL

    # --- summarize --------------------------------------------------------------------------
    def summarize(
        self, text: str, max_length: int | None = None, model: str | None = None, method: str | None = None
    ) -> dict[str, Any]:
        self._check_size(text)
        if not self.uses_llm(method):
            result = local_summary.summarise(text, max_length)
            return {
                "summary": result.summary,
                "keyPoints": result.key_points,
                "model": LOCAL_MODEL,
                "tokensUsed": 0,
                "method": "local:lead-textrank",
            }
        local = self._is_local(model)
        if local:
            # A small local model left to "comprehensive" wrote past the token cap and broke the JSON.
            limit, points = (
                f"in under {min(max_length or LOCAL_SUMMARY_WORDS, LOCAL_SUMMARY_MAX_WORDS)} words",
                "3 short",
            )
        else:
            limit = f"in under {max_length} words" if max_length else "concise but comprehensive"
            points = "3 to 5"
        system = (
            f"Summarize the user's text ({limit}) and list {points} key points. "
            'Reply with a JSON object: {"summary": string, "keyPoints": [string, ...]}.'
        )

        def validate(data: dict[str, Any]) -> dict[str, Any]:
            summary = require_string(data, "summary")
            _reject_copied_summary(summary, text, max_length)
            return {"summary": summary, "keyPoints": require_string_list(data, "keyPoints")}

        answer = ask_json(
            "summarize",
            system,
            self._bounded_for_llm(text, model),
            validate,
            model,
            temperature=0.3,
            max_tokens=SUMMARY_MAX_TOKENS,
            schema=_summary_schema(max_length) if local else None,
        )
        return {
            **answer.data,
            "model": self._model_name(model),
            "tokensUsed": answer.tokens_used,
            "method": f"llm:{answer.model}",
        }

    # --- sentiment --------------------------------------------------------------------------
    def sentiment(
        self, text: str, include_aspects: bool = False, model: str | None = None, method: str | None = None
    ) -> dict[str, Any]:
        self._check_size(text)
        if not self.uses_llm(method):
            result = local_sentiment.analyse_sentiment(text, include_aspects)
            body: dict[str, Any] = {
                "sentiment": result.sentiment,
                "score": result.score,
                "confidence": result.confidence,
            }
            if include_aspects and result.aspects:
                body["aspects"] = result.aspects
            return {**body, "model": LOCAL_MODEL, "method": "local:embedding-axis"}
        if not include_aspects and self._is_local(model):
            labelled = self._local_llm_sentiment(text, model)
            if labelled is not None:
                return labelled
        aspects_hint = (
            ', "aspects": [{"aspect": string, "sentiment": string, "score": number}]' if include_aspects else ""
        )
        system = (
            "Analyse the sentiment of the user's text. sentiment is one of positive, negative, neutral, "
            "mixed; score is from -1 (negative) to 1 (positive); confidence is from 0 to 1"
            + (" and aspects lists the aspects mentioned with their sentiment" if include_aspects else "")
            + '. Reply with a JSON object: {"sentiment": string, "score": number, "confidence": number'
            + aspects_hint
            + "}."
        )

        def validate(data: dict[str, Any]) -> dict[str, Any]:
            label = require_string(data, "sentiment").strip().lower()
            if label not in SENTIMENTS:
                raise InvalidAnswer(f'"sentiment" must be one of {", ".join(SENTIMENTS)}')
            cleaned: dict[str, Any] = {
                "sentiment": label,
                "score": require_number(data, "score", -1, 1),
                "confidence": require_number(data, "confidence", 0, 1),
            }
            if include_aspects and data.get("aspects"):
                cleaned["aspects"] = [_aspect(item) for item in require_object_list(data, "aspects")]
            return cleaned

        answer = ask_json(
            "sentiment",
            system,
            self._bounded_for_llm(text, model),
            validate,
            model,
            temperature=0.1,
            max_tokens=1000 if include_aspects else SENTIMENT_MAX_TOKENS,
        )
        return {**answer.data, "model": self._model_name(model), "method": f"llm:{answer.model}"}

    def _local_llm_sentiment(self, text: str, model: str | None) -> dict[str, Any] | None:
        """The local model's label probabilities (services/analysis/llm_labels.py says why):
        score P(positive) - P(negative), the polarity its sign, confidence that label's probability.
        None when the model's first token is no label: the JSON path answers then.

        Three labels, not four: offered "mixed", the 0.5B model took it for 45% of one-sided
        SST-2 sentences (three-class accuracy on SST-2 + AG News 0.32, against 0.58 without it).
        Neutral comes from the embedding axis (``_embedding_axis_reading``), not from the model: asked,
        the 0.5B model called 29-33% of news texts neutral, the axis 81-84%; with the axis deciding
        neutral and the model the polarity, three-class accuracy on the proxy of benchmarks/analysis.py
        --three-class is 0.731 (the model alone 0.58-0.61, the fast method 0.713; docs/analysis-and-llm.md).
        """
        answer = llm_labels.ask_label(
            "Classify the sentiment of the user's text. Answer with one word: positive, negative or neutral.",
            self._bounded_for_llm(text, model),
            LOCAL_LLM_SENTIMENTS,
            model,
        )
        if answer is None:
            return None
        p = answer.probabilities
        axis = self._embedding_axis_reading(text)
        if axis is None:  # no embedding model: the LLM's own three labels
            label, confidence = answer.best, p[answer.best]
        elif axis.sentiment == "neutral":
            label, confidence = "neutral", axis.confidence
        else:
            label = "positive" if p["positive"] >= p["negative"] else "negative"
            confidence = p[label]
        return {
            "sentiment": label,
            "score": round(p["positive"] - p["negative"], 4),
            "confidence": round(confidence, 4),
            "model": self._model_name(model),
            "method": f"llm:{answer.model}",
        }

    @staticmethod
    def _embedding_axis_reading(text: str) -> local_sentiment.SentimentResult | None:
        """The fast method's reading of ``text`` (its neutral label is the one to trust), or None
        when the local embedding model is not there: the LLM's answer then stands on its own."""
        try:
            return local_sentiment.analyse_sentiment(text)
        except ServiceError as exc:
            logger.warning("sentiment: no embedding axis for the neutral check (%s); the LLM's label stands", exc)
            return None

    # --- keywords ---------------------------------------------------------------------------
    def keywords(
        self, text: str, max_keywords: int = 10, model: str | None = None, method: str | None = None
    ) -> dict[str, Any]:
        self._check_size(text)
        if not self.uses_llm(method):
            return {
                "keywords": local_keywords.extract_keywords(text, max_keywords),
                "model": LOCAL_MODEL,
                "method": "local:singlerank-embedrank",
            }
        system = (
            f"Extract the {max_keywords} most important keywords or key phrases from the user's text. "
            'Reply with a JSON object: {"keywords": [string, ...]}.'
        )

        def validate(data: dict[str, Any]) -> dict[str, Any]:
            found = list(dict.fromkeys(require_string_list(data, "keywords")))
            return {"keywords": found[:max_keywords]}

        answer = ask_json("keywords", system, self._bounded_for_llm(text, model), validate, model, temperature=0.1)
        return {**answer.data, "model": self._model_name(model), "method": f"llm:{answer.model}"}

    # --- classify ---------------------------------------------------------------------------
    def classify(
        self,
        text: str,
        categories: list[str],
        multi_label: bool = False,
        model: str | None = None,
        method: str | None = None,
    ) -> dict[str, Any]:
        self._check_size(text)
        preview = text if len(text) <= 100 else text[:100] + "..."
        if not self.uses_llm(method):
            found = local_classify.classify(text, categories, multi_label)
            return {
                "classifications": [{"category": c.category, "confidence": c.confidence} for c in found],
                "model": LOCAL_MODEL,
                "textPreview": preview,
                "method": "local:embedding-zero-shot",
            }
        how_many = "every category that applies" if multi_label else "exactly one category"
        system = (
            f"Classify the user's text into {how_many} from this list: {', '.join(categories)}. "
            "Give each chosen category a confidence from 0 to 1. "
            'Reply with a JSON object: {"classifications": [{"category": string, "confidence": number}]}.'
        )
        by_lower = {category.lower(): category for category in categories}

        def validate(data: dict[str, Any]) -> dict[str, Any]:
            cleaned = []
            for item in require_object_list(data, "classifications"):
                name = by_lower.get(require_string(item, "category").strip().lower())
                if name is None:
                    raise InvalidAnswer(f'category "{item["category"]}" is not one of the categories given')
                cleaned.append({"category": name, "confidence": require_number(item, "confidence", 0, 1)})
            if not cleaned:
                raise InvalidAnswer('"classifications" is empty')
            return {"classifications": cleaned if multi_label else cleaned[:1]}

        answer = ask_json("classify", system, self._bounded_for_llm(text, model), validate, model, temperature=0.1)
        return {
            **answer.data,
            "model": self._model_name(model),
            "textPreview": preview,
            "method": f"llm:{answer.model}",
        }

    # --- generate ---------------------------------------------------------------------------
    @staticmethod
    def _generate_messages(prompt: str, context: str | None) -> list[dict[str, str]]:
        system = GENERATE_SYSTEM_PROMPT + (f"\n\nContext:\n{context}" if context else "")
        return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    def generate(
        self,
        prompt: str,
        context: str | None = None,
        model: str | None = None,
        max_tokens: int | None = None,  # None: DEFAULT_MAX_TOKENS
        temperature: float | None = None,  # None: DEFAULT_TEMPERATURE
    ) -> dict[str, Any]:
        self._check_size(prompt + (context or ""))
        result = llm_service.get_instance().chat(
            self._generate_messages(prompt, context), model=model, temperature=temperature, max_tokens=max_tokens
        )
        return {
            "content": result.content,
            "model": self._model_name(model),
            "tokensUsed": result.usage["total_tokens"],
            "method": f"llm:{result.model}",
        }

    def stream_generate(
        self,
        prompt: str,
        context: str | None = None,
        model: str | None = None,
        max_tokens: int | None = None,  # None: DEFAULT_MAX_TOKENS
        temperature: float | None = None,  # None: DEFAULT_TEMPERATURE
    ) -> ChatStream:
        """``generate`` as a stream; its ``done`` body has ``generate``'s keys, with the model that
        answered when the request named none."""
        self._check_size(prompt + (context or ""))
        deltas = llm_service.get_instance().stream_chat(
            self._generate_messages(prompt, context), model=model, temperature=temperature, max_tokens=max_tokens
        )

        def final(text: str, last: ChatDelta) -> dict[str, Any]:
            return {
                "content": text,
                "model": model or last.model,
                "tokensUsed": (last.usage or {}).get("total_tokens", 0),
                "method": f"llm:{last.model}",
            }

        return ChatStream(deltas, final)

    # --- analyze (several at once) ----------------------------------------------------------
    def analyze(
        self, text: str, analyses: list[str] | None = None, model: str | None = None, method: str | None = None
    ) -> dict[str, Any]:
        self._check_size(text)
        wanted = [name for name in (analyses if analyses is not None else DEFAULT_ANALYSES) if name in DEFAULT_ANALYSES]
        jobs = {
            "sentiment": lambda: _without_success(self.sentiment(text, False, model, method)),
            "summary": lambda: _without_success(self.summarize(text, None, model, method)),
            "keywords": lambda: _without_success(self.keywords(text, 10, model, method)),
        }
        body: dict[str, Any] = {
            "wordCount": len(re.split(r"\s+", text)),
            "charCount": len(text.encode("utf-16-le")) // 2,
            "model": self._model_name(model) if self.uses_llm(method) else LOCAL_MODEL,
        }
        names = list(dict.fromkeys(wanted))
        remote = self.uses_llm(method) and llm_service.get_instance().remote_available()
        if remote and len(names) > 1:
            # Remote calls wait on the network: run them side by side, as the TS service does.
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                futures = {name: pool.submit(jobs[name]) for name in names}
                results = {name: future.result() for name, future in futures.items()}
        else:
            results = {name: jobs[name]() for name in names}
        body.update(results)
        return body


def _summary_schema(max_words: int | None) -> dict[str, Any]:
    """The local model's summary, bounded so that it fits SUMMARY_MAX_TOKENS: unbounded, the 0.5B
    model looped on one key point or copied the article until the cap cut its JSON (4 of 10
    SummEval articles answered 502)."""
    words = min(max_words or LOCAL_SUMMARY_WORDS, LOCAL_SUMMARY_MAX_WORDS)
    return {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "maxLength": words * CHARS_PER_SUMMARY_WORD},
            "keyPoints": {
                "type": "array",
                "items": {"type": "string", "maxLength": LOCAL_KEY_POINT_CHARS},
                "minItems": 1,
                "maxItems": 3,
            },
        },
        "required": ["summary", "keyPoints"],
        "additionalProperties": False,
    }


def _reject_copied_summary(summary: str, text: str, max_words: int | None) -> None:
    """A sampled small model sometimes hands the text back as its "summary": ask it again.

    Seen in CI with the local 0.5B model at temperature 0.3: the whole 46-word input returned
    for a 30-word summary. A text already within the limit may come back as it is. A summary
    that is merely longer than asked is kept: a 502 after two verbose answers would serve the
    caller worse than a long summary.
    """
    text_words = text.split()
    if len(text_words) > (max_words or LOCAL_SUMMARY_WORDS) and [w.casefold() for w in summary.split()] == [
        w.casefold() for w in text_words
    ]:
        raise InvalidAnswer('"summary" repeats the text word for word; write a shorter summary in your own words')


def _aspect(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "aspect": require_string(item, "aspect"),
        "sentiment": require_string(item, "sentiment").strip().lower(),
        "score": require_number(item, "score", -1, 1),
    }


def _without_success(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "success"}


@functools.cache
def get_instance() -> AnalysisService:
    return AnalysisService()
