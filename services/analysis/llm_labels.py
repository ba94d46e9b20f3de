"""Ask the LLM to pick one of a few labels, and read the answer as probabilities.

A small local model asked for a JSON verdict answered "neutral" with score 0 for 62% of SST-2's
movie-review sentences (benchmarks/analysis.py --llm-sst2: accuracy 0.71), yet the same model's
next-token probabilities rank the labels well. So the model writes one token and the answer is
read from that token's likeliest alternatives: each label gets the probability of the tokens that
begin it and no other label ("pos", "Positive"; not "ne", which begins both "negative" and
"neutral"), normalised over the labels. Providers that report no alternatives give no answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services import llm_service

ALTERNATIVES = 20  # llama.cpp and OpenAI both report up to 20
MIN_LABEL_MASS = 0.05  # below this the model wanted to write something else: not an answer


@dataclass(frozen=True)
class LabelAnswer:
    probabilities: dict[str, float]  # label -> probability, summing to 1
    model: str
    tokens_used: int

    @property
    def best(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)


def label_probabilities(alternatives: tuple[tuple[str, float], ...], labels: tuple[str, ...]) -> dict[str, float]:
    """Each label's share of the probability of tokens that begin only it; {} when they hold too little."""
    mass = dict.fromkeys(labels, 0.0)
    for token, logprob in alternatives:
        piece = token.strip().lower()
        starts = [label for label in labels if len(piece) >= 2 and label.startswith(piece)]
        if len(starts) == 1:
            mass[starts[0]] += math.exp(logprob)
    total = sum(mass.values())
    if total < MIN_LABEL_MASS:
        return {}
    return {label: value / total for label, value in mass.items()}


def ask_label(system_prompt: str, user_content: str, labels: tuple[str, ...], model: str | None) -> LabelAnswer | None:
    """The labels' probabilities as the model's one-token answer, or None when it gives none."""
    result = llm_service.get_instance().chat(
        [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_content}],
        model=model,
        temperature=0.0,
        max_tokens=1,
        top_logprobs=ALTERNATIVES,
    )
    probabilities = label_probabilities(result.first_token_logprobs, labels)
    if not probabilities:
        return None
    return LabelAnswer(probabilities, result.model, result.usage.get("total_tokens", 0))
