from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "prakriya.accounts"
    label = "accounts"
