"""The text-analysis app (HTTP layer): ``/analysis/*`` routes for sentiment, keywords, summaries,
zero-shot classification, whole-text analysis and generation. Views validate with the serializers
here and call ``services.analysis_service.AnalysisService``; the methods themselves live in
``services/analysis/``.
"""
