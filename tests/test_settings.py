"""Production settings: refuse to start without a key, pass Django's deployment checks."""

import os
import subprocess
import sys

from tests.processes import ROOT


def run_check(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # The portal's own settings, not the test suite's; the last one is set by browser tests.
    dropped = ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_secret_key_refuses_to_start():
    result = run_check({"DEBUG": "false", "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" in result.stderr or "ImproperlyConfigured" in result.stderr


def test_deploy_checks_pass_with_documented_production_values():
    result = run_check(
        {
            "DEBUG": "false",
            "SECRET_KEY": "k3y-for-the-deploy-check-only-" + "x9Qz" * 10,
            "ALLOWED_HOSTS": "ioportal.example.it",
            "FIELD_ENCRYPTION_KEYS": "q8sOAPvO8rpkxJEFbs1zDxZR_3t8LTAzb5L6WYr9H0c=",
            "FISCAL_CODE_HMAC_KEY": "hmac-key-for-the-deploy-check-only-" + "p4Lm" * 8,
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_fiscal_code_hmac_key_refuses_to_start():
    result = run_check(
        {
            "DEBUG": "false",
            "SECRET_KEY": "k3y-for-the-deploy-check-only-" + "x9Qz" * 10,
            "FIELD_ENCRYPTION_KEYS": "q8sOAPvO8rpkxJEFbs1zDxZR_3t8LTAzb5L6WYr9H0c=",
            "FISCAL_CODE_HMAC_KEY": "",
        }
    )
    assert result.returncode != 0
    assert "FISCAL_CODE_HMAC_KEY is not set" in result.stderr
