"""Request body checks with IO's decoders' constraints and error report lines.

IO decodes bodies with io-ts codecs generated from `io-functions-commons` definitions and
reports failures as lines `value <json> at root.<path> is not a valid [<type>]`
(ts-commons `readableReportSimplified`). The constraints here are the spec's; the type names in
the lines imitate io-ts's but are not guaranteed to be identical to IO's (the titles are).
Unknown properties are accepted, as io-ts's non-exact types do.
"""

import json
import re
from datetime import datetime
from typing import Any

from ioportal.fakeio.config import FISCAL_CODE_RE, ORGANIZATION_FISCAL_CODE_RE, ULID_RE

FISCAL_CODE_TYPE = f'string that matches the pattern "{FISCAL_CODE_RE.pattern}"'
NOTICE_NUMBER_RE = re.compile(r"^[0123][0-9]{17}$")
# ts-commons IsoDateFromString: UTC ("Z" or none) or a ±HH:MM offset, any fraction digits.
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_MISSING = object()


def _render(value: Any) -> str:
    # JSON.stringify(undefined) is undefined, which is what IO prints for a missing field.
    if value is _MISSING:
        return "undefined"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Report:
    """Collects error lines in IO's format."""

    def __init__(self, simplified: bool = True) -> None:
        self.simplified = simplified
        self.lines: list[str] = []

    def add(self, value: Any, path: str, type_name: str) -> None:
        if self.simplified:
            self.lines.append(f"value {_render(value)} at root{path} is not a valid [{type_name}]")
        else:
            self.lines.append(
                f"value [{_render(value)}] at [root{path}] is not a valid [{type_name}]"
            )

    def text(self) -> str:
        return "\n".join(self.lines)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str) or not TIMESTAMP_RE.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _string_in_range(report: Report, data: dict, key: str, path: str, low: int, high: int) -> None:
    value = data.get(key, _MISSING)
    # IO's io-ts validators measure JavaScript string length: UTF-16 code units.
    if not isinstance(value, str) or not low <= len(value.encode("utf-16-le")) // 2 <= high:
        report.add(value, f"{path}.{key}", f"string of length >= {low} and < {high + 1}")


def _optional(report: Report, data: dict, key: str, path: str, check: Any, type_name: str) -> None:
    if key in data and not check(data[key]):
        report.add(data[key], f"{path}.{key}", type_name)


def _non_empty(value: Any) -> bool:
    return isinstance(value, str) and len(value) > 0


def _boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _check_payment_data(report: Report, data: Any, path: str) -> None:
    if not isinstance(data, dict):
        report.add(data, path, "PaymentData")
        return
    amount = data.get("amount", _MISSING)
    if not _is_int(amount) or not 1 <= amount <= 9_999_999_999:
        report.add(amount, f"{path}.amount", "integer >= 1 and <= 9999999999")
    notice = data.get("notice_number", _MISSING)
    if not isinstance(notice, str) or not NOTICE_NUMBER_RE.match(notice):
        report.add(
            notice,
            f"{path}.notice_number",
            f'string that matches the pattern "{NOTICE_NUMBER_RE.pattern}"',
        )
    _optional(report, data, "invalid_after_due_date", path, _boolean, "boolean")
    if "payee" in data:
        payee = data["payee"]
        code = payee.get("fiscal_code", _MISSING) if isinstance(payee, dict) else _MISSING
        if not isinstance(code, str) or not ORGANIZATION_FISCAL_CODE_RE.match(code):
            report.add(
                code,
                f"{path}.payee.fiscal_code",
                f'string that matches the pattern "{ORGANIZATION_FISCAL_CODE_RE.pattern}"',
            )


