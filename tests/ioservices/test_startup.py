"""Production refuses to start without a usable FIELD_ENCRYPTION_KEYS (every command)."""

from cryptography.fernet import Fernet

from tests.test_settings import run_check

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-for-the-check-only-" + "x9Qz" * 10,
    "FISCAL_CODE_HMAC_KEY": "hmac-key-for-the-check-only-" + "p4Lm" * 8,
}


def test_missing_encryption_key_stops_production():
    result = run_check({**PRODUCTION, "FIELD_ENCRYPTION_KEYS": ""})
    assert result.returncode != 0
    assert "ImproperlyConfigured: FIELD_ENCRYPTION_KEYS is not set" in result.stderr


def test_malformed_encryption_key_stops_production_without_echoing_it():
    secret_looking = "not-a-fernet-key-but-still-secret-0123456789"
    good = Fernet.generate_key().decode()
    result = run_check({**PRODUCTION, "FIELD_ENCRYPTION_KEYS": f"{good},{secret_looking}"})
    assert result.returncode != 0
    assert "key number 2 is not a valid Fernet key" in result.stderr
    assert secret_looking not in result.stderr + result.stdout
    assert good not in result.stderr + result.stdout


def test_valid_encryption_keys_start():
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    result = run_check({**PRODUCTION, "FIELD_ENCRYPTION_KEYS": keys})
    assert result.returncode == 0, result.stderr


def test_development_gets_a_fixed_key_when_unset():
    result = run_check({"DEBUG": "true", "FIELD_ENCRYPTION_KEYS": ""})
    assert result.returncode == 0, result.stderr
