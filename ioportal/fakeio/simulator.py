"""The simulator's state and IO's operations, without HTTP.

Every method that touches shared state takes `self.lock`; the HTTP layer (server.py) calls
them from one thread per connection. Message status is computed from timestamps when read,
so there is no background thread and a test with a tiny delay sees the change at once.

Checks run in the order IO's middlewares and handlers run them (IO-API.md §2.1-§2.4), so a
request with two problems gets the same error as from IO.
"""

import hashlib
import ipaddress
import json
import math
import os
import random
import re
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import formatdate
from typing import Any

from ioportal.fakeio import citizens, remote_content
from ioportal.fakeio.config import (
    Config,
    ConfigError,
    Faults,
    RemoteContentEndpoint,
    Service,
    key_hint,
    parse_faults,
    parse_rc_endpoint,
)
from ioportal.fakeio.validation import (
    FISCAL_CODE_TYPE,
    check_fiscal_code_param,
    check_fiscal_code_payload,
    check_new_message,
)

JSON_TYPE = "application/json; charset=utf-8"
PROBLEM_TYPE = "application/problem+json; charset=utf-8"
NOT_ALLOWED_DETAIL = "You do not have enough permission to complete the operation you requested"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Reply:
    status: int
    body: Any = None
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    # Set when a submission stored a message, so faults "after storing" know there was one.
    stored: bool = False


def problem(status: int, title: str, detail: str) -> Reply:
    """IO's ProblemJson as ts-commons sends it: no `type`, raw detail."""
    return Reply(status, {"detail": detail, "status": status, "title": title}, PROBLEM_TYPE)


def not_allowed(detail: str = NOT_ALLOWED_DETAIL) -> Reply:
    return problem(403, "You are not allowed here", detail)


def recipient_forbidden() -> Reply:
    return problem(
        403, "Recipient forbidden", "You are not allowed to issue requests for the recipient."
    )


def new_ulid(now: float) -> str:
    value = (int(now * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * shift)) & 31] for shift in reversed(range(26)))


def iso_timestamp(moment: float) -> str:
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def content_hash(body: dict[str, Any]) -> str:
    """Hash of what was asked to be delivered: the body without the recipient."""
    payload = {key: value for key, value in body.items() if key != "fiscal_code"}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class StoredMessage:
    id: str
    fiscal_code: str
    service_id: str
    account: str
    created_at: float
    feature_level_type: str
    time_to_live: int
    content: dict[str, Any]
    content_hash: str
    final_status: str  # PROCESSED or REJECTED
    rejection_reason: str | None
    final_at: float
    read_at: float | None  # None: never read
    read_denied: bool
    paid_at: float | None  # None: no payment, or never paid
    opened: int = 0  # successful "citizen opens the message" actions

    def status(self, now: float) -> str:
        return self.final_status if now >= self.final_at else "ACCEPTED"


