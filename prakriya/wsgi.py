"""The WSGI application gunicorn runs: Django, wrapped in the layers settings.PRAKRIYA_WSGI_LAYERS
names (outermost last). Named by dotted path so that prakriya/ imports no app."""

import gc
import os
from collections.abc import Callable

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connections
from django.urls import get_resolver
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")


def wrapped(app: Callable) -> Callable:
    for dotted in settings.PRAKRIYA_WSGI_LAYERS:
        app = import_string(dotted)(app)
    return app


def _warm() -> None:
    # The URLconf imports every view, and with them torch and scikit-learn: seconds, which a
    # worker would otherwise spend on its first request. Under `gunicorn --preload` (compose,
    # `manage.py serve`) this runs once, before the workers fork, and they share those pages.
    get_resolver().url_patterns  # noqa: B018 - importing is the point
    # A forked worker must not inherit a database connection opened here.
    connections.close_all()
    # What is loaded now lives as long as the process: the garbage collector need not walk those
    # objects again (a full collection over them took milliseconds, the slowest predictions' share
    # of time), and a forked worker does not copy their pages by touching their GC headers.
    gc.freeze()


application = wrapped(get_wsgi_application())
_warm()
