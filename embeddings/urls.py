from django.urls import path

from . import views

urlpatterns = [
    path("embeddings/generate", views.GenerateView.as_view(), name="embeddings-generate"),
    path("embeddings/batch", views.BatchView.as_view(), name="embeddings-batch"),
    path("embeddings/similarity", views.SimilarityView.as_view(), name="embeddings-similarity"),
    path("embeddings/models", views.ModelsView.as_view(), name="embeddings-models"),
    # OpenAI wire format, for OpenAI SDKs pointed at this service (base_url=http://host:port/v1).
    path("v1/embeddings", views.OpenAIEmbeddingsView.as_view(), name="openai-embeddings"),
]
