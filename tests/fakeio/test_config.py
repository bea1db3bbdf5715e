"""Config file parsing, command-line overrides, the citizen rule and the feed."""

import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from stdnum.it import codicefiscale

from ioportal.fakeio import cli
from ioportal.fakeio.citizens import (
    citizen_behaviour,
    feed_fiscal_codes,
    fiscal_code_hash,
)
from ioportal.fakeio.config import (
    DEMO_CONFIG,
    SANDBOX_FISCAL_CODE,
    Citizen,
    ConfigError,
    key_hint,
    parse_config,
)
from tests.fakeio.support import (
    BASE_CONFIG,
    BASIC_KEY,
    BLOCKED,
    NEVER_READS,
    NOT_ON_IO,
    REACHABLE,
    READ_DENIED,
    SLOW,
    FakeIO,
)


def config_with(**changes: object) -> dict:
    data = copy.deepcopy(BASE_CONFIG)
    data.update(changes)
    return data


def test_demo_config_is_valid_and_adds_the_sandbox_recipient() -> None:
    config = parse_config(DEMO_CONFIG)

    assert len(config.services()) == 2
    assert all(SANDBOX_FISCAL_CODE in s.authorized_recipients for s in config.services())
    assert config.accounts[0].rate_limit == 150


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"speed": 1}, r"unknown key\(s\) speed"),
        ({"accounts": []}, "non-empty list"),
        ({"status_delay": -1}, "status_delay"),
        ({"faults": {"drop_rate": 1.5}}, "faults.drop_rate"),
        ({"faults": {"operations": ["nope"]}}, "unknown operation"),
        ({"citizens": {"RSSMRA80A01H501U": "famous"}}, "outcome"),
        ({"citizens": {"lowercase": "blocked"}}, "not a fiscal code"),
        (
            {
                "accounts": [
                    {
                        "name": "a",
                        "services": [
                            {
                                "service_id": "s",
                                "name": "n",
                                "primary_key": "k",
                                "secondary_key": "k2",
                                "authorized_cidrs": ["10.0.0.0/99"],
                            }
                        ],
                    }
                ]
            },
            "not an IP network",
        ),
    ],
)
def test_invalid_config_is_refused_with_the_place(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(config_with(**change))


def test_duplicate_keys_and_bad_recipients_are_refused() -> None:
    data = config_with()
    data["accounts"][1]["services"][0]["primary_key"] = BASIC_KEY
    with pytest.raises(ConfigError, match="used twice"):
        parse_config(data)

    data = config_with()
    data["accounts"][0]["services"][0]["authorized_recipients"] = ["RSSMRA80"]
    with pytest.raises(ConfigError, match=r"authorized_recipients\[0\]"):
        parse_config(data)


def test_yaml_and_json_files(tmp_path: Path) -> None:
    yaml_file = tmp_path / "fakeio.yaml"
    yaml_file.write_text(
        "accounts:\n"
        "  - name: comune\n"
        "    rate_limit: 250\n"
        "    services:\n"
        "      - {service_id: S1, name: Tributi, primary_key: k1, secondary_key: k2}\n"
        "status_delay: 1\n",
        encoding="utf-8",
    )
    json_file = tmp_path / "fakeio.json"
    json_file.write_text(json.dumps(BASE_CONFIG), encoding="utf-8")

    from_yaml = cli.build_config({"config": str(yaml_file)})
    from_json = cli.build_config({"config": str(json_file)})

    assert from_yaml.accounts[0].rate_limit == 250
    assert from_yaml.status_delay == 1.0
    assert len(from_json.services()) == 4


def test_command_line_overrides_the_file(tmp_path: Path) -> None:
    json_file = tmp_path / "fakeio.json"
    json_file.write_text(json.dumps(config_with(faults={"drop_rate": 0.5})), encoding="utf-8")

    config = cli.build_config(
        {
            "config": str(json_file),
            "rate_limit": 10_000,
            "status_delay": 0.0,
            "latency_ms": 20,
            "seed": 7,
        }
    )

    assert {a.rate_limit for a in config.accounts} == {10_000}
    assert config.status_delay == 0.0
    assert config.faults.latency_ms == 20
    assert config.faults.drop_rate == 0.5  # kept from the file
    assert config.seed == 7


def test_unreadable_config_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")

    with pytest.raises(ConfigError, match="invalid JSON"):
        cli.build_config({"config": str(broken)})
    with pytest.raises(ConfigError, match="cannot read"):
        cli.build_config({"config": str(tmp_path / "missing.json")})


def test_citizen_rule() -> None:
    def behaviour(code: str) -> tuple[bool, bool, bool, str]:
        b = citizen_behaviour(code, {}, 0.0)
        return b.on_io, b.sender_allowed, b.slow, b.reading

    assert behaviour(REACHABLE) == (True, True, False, "opens")
    assert behaviour(NOT_ON_IO) == (False, True, False, "opens")
    assert behaviour(BLOCKED) == (True, False, False, "opens")
    assert behaviour(SLOW) == (True, True, True, "opens")
    assert behaviour(NEVER_READS)[3] == "never"
    assert behaviour(READ_DENIED)[3] == "denied"
    assert citizen_behaviour(REACHABLE, {REACHABLE: Citizen("blocked")}, 0).sender_allowed is False


def test_slow_share_is_deterministic_and_roughly_proportional() -> None:
    codes, _ = feed_fiscal_codes("2026-01-01", "share", 400)

    slow = [c for c in codes if citizen_behaviour(c, {}, 0.25).slow]

    assert slow == [c for c in codes if citizen_behaviour(c, {}, 0.25).slow]
    assert 20 < len(slow) < 80


def test_feed_codes_are_valid_fiscal_codes() -> None:
    subscribed, unsubscribed = feed_fiscal_codes("2026-01-01", "SRV", 6)

    assert len(subscribed) == 3
    assert len(unsubscribed) == 3
    assert all(codicefiscale.is_valid(code) for code in subscribed + unsubscribed)


def test_subscriptions_feed(fakeio: FakeIO) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    response = fakeio.get(f"/subscriptions-feed/{yesterday}")

    subscribed, unsubscribed = feed_fiscal_codes(yesterday, "SRV-ALPHA-PROD", 4)
    assert response.status_code == 200
    assert response.json() == {
        "dateUTC": yesterday,
        "subscriptions": [fiscal_code_hash(c) for c in subscribed],
        "unsubscriptions": [fiscal_code_hash(c) for c in unsubscribed],
    }


def test_subscriptions_feed_errors(fakeio: FakeIO) -> None:
    today = datetime.now(UTC).date()

    not_yet = fakeio.get(f"/subscriptions-feed/{today.isoformat()}")
    invalid = fakeio.get("/subscriptions-feed/2026-02-30")
    no_access = fakeio.get(f"/subscriptions-feed/{date(2026, 1, 1).isoformat()}", key=BASIC_KEY)

    assert not_yet.status_code == 404
    assert not_yet.json()["title"] == "Data not available yet"
    assert not_yet.json()["detail"].startswith(f"Subscription data for {today} will be available")
    assert not_yet.json()["detail"].endswith("00:00:00 GMT")
    assert invalid.status_code == 400
    assert invalid.json()["title"] == "Invalid ShortDateString"
    assert no_access.status_code == 403
    assert no_access.json()["title"] == "You are not allowed here"


def test_the_start_up_banner_shows_only_the_last_4_characters_of_each_key() -> None:
    """The banner (printed by `make run` into the developer's terminal and logs) shows each
    key as the portal's service page does: "…" and its last 4 characters."""
    config = parse_config(copy.deepcopy(DEMO_CONFIG))
    banner = cli.describe(config, "http://127.0.0.1:8001")
    keys = [
        k for a in config.accounts for s in a.services for k in (s.primary_key, s.secondary_key)
    ]
    assert len(keys) == 4
    for key in keys:
        assert key not in banner
        assert f"…{key[-4:]}" in banner
    assert key_hint("k") == key_hint("abcd") == "…" and key_hint("abcde") == "…bcde"
