from django.apps import AppConfig

from ioportal.accounts.audit import Action


class AccountsConfig(AppConfig):
    name = "ioportal.accounts"
    verbose_name = "Accounts"
    audit_actions = Action

    def ready(self) -> None:
        from ioportal.accounts import signals  # noqa: F401  (audit and session receivers)
