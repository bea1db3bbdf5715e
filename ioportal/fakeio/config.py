"""Configuration of the IO simulator: accounts, services, citizens, timings and faults.

The configuration comes from a JSON or YAML file (or the built-in demo when there is none);
command-line options override single values. Unknown keys are errors, so a typo in a test's
config fails loudly instead of silently running with defaults.
"""

import dataclasses
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# IO's sandbox recipient: always an authorised test recipient (IO-API.md §4).
SANDBOX_FISCAL_CODE = "AAAAAA00A00A000A"

# io-ts-commons `FiscalCode`, the only check IO makes on a citizen's fiscal code. Written here
# again on purpose, not imported from ioapi: the simulator stands for IO, so a mistake in the
# client's pattern must show up as a refusal in tests against it, not be mirrored.
FISCAL_CODE_RE = re.compile(
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
ORGANIZATION_FISCAL_CODE_RE = re.compile(r"^[0-9]{11}$")

# Operation ids as in IO's OpenAPI files; counters and fault filters use them.
OPERATIONS = (
    "getProfileByPOST",
    "getProfile",
    "getSubscriptionsFeedForDate",
    "submitMessageforUserWithFiscalCodeInBody",
    "submitMessageforUser",
    "getMessage",
)
SUBMIT_OPERATIONS = frozenset({"submitMessageforUserWithFiscalCodeInBody", "submitMessageforUser"})

CITIZEN_OUTCOMES = ("reachable", "not_on_io", "blocked", "slow")
CITIZEN_READING = ("opens", "never", "denied")


def key_hint(key: str) -> str:
    """A subscription key as shown (start-up banner, `GET /__fakeio__/config`): its last 4
    characters after "…", as the portal's service page shows a key; "…" alone for a key of
    4 characters or fewer, which its last 4 would give away whole."""
    return f"…{key[-4:]}" if len(key) > 4 else "…"


class ConfigError(ValueError):
    """The configuration file or an option is invalid; the message says where."""


@dataclass(frozen=True)
class Service:
    service_id: str
    name: str
    primary_key: str
    secondary_key: str
    account: str
    test_mode: bool = False
    authorized_recipients: frozenset[str] = frozenset()
    premium: bool = False
    max_allowed_payment_amount: int = 0
    feed_access: bool = False
    payee_allowed: bool = False
    authorized_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoteContentEndpoint:
    """Where IO fetches a configuration's remote content, and how it authenticates
    (the `prod_environment` of IO's remote-content configuration)."""

    configuration_id: str
    base_url: str
    header_key_name: str
    key: str


@dataclass(frozen=True)
class Account:
    name: str
    rate_limit: int = 150
    organization_fiscal_code: str = "00000000000"
    rc_configurations: frozenset[str] = frozenset()
    services: tuple[Service, ...] = ()
    # Only for configurations given as objects; plain ids have no server to call.
    rc_endpoints: tuple[RemoteContentEndpoint, ...] = ()


@dataclass(frozen=True)
class Citizen:
    """An explicit behaviour for one fiscal code, overriding the character rule."""

    outcome: str = "reachable"
    reading: str = "opens"


@dataclass(frozen=True)
class Faults:
    """Latency and faults; adjustable at runtime through `PUT /__fakeio__/faults`."""

    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    error_after_store_rate: float = 0.0
    drop_rate: float = 0.0
    lost_answer_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: int = 30_000
    throttle_rate: float = 0.0
    operations: tuple[str, ...] = ()

    def applies_to(self, operation: str) -> bool:
        return not self.operations or operation in self.operations


@dataclass(frozen=True)
class Config:
    accounts: tuple[Account, ...]
    citizens: Mapping[str, Citizen] = field(default_factory=dict)
    faults: Faults = Faults()
    status_delay: float = 3.0
    slow_status_delay: float = 60.0
    slow_share: float = 0.0
    read_delay: float = 30.0
    rate_window: float = 5.0
    idle_timeout: float = 60.0
    feed_size: int = 4
    seed: int | None = None

    def services(self) -> list[Service]:
        return [service for account in self.accounts for service in account.services]


# The configuration used when no file is given: one account with a production Premium
# service and a test-mode service, so `manage.py fakeio` is useful out of the box.
DEMO_CONFIG: dict[str, Any] = {
    "accounts": [
        {
            "name": "comune-demo",
            "rate_limit": 150,
            "organization_fiscal_code": "00000000001",
            "rc_configurations": ["01JFAKE10C0NF1G0000000000A"],
            "services": [
                {
                    "service_id": "01JFAKE10SERV1CE000000000P",
                    "name": "Tributi (demo)",
                    "primary_key": "f0000000000000000000000000000001",
                    "secondary_key": "f0000000000000000000000000000002",
                    "premium": True,
                    "max_allowed_payment_amount": 1_000_000,
                    "feed_access": True,
                },
                {
                    "service_id": "01JFAKE10SERV1CE000000000T",
                    "name": "Anagrafe (demo, test mode)",
                    "primary_key": "f0000000000000000000000000000003",
                    "secondary_key": "f0000000000000000000000000000004",
                    "test_mode": True,
                },
            ],
        }
    ]
}

_TOP_KEYS = {f.name for f in dataclasses.fields(Config)}
_ACCOUNT_KEYS = {f.name for f in dataclasses.fields(Account)} - {"rc_endpoints"}
_ENDPOINT_KEYS = {f.name for f in dataclasses.fields(RemoteContentEndpoint)}
_SERVICE_KEYS = {f.name for f in dataclasses.fields(Service)} - {"account"}
_FAULT_KEYS = {f.name for f in dataclasses.fields(Faults)}


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected an object")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string")
    return value


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false")
    return value


