from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ioportal.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from ioportal.accounts import signals  # noqa: F401  (audit and session receivers)
