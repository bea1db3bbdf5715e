"""Background tasks of the accounts app. Thin: they call services."""

from ioportal.accounts.services import password_reset_send


def send_password_reset(email: str, domain: str, use_https: bool) -> int:
    """The password-reset mail, away from the request so its time reveals nothing."""
    return password_reset_send(email=email, domain=domain, use_https=use_https)