def _integer(value: Any, where: str, low: int, high: int | None = None) -> int:
    # bool is an int in Python; `true` as a rate limit is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer")
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{where}: {value} is out of range")
    return value


def _number(value: Any, where: str, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number")
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{where}: {value} is out of range")
    return float(value)


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list")
    return [_string(item, f"{where}[{index}]") for index, item in enumerate(value)]


def _fiscal_code(value: Any, where: str) -> str:
    code = _string(value, where)
    if not FISCAL_CODE_RE.match(code):
        raise ConfigError(f"{where}: {code!r} is not a fiscal code IO accepts")
    return code


def _cidr(value: str, where: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)  # a bare address counts as /32, as in IO
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not an IP network") from exc
    return value


def parse_service(data: Any, account: str, where: str) -> Service:
    data = _object(data, where)
    _check_keys(data, _SERVICE_KEYS, where)
    for key in ("service_id", "name", "primary_key", "secondary_key"):
        if key not in data:
            raise ConfigError(f"{where}: missing {key}")
    recipients = [
        _fiscal_code(code, f"{where}.authorized_recipients[{index}]")
        for index, code in enumerate(data.get("authorized_recipients", []))
    ]
    return Service(
        service_id=_string(data["service_id"], f"{where}.service_id"),
        name=_string(data["name"], f"{where}.name"),
        primary_key=_string(data["primary_key"], f"{where}.primary_key"),
        secondary_key=_string(data["secondary_key"], f"{where}.secondary_key"),
        account=account,
        test_mode=_boolean(data.get("test_mode", False), f"{where}.test_mode"),
        authorized_recipients=frozenset([*recipients, SANDBOX_FISCAL_CODE]),
        premium=_boolean(data.get("premium", False), f"{where}.premium"),
        max_allowed_payment_amount=_integer(
            data.get("max_allowed_payment_amount", 0),
            f"{where}.max_allowed_payment_amount",
            0,
            9_999_999_999,
        ),
        feed_access=_boolean(data.get("feed_access", False), f"{where}.feed_access"),
        payee_allowed=_boolean(data.get("payee_allowed", False), f"{where}.payee_allowed"),
        authorized_cidrs=tuple(
            _cidr(cidr, f"{where}.authorized_cidrs")
            for cidr in _string_list(data.get("authorized_cidrs", []), f"{where}.authorized_cidrs")
        ),
    )


def parse_rc_endpoint(data: Any, where: str) -> RemoteContentEndpoint:
    """A remote-content configuration with its server: {configuration_id, base_url,
    header_key_name, key}. Also used by `PUT /__fakeio__/rc-configurations/{id}`."""
    data = _object(data, where)
    _check_keys(data, _ENDPOINT_KEYS, where)
    for key in sorted(_ENDPOINT_KEYS):
        if key not in data:
            raise ConfigError(f"{where}: missing {key}")
    base_url = _string(data["base_url"], f"{where}.base_url")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.base_url: expected an http(s) URL")
    return RemoteContentEndpoint(
        configuration_id=_string(data["configuration_id"], f"{where}.configuration_id"),
        base_url=base_url.rstrip("/"),
        header_key_name=_string(data["header_key_name"], f"{where}.header_key_name"),
        key=_string(data["key"], f"{where}.key"),
    )


def parse_account(data: Any, where: str) -> Account:
    data = _object(data, where)
    _check_keys(data, _ACCOUNT_KEYS, where)
    name = _string(data.get("name"), f"{where}.name")
    organization_fiscal_code = _string(
        data.get("organization_fiscal_code", "00000000000"), f"{where}.organization_fiscal_code"
    )
    if not ORGANIZATION_FISCAL_CODE_RE.match(organization_fiscal_code):
        raise ConfigError(f"{where}.organization_fiscal_code: expected 11 digits")
    items = data.get("rc_configurations", [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}.rc_configurations: expected a list")
    configurations: list[str] = []
    endpoints: list[RemoteContentEndpoint] = []
    for index, item in enumerate(items):
        item_where = f"{where}.rc_configurations[{index}]"
        if isinstance(item, Mapping):
            endpoint = parse_rc_endpoint(item, item_where)
            endpoints.append(endpoint)
            configuration_id = endpoint.configuration_id
        else:
            configuration_id = _string(item, item_where)
        if not ULID_RE.match(configuration_id):
            raise ConfigError(f"{where}.rc_configurations: {configuration_id!r} is not a ULID")
        configurations.append(configuration_id)
    services = data.get("services", [])
    if not isinstance(services, list):
        raise ConfigError(f"{where}.services: expected a list")
    return Account(
        name=name,
        rate_limit=_integer(data.get("rate_limit", 150), f"{where}.rate_limit", 0),
        organization_fiscal_code=organization_fiscal_code,
        rc_configurations=frozenset(configurations),
        rc_endpoints=tuple(endpoints),
        services=tuple(
            parse_service(item, name, f"{where}.services[{index}]")
            for index, item in enumerate(services)
        ),
    )


def parse_faults(data: Any, base: Faults, where: str = "faults") -> Faults:
    """Return `base` with the values in `data` replaced; used by the file and by the PUT."""
    data = _object(data, where)
    _check_keys(data, _FAULT_KEYS, where)
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{where}.{key}"
        if key in ("latency_ms", "jitter_ms", "slow_ms"):
            changes[key] = _integer(value, name, 0)
        elif key == "error_status":
            changes[key] = _integer(value, name, 500, 599)
        elif key == "operations":
            operations = _string_list(value, name)
            unknown = sorted(set(operations) - set(OPERATIONS))
            if unknown:
                raise ConfigError(f"{name}: unknown operation(s) {', '.join(unknown)}")
            changes[key] = tuple(operations)
        else:
            changes[key] = _number(value, name, 0.0, 1.0)
    return dataclasses.replace(base, **changes)


def parse_citizen(value: Any, where: str) -> Citizen:
    if isinstance(value, str):
        value = {"outcome": value}
    value = _object(value, where)
    _check_keys(value, {"outcome", "reading"}, where)
    outcome = value.get("outcome", "reachable")
    reading = value.get("reading", "opens")
    if outcome not in CITIZEN_OUTCOMES:
        raise ConfigError(f"{where}.outcome: expected one of {', '.join(CITIZEN_OUTCOMES)}")
    if reading not in CITIZEN_READING:
        raise ConfigError(f"{where}.reading: expected one of {', '.join(CITIZEN_READING)}")
    return Citizen(outcome=outcome, reading=reading)


def parse_config(data: Any) -> Config:
    """Build a validated Config from the decoded file (a dict)."""
    data = _object(data, "config")
    _check_keys(data, _TOP_KEYS, "config")
    accounts_data = data.get("accounts")
    if not isinstance(accounts_data, list) or not accounts_data:
        raise ConfigError("config.accounts: expected a non-empty list")
    accounts = tuple(
        parse_account(item, f"accounts[{index}]") for index, item in enumerate(accounts_data)
    )
    _check_unique(accounts)
    citizens = {
        _fiscal_code(code, f"citizens.{code}"): parse_citizen(value, f"citizens.{code}")
        for code, value in _object(data.get("citizens", {}), "citizens").items()
    }
    seed = data.get("seed")
    return Config(
        accounts=accounts,
        citizens=citizens,
        faults=parse_faults(data.get("faults", {}), Faults()),
        status_delay=_number(data.get("status_delay", 3.0), "status_delay", 0.0),
        slow_status_delay=_number(data.get("slow_status_delay", 60.0), "slow_status_delay", 0.0),
        slow_share=_number(data.get("slow_share", 0.0), "slow_share", 0.0, 1.0),
        read_delay=_number(data.get("read_delay", 30.0), "read_delay", 0.0),
        rate_window=_number(data.get("rate_window", 5.0), "rate_window", 0.001),
        idle_timeout=_number(data.get("idle_timeout", 60.0), "idle_timeout", 0.1),
        feed_size=_integer(data.get("feed_size", 4), "feed_size", 0, 1000),
        seed=None if seed is None else _integer(seed, "seed", 0),
    )


def _check_unique(accounts: tuple[Account, ...]) -> None:
    """Keys identify the service (IO's subscription id), so they must be unique everywhere."""
    names: set[str] = set()
    service_ids: set[str] = set()
    keys: set[str] = set()
    owners: dict[str, str] = {}
    for account in accounts:
        if account.name in names:
            raise ConfigError(f"account name {account.name!r} is used twice")
        names.add(account.name)
        for configuration_id in account.rc_configurations:
            if configuration_id in owners:
                raise ConfigError(f"rc configuration {configuration_id} is in two accounts")
            owners[configuration_id] = account.name
        for service in account.services:
            if service.service_id in service_ids:
                raise ConfigError(f"service_id {service.service_id!r} is used twice")
            service_ids.add(service.service_id)
            for key in (service.primary_key, service.secondary_key):
                if key in keys:
                    raise ConfigError(f"key {key!r} is used twice")
                keys.add(key)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML file into a dict (YAML only if PyYAML is installed)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ConfigError("YAML config needs PyYAML; use a .json file instead") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be an object")
    return data
