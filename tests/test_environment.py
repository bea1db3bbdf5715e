"""Environment variables are read strictly: a malformed or out-of-range value refuses the
start with a message naming the variable (ioportal/environment.py, ioportal/settings.py)."""

import runpy
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from ioportal.environment import Environment
from tests.processes import ROOT
from tests.test_settings import run_check


def env(**variables: str) -> Environment:
    return Environment(variables)


def test_unset_and_empty_mean_the_default() -> None:
    reader = env(EMPTY="  ")
    assert reader.get_int("MISSING", 7) == 7
    assert reader.get_int("EMPTY", 7) == 7
    assert reader.get_bool("EMPTY", True) is True
    assert reader.get_choice("EMPTY", "auto", ["auto", "db"]) == "auto"
    assert reader.get_int_list("EMPTY", [30, 60]) == [30, 60]
    assert reader.get_list("EMPTY", ["a"]) == ["a"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("Yes", True), ("ON", True), ("1", True)]
    + [("false", False), ("no", False), ("Off", False), ("0", False)],
)
def test_booleans(value: str, expected: bool) -> None:
    assert env(DEBUG=value).get_bool("DEBUG", not expected) is expected


@pytest.mark.parametrize("value", ["ture", "si", "2", "enabled"])
def test_an_unknown_boolean_word_is_refused(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"DEBUG must be true or false.*'{value}'"):
        env(DEBUG=value).get_bool("DEBUG", False)


def test_whole_numbers_and_their_range() -> None:
    assert env(N=" 12 ").get_int("N", 1, minimum=1, maximum=20) == 12
    with pytest.raises(ImproperlyConfigured, match="N must be a whole number at least 1; got 0"):
        env(N="0").get_int("N", 1, minimum=1)
    with pytest.raises(ImproperlyConfigured, match="at most 65535; got 70000"):
        env(N="70000").get_int("N", 25, minimum=1, maximum=65535)
    with pytest.raises(ImproperlyConfigured, match="N must be a whole number.*'2.5'"):
        env(N="2.5").get_int("N", 1)
    with pytest.raises(ImproperlyConfigured, match="'dieci'"):
        env(N="dieci").get_int("N", 1)


def test_decimal_numbers_and_their_range() -> None:
    assert env(R="0.5").get_float("R", 0.96, above=0, maximum=1) == 0.5
    assert env(R="1").get_float("R", 0.96, above=0, maximum=1) == 1.0
    with pytest.raises(ImproperlyConfigured, match="R must be a number greater than 0"):
        env(R="0").get_float("R", 0.96, above=0, maximum=1)
    with pytest.raises(ImproperlyConfigured, match="at most 1; got 96"):
        env(R="96").get_float("R", 0.96, above=0, maximum=1)
    for value in ("0,5", "nan", "inf", "mezzo"):
        with pytest.raises(ImproperlyConfigured, match=f"R must be a number.*'{value}'"):
            env(R=value).get_float("R", 0.96)


def test_choices_ignore_case_and_refuse_anything_else() -> None:
    assert env(L="DB").get_choice("L", "auto", ["auto", "db"]) == "db"
    with pytest.raises(ImproperlyConfigured, match="L must be one of auto, db; got 'redis'"):
        env(L="redis").get_choice("L", "auto", ["auto", "db"])


def test_lists_of_whole_numbers() -> None:
    assert env(P="1, 2,3,").get_int_list("P", [30]) == [1, 2, 3]
    for value in ("1,due", "0,5", ","):
        with pytest.raises(ImproperlyConfigured, match=f"P must be a comma-separated.*'{value}'"):
            env(P=value).get_int_list("P", [30], minimum=1)


# The settings module itself, run afresh with the given variables (development mode).


def load_settings(monkeypatch: pytest.MonkeyPatch, **variables: str) -> dict[str, Any]:
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("REDIS_URL", "")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "ioportal" / "settings.py"))


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SENDING_LIMITER": "redis"}, "SENDING_LIMITER=redis needs REDIS_URL"),
        ({"SENDING_LIMITER": "memory"}, "SENDING_LIMITER must be one of auto, db, redis"),
        ({"SENDING_SUBMIT_5XX_POLICY": "retry"}, "SENDING_SUBMIT_5XX_POLICY must be one of"),
        ({"SENDING_RATE_TARGET": "1.5"}, "SENDING_RATE_TARGET must be a number greater than 0"),
        ({"SENDING_WORKERS_PER_ACCOUNT": "0"}, "SENDING_WORKERS_PER_ACCOUNT must be a whole"),
        ({"SENDING_POLL_INTERVALS": "30;60"}, "SENDING_POLL_INTERVALS must be a comma-sep"),
        ({"SESSION_COOKIE_SECURE": "sure"}, "SESSION_COOKIE_SECURE must be true or false"),
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT must be a whole number"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of DEBUG, INFO"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must start with redis://"),
        ({"DATABASE_URL": "postgres//x:secret@db/portal"}, "DATABASE_URL must be a database URL"),
        (
            {"SESSION_IDLE_TIMEOUT": "7200", "SESSION_ABSOLUTE_TIMEOUT": "3600"},
            "SESSION_ABSOLUTE_TIMEOUT must be a whole number at least 7200",
        ),
    ],
)
def test_an_invalid_value_is_refused(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        load_settings(monkeypatch, **variables)
    assert message in str(refused.value)


def test_valid_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = load_settings(
        monkeypatch,
        DEBUG="yes",
        SENDING_LIMITER="DB",
        SENDING_RATE_TARGET="0.9",
        SENDING_POLL_INTERVALS="10,60",
        LOG_LEVEL="warning",
    )
    assert values["DEBUG"] is True
    assert values["SENDING_LIMITER"] == "db"
    assert values["SENDING_RATE_TARGET"] == 0.9
    assert values["SENDING_POLL_INTERVALS"] == [10, 60]
    assert values["LOGGING"]["root"]["level"] == "WARNING"


def test_redis_limiter_is_accepted_with_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    values = load_settings(
        monkeypatch, SENDING_LIMITER="redis", REDIS_URL="redis://127.0.0.1:6379/4"
    )
    assert values["SENDING_LIMITER"] == "redis"


def test_the_portal_refuses_to_start_with_an_invalid_value() -> None:
    """A real start: `manage.py check` exits with the message, before doing anything."""
    result = run_check({"DEBUG": "true", "REDIS_URL": "", "SENDING_LIMITER": "redis"})
    assert result.returncode != 0
    assert "ImproperlyConfigured: SENDING_LIMITER=redis needs REDIS_URL" in result.stderr


def test_a_variable_that_is_now_a_constant_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="Q_TIMEOUT, SENDING_BATCH_SIZE: no longer read"):
        load_settings(monkeypatch, SENDING_BATCH_SIZE="20", Q_TIMEOUT="300")


def test_the_suite_runs_on_its_own_settings(settings: Any) -> None:
    """tests/settings.py: the fast hasher, and the caller's operator variables emptied."""
    import os

    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert os.environ["SENDING_MAX_ATTEMPTS"] == ""
    assert os.environ["SENDING_BATCH_SIZE"] == ""
    assert settings.SENDING_MAX_ATTEMPTS == 8
