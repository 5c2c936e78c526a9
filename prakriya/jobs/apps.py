from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "prakriya.jobs"
    label = "jobs"