class Simulator:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.services_by_key: dict[str, Service] = {}
        for service in config.services():
            self.services_by_key[service.primary_key] = service
            self.services_by_key[service.secondary_key] = service
        self.accounts = {account.name: account for account in config.accounts}
        self.configuration_owner = {
            configuration_id: account.name
            for account in config.accounts
            for configuration_id in account.rc_configurations
        }
        self.rc_endpoints: dict[str, RemoteContentEndpoint] = {
            endpoint.configuration_id: endpoint
            for account in config.accounts
            for endpoint in account.rc_endpoints
        }
        self.rng = random.Random(config.seed)
        self.messages: dict[str, StoredMessage] = {}
        self.ledger: dict[tuple[str, str, str], list[str]] = {}
        self.calls: Counter[tuple[str, str]] = Counter()
        self.fault_counts: Counter[str] = Counter()
        self.rate_limited = 0
        self.windows: defaultdict[str, deque[float]] = defaultdict(deque)
        self.faults = config.faults

    def reset(self) -> None:
        """Forget messages, counters and rate windows; faults go back to the startup values."""
        with self.lock:
            self.messages.clear()
            self.ledger.clear()
            self.calls.clear()
            self.fault_counts.clear()
            self.rate_limited = 0
            self.windows.clear()
            self.faults = self.config.faults

    # --- gateway (APIM) -------------------------------------------------------------------

    def service_for_key(self, key: str | None) -> Service | None:
        return self.services_by_key.get(key) if key else None

    def take_call(self, account_name: str) -> tuple[bool, int | None, int]:
        """Count one call against the account's sliding window, as APIM's rate-limit-by-key.

        Returns (allowed, remaining calls or None when unlimited, retry-after seconds).
        Rejected calls are not counted, so a client that waits the retry-after gets through.
        """
        limit = self.accounts[account_name].rate_limit
        if not limit:
            return True, None, 0
        now = time.monotonic()
        window_length = self.config.rate_window
        with self.lock:
            window = self.windows[account_name]
            while window and window[0] <= now - window_length:
                window.popleft()
            if len(window) >= limit:
                self.rate_limited += 1
                retry_after = max(1, math.ceil(window[0] + window_length - now))
                return False, 0, retry_after
            window.append(now)
            return True, limit - len(window), 0

    def count(self, operation: str, outcome: str) -> None:
        with self.lock:
            self.calls[(operation, outcome)] += 1

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self.fault_counts[kind] += 1

    def chance(self, share: float) -> bool:
        return share > 0 and self.rng.random() < share

    def set_faults(self, data: Any) -> Faults:
        """Merge `data` into the current faults (raises ConfigError on bad values)."""
        with self.lock:
            self.faults = parse_faults(data, self.faults)
            return self.faults

    # --- IO operations --------------------------------------------------------------------

    @staticmethod
    def ip_allowed(service: Service, client_ip: str) -> bool:
        if not service.authorized_cidrs:
            return True
        address = ipaddress.ip_address(client_ip)
        return any(
            address in ipaddress.ip_network(cidr, strict=False) for cidr in service.authorized_cidrs
        )

    def get_profile(self, service: Service, fiscal_code: str, client_ip: str) -> Reply:
        """getProfile / getProfileByPOST once the fiscal code is decoded."""
        if not self.ip_allowed(service, client_ip):
            return not_allowed()
        # Test mode answers 403 before looking the citizen up, so it never reveals whether
        # someone outside the authorised recipients uses IO.
        if service.test_mode and fiscal_code not in service.authorized_recipients:
            return recipient_forbidden()
        behaviour = citizens.citizen_behaviour(
            fiscal_code, self.config.citizens, self.config.slow_share
        )
        if not behaviour.on_io:
            return problem(
                404, "Profile not found", "The profile you requested was not found in the system."
            )
        return Reply(
            200, {"sender_allowed": behaviour.sender_allowed, "preferred_languages": ["it_IT"]}
        )

    def get_profile_by_post(self, service: Service, body: Any, client_ip: str) -> Reply:
        report = check_fiscal_code_payload(body)
        if report:
            return problem(400, "Invalid FiscalCodePayload", report)
        return self.get_profile(service, body["fiscal_code"], client_ip)

    def get_profile_by_path(self, service: Service, fiscal_code: str, client_ip: str) -> Reply:
        report = check_fiscal_code_param(fiscal_code)
        if report:
            return problem(400, f"Invalid {FISCAL_CODE_TYPE}", report)
        return self.get_profile(service, fiscal_code, client_ip)

    def submit_message(
        self, service: Service, body: Any, path_fiscal_code: str | None, client_ip: str
    ) -> Reply:
        """submitMessageforUser(WithFiscalCodeInBody): checks in IO's order, then store."""
        report = check_new_message(body)
        if report:
            return problem(400, "Invalid message structure", report)
        if path_fiscal_code is not None:
            report = check_fiscal_code_param(path_fiscal_code)
            if report:
                return problem(400, f"Invalid {FISCAL_CODE_TYPE}", report)
        content = body["content"]
        level = body.get("feature_level_type", "STANDARD")
        payment = content.get("payment_data")
        third_party = content.get("third_party_data")
        # Payload checks against the account's groups (AzureAllowBodyPayloadMiddleware).
        if "eu_covid_cert" in content:
            return not_allowed("You do not have enough permissions to send an EUCovidCert message")
        if payment is not None and "payee" in payment and not service.payee_allowed:
            return not_allowed(
                "You do not have enough permissions to send a payment message with payee"
            )
        if level == "ADVANCED" and not service.premium:
            return not_allowed("You do not have enough permissions to send a Premium message")
        if third_party is not None and level == "STANDARD" and not service.premium:
            return not_allowed("You do not have enough permissions to send a third party message")
        if not self.ip_allowed(service, client_ip):
            return not_allowed()
        body_fiscal_code = body.get("fiscal_code")
        if path_fiscal_code is not None and body_fiscal_code is not None:
            return problem(
                400,
                "Bad parameters",
                "The fiscalcode parameter must be specified in the path or in the payload but "
                "not in both",
            )
        fiscal_code = path_fiscal_code or body_fiscal_code
        if fiscal_code is None:
            return problem(
                400,
                "Bad parameters",
                "The fiscalcode parameter must be specified in the path or in the payload",
            )
        if third_party is not None:
            configuration_id = third_party.get("configuration_id")
            if not configuration_id:
                return problem(
                    403,
                    "No configuration id for remote content",
                    "You did not send any configuration id for your remote content in "
                    "third_party_data",
                )
            owner = self.configuration_owner.get(configuration_id)
            if owner is None:
                return problem(
                    404,
                    "Remote Content Configuration NOT FOUND",
                    "Cannot find any Remote Content Configuration with the given id",
                )
            if owner != service.account:
                return problem(
                    403,
                    "Not your configuration",
                    "You're not the owner of the configuration related to the given "
                    "configuration_id",
                )
            if level != "ADVANCED" and third_party.get("has_attachments") is True:
                # IO's own typo ("attachmens") is kept: clients may match on the text.
                return problem(
                    403,
                    "Attachments call forbidden",
                    "You are not allowed to send messages with attachmens with STANDARD "
                    "messages, please use ADVANCED",
                )
        if service.test_mode and fiscal_code not in service.authorized_recipients:
            return recipient_forbidden()
        amount = payment.get("amount") if payment is not None else None
        if amount and amount > service.max_allowed_payment_amount:
            return problem(
                400,
                "Error while sending payment metadata",
                f"The requested amount ({amount} cents) exceeds the maximum allowed for this "
                f"service ({service.max_allowed_payment_amount} cents)",
            )
        message = self._store(service, fiscal_code, body)
        return Reply(
            201,
            {"id": message.id},
            headers={"Location": f"/api/v1/messages/{fiscal_code}/{message.id}"},
            stored=True,
        )

    def _store(self, service: Service, fiscal_code: str, body: dict[str, Any]) -> StoredMessage:
        now = time.time()
        config = self.config
        behaviour = citizens.citizen_behaviour(fiscal_code, config.citizens, config.slow_share)
        final_at = now + (config.slow_status_delay if behaviour.slow else config.status_delay)
        if not behaviour.on_io:
            final_status, reason = "REJECTED", "USER_NOT_FOUND"
        elif not behaviour.sender_allowed:
            final_status, reason = "REJECTED", "SERVICE_NOT_ALLOWED"
        else:
            final_status, reason = "PROCESSED", None
        content = json.loads(json.dumps(body["content"]))
        payment = content.get("payment_data")
        paid_at = None
        if payment is not None:
            # IO fills the payee with the sender's organization when storing the content.
            payment.setdefault(
                "payee", {"fiscal_code": self.accounts[service.account].organization_fiscal_code}
            )
            if citizens.notice_is_paid(payment["notice_number"]):
                paid_at = final_at + config.read_delay
        message = StoredMessage(
            id=new_ulid(now),
            fiscal_code=fiscal_code,
            service_id=service.service_id,
            account=service.account,
            created_at=now,
            feature_level_type=body.get("feature_level_type", "STANDARD"),
            time_to_live=body.get("time_to_live", 3600),
            content=content,
            content_hash=content_hash(body),
            final_status=final_status,
            rejection_reason=reason,
            final_at=final_at,
            read_at=None if behaviour.reading == "never" else final_at + config.read_delay,
            read_denied=behaviour.reading == "denied",
            paid_at=paid_at,
        )
        with self.lock:
            self.messages[message.id] = message
            key = (service.service_id, fiscal_code, message.content_hash)
            self.ledger.setdefault(key, []).append(message.id)
        return message

    def get_message(
        self, service: Service, fiscal_code: str, message_id: str, client_ip: str
    ) -> Reply:
        report = check_fiscal_code_param(fiscal_code)
        if report:
            return problem(400, f"Invalid {FISCAL_CODE_TYPE}", report)
        if not self.ip_allowed(service, client_ip):
            return not_allowed()
        with self.lock:
            message = self.messages.get(message_id)
        if message is None or message.fiscal_code != fiscal_code:
            return problem(
                404,
                "Message not found",
                "The message that you requested was not found in the system.",
            )
        if message.service_id != service.service_id:
            return not_allowed(
                "You are not allowed to read this message, you can only read messages that you "
                "have sent"
            )
        return Reply(200, self.message_response(message, service.premium, time.time()))

    @staticmethod
    def message_response(message: StoredMessage, can_read_advanced: bool, now: float) -> dict:
        status = message.status(now)
        public: dict[str, Any] = {
            "id": message.id,
            "fiscal_code": message.fiscal_code,
            "created_at": iso_timestamp(message.created_at),
            "sender_service_id": message.service_id,
            "time_to_live": message.time_to_live,
            "feature_level_type": message.feature_level_type,
        }
        # IO writes the content blob only when the message reaches the inbox.
        if status == "PROCESSED":
            public["content"] = message.content
        response: dict[str, Any] = {"message": public, "status": status}
        if status == "PROCESSED" and message.feature_level_type == "ADVANCED" and can_read_advanced:
            if message.read_denied:
                response["read_status"] = "UNAVAILABLE"
            elif message.read_at is not None and now >= message.read_at:
                response["read_status"] = "READ"
            else:
                response["read_status"] = "UNREAD"
            if "payment_data" in message.content:
                paid = message.paid_at is not None and now >= message.paid_at
                response["payment_status"] = "PAID" if paid else "NOT_PAID"
        return response

    def get_subscriptions_feed(self, service: Service, day: str, client_ip: str) -> Reply:
        if not service.feed_access:
            return not_allowed()
        parsed = None
        if SHORT_DATE_RE.match(day):
            try:
                parsed = date.fromisoformat(day)
            except ValueError:
                parsed = None
        if parsed is None:
            return problem(
                400,
                "Invalid ShortDateString",
                f'value ["{day}"] at [root] is not a valid [ShortDateString]',
            )
        if not self.ip_allowed(service, client_ip):
            return not_allowed()
        available_since = datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC).timestamp()
        available_since += 24 * 3600
        if time.time() < available_since:
            return problem(
                404,
                "Data not available yet",
                f"Subscription data for {day} will be available from "
                f"{formatdate(available_since, usegmt=True)}",
            )
        subscribed, unsubscribed = citizens.feed_fiscal_codes(
            day, service.service_id, self.config.feed_size
        )
        return Reply(
            200,
            {
                "dateUTC": day,
                "subscriptions": [citizens.fiscal_code_hash(code) for code in subscribed],
                "unsubscriptions": [citizens.fiscal_code_hash(code) for code in unsubscribed],
            },
        )

    # --- inspection -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self.lock:
            calls: dict[str, dict[str, int]] = {}
            for (operation, outcome), number in sorted(self.calls.items()):
                calls.setdefault(operation, {})[outcome] = number
            return {
                "calls": calls,
                "rate_limited": self.rate_limited,
                "faults": dict(self.fault_counts),
                "messages": len(self.messages),
                "duplicates": sum(1 for ids in self.ledger.values() if len(ids) > 1),
            }

    def ledger_entries(self, duplicates_only: bool) -> list[dict[str, Any]]:
        with self.lock:
            items = list(self.ledger.items())
        return [
            {
                "service_id": service_id,
                "fiscal_code": fiscal_code,
                "content_hash": digest,
                "count": len(ids),
                "message_ids": ids,
            }
            for (service_id, fiscal_code, digest), ids in items
            if len(ids) > 1 or not duplicates_only
        ]

    def message_entries(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        now = time.time()
        with self.lock:
            messages = list(self.messages.values())
        entries = []
        for message in messages:
            if filters.get("service_id", message.service_id) != message.service_id:
                continue
            if filters.get("fiscal_code", message.fiscal_code) != message.fiscal_code:
                continue
            entry = self.message_response(message, True, now)
            rejected = entry["status"] == "REJECTED"
            entry.update(
                account=message.account,
                content_hash=message.content_hash,
                # Kept by IO internally but not returned by its Get Message.
                rejection_reason=message.rejection_reason if rejected else None,
                final_at=iso_timestamp(message.final_at),
                content=message.content,
                opened=message.opened,
            )
            entries.append(entry)
        return entries

    # --- the citizen's app (remote content) -------------------------------------------------
    def set_rc_endpoint(self, configuration_id: str, data: Any) -> RemoteContentEndpoint:
        """Point a configured remote-content configuration at a server (raises ConfigError)."""
        if configuration_id not in self.configuration_owner:
            raise ConfigError(f"unknown rc configuration {configuration_id}")
        if isinstance(data, dict):
            data = {**data, "configuration_id": configuration_id}
        endpoint = parse_rc_endpoint(data, "rc_configuration")
        with self.lock:
            self.rc_endpoints[configuration_id] = endpoint
        return endpoint

    def open_message(self, message_id: str, options: Any) -> Reply:
        """The citizen opens a message in the app: for a Premium message with
        `third_party_data`, fetch the details and attachments from the sender's server.

        `options` may override `fiscal_code` and `key` to play a wrong caller.
        """
        options = options if isinstance(options, dict) else {}
        with self.lock:
            message = self.messages.get(message_id)
        if message is None:
            return Reply(404, {"error": f"no message {message_id}"})
        now = time.time()
        if message.status(now) != "PROCESSED":
            return Reply(409, {"error": "the message is not in the citizen's inbox yet"})
        third_party = message.content.get("third_party_data")
        if message.feature_level_type != "ADVANCED" or not isinstance(third_party, dict):
            return Reply(409, {"error": "not an ADVANCED message with third_party_data"})
        configuration_id = third_party.get("configuration_id", "")
        with self.lock:
            endpoint = self.rc_endpoints.get(configuration_id)
        if endpoint is None:
            return Reply(409, {"error": f"no server configured for {configuration_id}"})
        result = remote_content.open_message(
            endpoint=endpoint,
            message_id=str(third_party.get("id", "")),
            fiscal_code=str(options.get("fiscal_code") or message.fiscal_code),
            has_attachments=third_party.get("has_attachments") is True,
            key=options.get("key"),
        )
        if result.get("status") == 200 and not result.get("error"):
            with self.lock:
                # Opening the message is what makes IO report it as READ.
                if message.read_at is None or message.read_at > now:
                    message.read_at = now
                message.opened = message.opened + 1
        result["message_id"] = message_id
        return Reply(200, result)

    def config_summary(self) -> dict[str, Any]:
        return {
            "accounts": [
                {
                    "name": account.name,
                    "rate_limit": account.rate_limit,
                    "organization_fiscal_code": account.organization_fiscal_code,
                    "rc_configurations": sorted(account.rc_configurations),
                    "services": [
                        {
                            "service_id": service.service_id,
                            "name": service.name,
                            # Never the keys themselves: their last 4 characters.
                            "primary_key_hint": key_hint(service.primary_key),
                            "secondary_key_hint": key_hint(service.secondary_key),
                            "test_mode": service.test_mode,
                            "authorized_recipients": sorted(service.authorized_recipients),
                            "premium": service.premium,
                            "max_allowed_payment_amount": service.max_allowed_payment_amount,
                            "feed_access": service.feed_access,
                            "payee_allowed": service.payee_allowed,
                            "authorized_cidrs": list(service.authorized_cidrs),
                        }
                        for service in account.services
                    ],
                }
                for account in self.config.accounts
            ],
            "status_delay": self.config.status_delay,
            "slow_status_delay": self.config.slow_status_delay,
            "slow_share": self.config.slow_share,
            "read_delay": self.config.read_delay,
            "rate_window": self.config.rate_window,
        }
