"""Fixtures for the endpoint tests in tests/ (the guide's layout).

The project-wide fixtures (``api``, ``post_json``, ``require_service``, the database and cache
resets) live in the root conftest.py, which covers every test directory; each area's own fakes
sit in its package's conftest.py (tests/test_rag/conftest.py, ...).
"""

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    """The guide's name for a DRF test client."""
    return APIClient()
