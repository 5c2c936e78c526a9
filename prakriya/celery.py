import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")

app = Celery("prakriya")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
