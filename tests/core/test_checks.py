"""`manage.py check --deploy` refuses weak or malformed data-protection keys, with the reason
and without echoing them."""

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from ioportal.core.checks import DEVELOPMENT_FIELD_KEY, DEVELOPMENT_HMAC_KEY

GOOD_HMAC = "k" * 20 + "Zq3-_x" * 5 + "w" * 20
GOOD_FERNET = Fernet.generate_key().decode()


def deploy_errors(ids: tuple[str, ...] = ("core.E001", "core.E002")) -> list:
    return [e for e in run_checks(include_deployment_checks=True) if e.id in ids]


def test_good_keys_pass(settings) -> None:
    settings.FISCAL_CODE_HMAC_KEY = GOOD_HMAC
    settings.FIELD_ENCRYPTION_KEYS = [GOOD_FERNET, Fernet.generate_key().decode()]
    assert deploy_errors() == []


def test_the_checks_run_only_for_deployment(settings) -> None:
    settings.FISCAL_CODE_HMAC_KEY = "corta"
    settings.FIELD_ENCRYPTION_KEYS = [GOOD_FERNET]
    assert [e for e in run_checks() if e.id == "core.E001"] == []
    assert [e.id for e in deploy_errors()] == ["core.E001"]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("corta-ma-non-abbastanza", "23 characters long; at least 32"),
        ("x" * 20 + " " + "y" * 20, "spaces or line breaks"),
        (DEVELOPMENT_HMAC_KEY, "development key"),
    ],
)
def test_weak_fiscal_code_hmac_key_is_refused_with_the_reason(settings, key, reason) -> None:
    settings.FISCAL_CODE_HMAC_KEY = key
    settings.FIELD_ENCRYPTION_KEYS = [GOOD_FERNET]
    (error,) = deploy_errors()
    assert error.id == "core.E001"
    assert reason in error.msg
    assert key not in error.msg and key not in (error.hint or "")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (GOOD_FERNET[:30], "30 characters long; a Fernet key has 44"),
        ("!" * 44, "not URL-safe base64"),
        ("QUJD" * 10 + "QQ==", "decodes to 31 bytes"),
        (DEVELOPMENT_FIELD_KEY, "development key"),
    ],
)
def test_malformed_field_encryption_key_is_refused_with_the_reason(settings, key, reason) -> None:
    settings.FISCAL_CODE_HMAC_KEY = GOOD_HMAC
    settings.FIELD_ENCRYPTION_KEYS = [GOOD_FERNET, key]
    (error,) = deploy_errors()
    assert error.id == "core.E002"
    assert "key number 2" in error.msg
    assert reason in error.msg
    assert key not in error.msg


def test_check_deploy_command_fails_on_a_weak_key(settings) -> None:
    settings.FISCAL_CODE_HMAC_KEY = "corta"
    settings.FIELD_ENCRYPTION_KEYS = [GOOD_FERNET]
    with pytest.raises(SystemCheckError, match="FISCAL_CODE_HMAC_KEY is not acceptable"):
        call_command("check", "--deploy", "--tag", "security")