def _check_third_party_data(report: Report, data: Any, path: str) -> None:
    if not isinstance(data, dict):
        report.add(data, path, "ThirdPartyData")
        return
    if not _non_empty(data.get("id")):
        report.add(data.get("id", _MISSING), f"{path}.id", "non empty string")
    _optional(report, data, "original_sender", path, _non_empty, "non empty string")
    _optional(report, data, "original_receipt_date", path, _is_timestamp, "IsoDateFromString")
    _optional(report, data, "has_attachments", path, _boolean, "boolean")
    _optional(report, data, "has_remote_content", path, _boolean, "boolean")
    _optional(
        report,
        data,
        "has_precondition",
        path,
        lambda v: v in ("ALWAYS", "ONCE", "NEVER"),
        '"ALWAYS" | "ONCE" | "NEVER"',
    )
    _optional(report, data, "summary", path, _non_empty, "non empty string")
    _optional(
        report,
        data,
        "configuration_id",
        path,
        lambda v: isinstance(v, str) and ULID_RE.match(v) is not None,
        f'string that matches the pattern "{ULID_RE.pattern}"',
    )


def _check_content(report: Report, content: Any) -> None:
    path = ".content"
    if not isinstance(content, dict):
        report.add(content if content is not None else _MISSING, path, "MessageContent")
        return
    _string_in_range(report, content, "subject", path, 10, 120)
    _string_in_range(report, content, "markdown", path, 80, 10000)
    _optional(report, content, "require_secure_channels", path, _boolean, "boolean")
    _optional(report, content, "due_date", path, _is_timestamp, "IsoDateFromString")
    if "payment_data" in content:
        _check_payment_data(report, content["payment_data"], f"{path}.payment_data")
    if "third_party_data" in content:
        _check_third_party_data(report, content["third_party_data"], f"{path}.third_party_data")
    if "eu_covid_cert" in content:
        cert = content["eu_covid_cert"]
        if not isinstance(cert, dict) or not isinstance(cert.get("auth_code"), str):
            report.add(cert, f"{path}.eu_covid_cert", "EUCovidCert")


def check_new_message(body: Any) -> str:
    """Return IO's decode report for a NewMessage body, or "" when it is valid."""
    report = Report()
    if not isinstance(body, dict):
        report.add(_MISSING if body is None else body, "", "NewMessage")
        return report.text()
    _check_content(report, body.get("content"))
    if "time_to_live" in body:
        ttl = body["time_to_live"]
        if not _is_int(ttl) or not 3600 <= ttl <= 604800:
            report.add(ttl, ".time_to_live", "integer >= 3600 and <= 604800")
    if "fiscal_code" in body:
        code = body["fiscal_code"]
        if not isinstance(code, str) or not FISCAL_CODE_RE.match(code):
            report.add(code, ".fiscal_code", FISCAL_CODE_TYPE)
    _optional(
        report,
        body,
        "feature_level_type",
        "",
        lambda v: v in ("STANDARD", "ADVANCED"),
        '"STANDARD" | "ADVANCED"',
    )
    if "default_addresses" in body:
        addresses = body["default_addresses"]
        if not isinstance(addresses, dict):
            report.add(addresses, ".default_addresses", "NewMessageDefaultAddresses")
        else:
            _optional(
                report,
                addresses,
                "email",
                ".default_addresses",
                lambda v: isinstance(v, str) and EMAIL_RE.match(v) is not None,
                "EmailString",
            )
    return report.text()


def check_fiscal_code_payload(body: Any) -> str:
    """Return IO's report for a FiscalCodePayload body (POST /profiles), or ""."""
    report = Report(simplified=False)
    if not isinstance(body, dict):
        report.add(_MISSING if body is None else body, "", "FiscalCodePayload")
        return report.text()
    code = body.get("fiscal_code", _MISSING)
    if not isinstance(code, str) or not FISCAL_CODE_RE.match(code):
        report.add(code, ".fiscal_code", FISCAL_CODE_TYPE)
    return report.text()


def check_fiscal_code_param(value: str) -> str:
    """Report for a fiscal code in the path (RequiredParamMiddleware), or ""."""
    if FISCAL_CODE_RE.match(value):
        return ""
    report = Report(simplified=False)
    report.add(value, "", FISCAL_CODE_TYPE)
    return report.text()
