"""The WSGI application gunicorn and `manage.py serve` run: Django, wrapped in the layers
settings.PRAKRIYA_WSGI_LAYERS names (outermost last). Named by dotted path so that prakriya/
imports no app."""

import os
from collections.abc import Callable

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")


def wrapped(app: Callable) -> Callable:
    for dotted in settings.PRAKRIYA_WSGI_LAYERS:
        app = import_string(dotted)(app)
    return app


application = wrapped(get_wsgi_application())
