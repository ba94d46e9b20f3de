"""The Django ML service guide's "Writing Tests" example, verbatim: it must keep passing as written."""

import pytest
from rest_framework.test import APIClient
from rest_framework import status
from unittest.mock import patch, AsyncMock, MagicMock

@pytest.fixture
def api_client():
    return APIClient()

@pytest.mark.django_db
def test_health_check(api_client):
    response = api_client.get("/health")
    assert response.status_code == status.HTTP_200_OK
    assert response.json()["status"] == "ok"

@pytest.mark.django_db
def test_embeddings_with_mock(api_client):
    with patch("embeddings.views.EmbeddingService") as MockService:
        mock_instance = MagicMock()
        mock_instance.generate_embedding = AsyncMock(return_value=[0.1] * 1536)
        MockService.get_instance.return_value = mock_instance

        response = api_client.post("/api/v1/embeddings/generate", {
            "text": "Hello world"
        }, format="json")

        assert response.status_code == status.HTTP_200_OK
