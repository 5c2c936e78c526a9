"""A one-page URL configuration for the settings tests' subprocesses: the security headers come
from the middleware whatever the view, and importing every app's views would cost each of those
processes ten seconds."""

from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("accounts/login/", lambda request: HttpResponse("<!doctype html><title>Log in</title>"))]
