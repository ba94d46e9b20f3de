"""Errors keep the contract's JSON shape when DEBUG is on (contract 2.4 and 9.5).

With ``DEBUG`` on, Django answers an unknown route (or a trailing slash) with its technical 404
page, which lists every URL pattern, and a crash with the technical 500 page (traceback,
settings), instead of calling ``handler404``/``handler500``. This middleware replaces those HTML
pages with what the URLconf's handlers answer, so clients see the same JSON whatever DEBUG says;
the traceback is still logged by ``django.request``. With DEBUG off it removes itself at start-up
(``MiddlewareNotUsed``): the handlers answer directly and the hot path pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from django.urls import get_resolver, get_urlconf

# Statuses for which Django renders a technical page under DEBUG (400: SuspiciousOperation).
_HANDLED = (400, 404, 500)


class ContractErrorPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.DEBUG:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code in _HANDLED and response.get("Content-Type", "").startswith("text/html"):
            return _handler_response(request, response.status_code)
        return response


def _handler_response(request: HttpRequest, status_code: int) -> HttpResponse:
    handler = get_resolver(get_urlconf()).resolve_error_handler(status_code)
    if status_code == 500:
        return handler(request)
    return handler(request, None)
