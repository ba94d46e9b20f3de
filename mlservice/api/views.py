"""Base view: validate with a contract serializer, call a service, answer 201 for POST at the gateway
paths (contract 2.4) and 200 under /api/v1/ (the Django guide)."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.mediatypes import media_type_matches
from rest_framework.views import APIView

from .serializers import ContractSerializer

VERSIONED_PREFIX = "/api/v1/"


class SingleFormatNegotiation(BaseContentNegotiation):
    """Every API response is JSON: skip DRF's Accept-header parsing on each request."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        content_type = request.content_type or ""
        return next((parser for parser in parsers if media_type_matches(parser.media_type, content_type)), None)

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        renderer = renderers[0]
        return renderer, renderer.media_type


class ContractView(APIView):
    """Base of every API view: JSON only, contract validation, 201 on POST."""

    content_negotiation_class = SingleFormatNegotiation
    request_serializer: type[ContractSerializer] | None = None

    def validated(self, request: Request, serializer_class: type[ContractSerializer] | None = None) -> dict[str, Any]:
        cls = serializer_class or self.request_serializer
        assert cls is not None, f"{type(self).__name__} has no request_serializer"
        serializer = cls(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @staticmethod
    def created(body: Any) -> Response:
        return Response(body, status=status.HTTP_201_CREATED)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # The gateway paths keep the reference service's 201; under /api/v1/ a successful POST
        # answers 200, as the Django guide and its FastAPI sibling do (README "API").
        if response.status_code == status.HTTP_201_CREATED and request.path.startswith(VERSIONED_PREFIX):
            response.status_code = status.HTTP_200_OK
        return super().finalize_response(request, response, *args, **kwargs)


class OpenAIView(APIView):
    """Base of the OpenAI-compatible views (/v1/*): whatever the Accept header says, the answer is
    JSON (or the event stream the request asked for), as with OpenAI's API. DRF's own negotiation
    answered 406 to SSE clients, which send ``Accept: text/event-stream``."""

    content_negotiation_class = SingleFormatNegotiation
