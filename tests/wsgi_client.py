"""A test client whose requests pass through the WSGI layers settings.PRAKRIYA_WSGI_LAYERS names
(prakriya/wsgi.py's `wrapped`, the function gunicorn's application is built with) before Django's
test handler, as a request to the running platform does. Each response says whether a layer
answered it (`response.answered_by_layer`) or Django did."""

from __future__ import annotations

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from rest_framework.test import APIClient

from prakriya.wsgi import wrapped


class _Layered:
    """Django's test handler behind the WSGI layers, built once per client: a client stands for
    one web process, with that process's caches (the fast path's routes and exports)."""

    def __init__(self, django_handler) -> None:
        self.django_handler = django_handler
        self._reached: dict = {}
        self._app = wrapped(self._django)

    def __setattr__(self, name, value) -> None:
        # APIClient.force_authenticate sets its user on the handler: the Django one.
        if name.startswith("_force"):
            setattr(self.django_handler, name, value)
        else:
            super().__setattr__(name, value)

    def _django(self, environ, start_response):
        self._reached["response"] = self.django_handler(environ)
        return []

    def __call__(self, environ):
        self._reached.clear()
        started: dict = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = status, headers

        body = b"".join(self._app(environ, start_response))
        if "response" in self._reached:
            response = self._reached.pop("response")
            response.answered_by_layer = False
            return response
        response = HttpResponse(body, status=int(started["status"].split()[0]))
        for name, value in started["headers"]:
            response[name] = value
        response.answered_by_layer = True
        response.wsgi_request = WSGIRequest(environ)  # what the test client reads of every response
        return response


class LayeredAPIClient(APIClient):
    """APIClient through the WSGI layers; requests carry a Host header, as real ones do."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("HTTP_HOST", "testserver")
        super().__init__(*args, **kwargs)
        self.handler = _Layered(self.handler)
