from django.urls import path

from . import document_views, views

urlpatterns = [
    path("rag/index", views.IndexView.as_view(), name="rag-index"),
    path("rag/index/batch", views.BatchIndexView.as_view(), name="rag-index-batch"),
    path("rag/index-project-document", views.IndexProjectDocumentView.as_view(), name="rag-index-project-document"),
    path("rag/search", views.SearchView.as_view(), name="rag-search"),
    path("rag/query", views.QueryView.as_view(), name="rag-query"),
    path("rag/collections", views.CollectionsView.as_view(), name="rag-collections"),
    path("rag/collections/<str:collection>", views.CollectionView.as_view(), name="rag-collection-delete"),
    path("rag/collection/<str:collection>", views.CollectionView.as_view(), name="rag-collection-delete-alias"),
    path(
        "rag/collections/<str:collection>/documents/<str:document_id>",
        views.CollectionDocumentView.as_view(),
        name="rag-collection-document-delete",
    ),
    path("rag/documents", document_views.DocumentsUploadView.as_view(), name="rag-documents-upload"),
    path("rag/documents/<str:document_id>", views.DocumentView.as_view(), name="rag-document-delete"),
    path("rag/stats", views.StatsView.as_view(), name="rag-stats"),
]
