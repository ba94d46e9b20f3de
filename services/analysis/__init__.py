"""Local text-analysis methods behind ``AnalysisService``: prototype-based sentiment, graph and
embedding keywords, extractive summaries, zero-shot classification, and the strict-JSON prompts
used when an LLM does the analysis.
"""
