"""Tokenising helpers shared by the local analysis methods (English; no model, no downloads)."""

from __future__ import annotations

import functools
import re
from typing import Protocol

import snowballstemmer

# Function words plus the verbs and vague nouns that never make good keyphrases on their own.
STOPWORDS = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also although
    always am among amongst an and another any anyhow anyone anything anyway anywhere are around as at
    be became because become becomes becoming been before beforehand behind being below beside besides
    between beyond both but by can cannot could did do does doing done down due during each eg either
    else elsewhere enough etc even ever every everyone everything everywhere except few for former
    formerly from further had has have having he hence her here hereafter hereby herein hereupon hers
    herself him himself his how however i ie if in indeed into is it its itself just last latter
    latterly least less many may me meanwhile might mine more moreover most mostly much must my myself
    namely neither never nevertheless next no nobody none noone nor not nothing now nowhere of off
    often on once one only onto or other others otherwise our ours ourselves out over own per perhaps
    rather re same seem seemed seeming seems several she should since so some somehow someone something
    sometime sometimes somewhere still such than that the their theirs them themselves then thence there
    thereafter thereby therefore therein thereupon these they this those though through throughout thru
    thus to together too toward towards under until up upon us very via was we well were what whatever
    when whence whenever where whereafter whereas whereby wherein whereupon wherever whether which while
    whither who whoever whole whom whose why will with within without would yet you your yours yourself
    yourselves
    able according achieve achieved achieves addition additionally allow allowed allows apply applied
    applies approach based becomes called carried case cases certain consider considered considers
    contain contains demonstrate demonstrated describe described describes designed determine determined
    developed discuss discussed discusses example examples examine examined existing find finds first
    found further given gives give good great high higher however important include included includes
    including increase increased introduce introduced introduces investigate investigated known large
    lead leads like make makes making mean means method methods new number obtain obtained obtains
    order paper part particular possible present presented presents problem problems proposed propose
    proposes provide provided provides recent recently related report reported require required
    requires result results second shown show shows significant significantly simple small studied study
    suggest suggested take taken three two type types use used uses using various way ways work works
    get got gets us also said says say according told tell tells year years day days time times
    """.split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*|[0-9]+(?:\.[0-9]+)?|[^\sA-Za-z0-9]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc inc ltd co corp fig no al e.g i.e u.s u.k jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


class _Stemmer(Protocol):
    """The part of snowballstemmer's (untyped) stemmer objects used here."""

    def stemWord(self, word: str) -> str: ...


@functools.cache
def _stemmer() -> _Stemmer:
    stemmer: _Stemmer = snowballstemmer.stemmer("porter")
    return stemmer


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


def stem_phrase(phrase: str) -> str:
    return " ".join(stem(word) for word in phrase.split())


def tokens(text: str) -> list[str]:
    """Words, numbers and punctuation marks, in order (punctuation breaks candidate phrases)."""
    return _TOKEN.findall(text)


def is_word(token: str) -> bool:
    return bool(_WORD.fullmatch(token))


def split_sentences(text: str) -> list[str]:
    """Sentences of prose, split on . ! ? followed by a capitalised start, minding abbreviations.

    Line breaks that end a paragraph (a blank line) also end a sentence.
    """
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        start = 0
        for match in _SENTENCE_END.finditer(paragraph):
            candidate = paragraph[start : match.start()].strip()
            last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            sentences.append(candidate)
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


def word_count(text: str) -> int:
    return len(_WORD.findall(text))
