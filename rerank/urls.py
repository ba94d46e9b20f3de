from django.urls import path

from . import views

urlpatterns = [
    path("rerank", views.RerankView.as_view(), name="rerank"),
    # Cohere/Jina clients pointed at base_url=http://host:port/v1 (errors in OpenAI's envelope).
    path("v1/rerank", views.RerankView.as_view(), name="v1-rerank"),
]
