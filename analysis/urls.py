from django.urls import path

from . import views

urlpatterns = [
    path("analysis/summarize", views.SummarizeView.as_view(), name="analysis-summarize"),
    path("analysis/sentiment", views.SentimentView.as_view(), name="analysis-sentiment"),
    path("analysis/keywords", views.KeywordsView.as_view(), name="analysis-keywords"),
    path("analysis/generate", views.GenerateView.as_view(), name="analysis-generate"),
    path("analysis/classify", views.ClassifyView.as_view(), name="analysis-classify"),
    path("analysis/text", views.TextView.as_view(), name="analysis-text"),
    path("analysis/analyze", views.TextView.as_view(), name="analysis-analyze"),
]
