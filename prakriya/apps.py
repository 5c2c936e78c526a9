from django.apps import AppConfig


class PrakriyaConfig(AppConfig):
    name = "prakriya"
    verbose_name = "Prakriya platform"
