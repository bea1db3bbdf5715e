"""Contract tests: what the client sends and accepts, checked against IO's official specs.

Specs (Swagger 2.0, verbatim copies, see io-spec/README.md):
- io-functions-services.index.yaml: the bundled public API (profiles, feed, messages);
- io-messages.services-func.index.yaml: the app that serves /api/v1/messages in production;
- io-functions-commons.definitions_v2.yaml: the definitions IO's runtime validators are
  generated from (definitions at the top level, referenced as `#/Name`).

Request bodies are validated strictly: custom formats checked, `x-extensible-enum` values
enforced, and no property the newest spec does not declare. Answers are validated leniently
(IO may add enum values). A `$ref` to another file (relative like `definitions_v2.yaml#/X` or
a GitHub URL of io-functions-commons) is mapped onto the local copy.
"""

import copy
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
import yaml
from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

from ioportal.ioapi import OPERATIONS, IOClient, build_message_payload, build_profile_payload
from ioportal.ioapi.client import DEFAULT_BASE_URL

from . import samples as s

SERVICES = "io-functions-services.index.yaml"
MESSAGES = "io-messages.services-func.index.yaml"
COMMONS = "io-functions-commons.definitions_v2.yaml"
# Basename used in `$ref`s (relative or URL) -> local file name.
LOCAL_COPIES = {
    "definitions_v2.yaml": COMMONS,
    "commons-schemas.yaml": "io-services-cms.commons-schemas.yaml",
    "services-cms-schemas.yaml": "io-services-cms.services-cms-schemas.yaml",
}
# Formats the client must honour; any other format reachable from a checked schema fails the
# test, so a new format in a future spec cannot be silently ignored.
UNCHECKED_FORMATS = {"uri", "email", "int32"}

FISCAL_CODE = re.compile(
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)
# io-ts-commons UTCISODateFromString accepts these shapes.
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})?$")

format_checker = FormatChecker()


@format_checker.checks("FiscalCode")
def _fiscal_code(value: object) -> bool:
    return not isinstance(value, str) or bool(FISCAL_CODE.match(value))


@format_checker.checks("OrganizationFiscalCode")
def _organization_fiscal_code(value: object) -> bool:
    return not isinstance(value, str) or bool(re.fullmatch(r"[0-9]{11}", value))


@format_checker.checks("Ulid")
def _ulid(value: object) -> bool:
    return not isinstance(value, str) or bool(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", value))


@format_checker.checks("UTCISODateFromString")
def _timestamp(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not TIMESTAMP.match(value):
        return False
    datetime.fromisoformat(value)  # raises on impossible dates
    return True


CHECKED_FORMATS = {"FiscalCode", "OrganizationFiscalCode", "Ulid", "UTCISODateFromString"}


def _strict_extensible_enum(
    validator: Any, values: list[str], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and instance not in values:
        yield ValidationError(f"{instance!r} is not one of the known values {values}")


def _all_of_unless_x_one_of(
    validator: Any, subschemas: list[Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    # gen-api-models reads `x-one-of: true` as "one of the allOf members" (MessageStatusValue is
    # the union of REJECTED and the other statuses). Only meaningful with enums enforced.
    keyword = "oneOf" if schema.get("x-one-of") else "allOf"
    yield from Draft4Validator.VALIDATORS[keyword](validator, subschemas, instance, schema)


StrictValidator = validators.extend(
    Draft4Validator,
    {"x-extensible-enum": _strict_extensible_enum, "allOf": _all_of_unless_x_one_of},
)


class Specs:
    """The spec files as one `referencing` registry, plus helpers to find operations."""

    def __init__(self, spec_dir: Path) -> None:
        self.dir = spec_dir
        self.docs: dict[str, Any] = {}
        self.registry: Registry[Any] = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]
        for name in (SERVICES, MESSAGES, COMMONS):
            self.registry = self.registry.with_resource(self.uri(name), self._resource(name))

    def uri(self, name: str) -> str:
        return (self.dir / name).as_uri()

    def _resource(self, name: str) -> Resource[Any]:
        if name not in self.docs:
            self.docs[name] = yaml.safe_load((self.dir / name).read_text(encoding="utf-8"))
        return DRAFT4.create_resource(self.docs[name])

    def _retrieve(self, uri: str) -> Resource[Any]:
        basename = Path(urlsplit(uri).path).name
        local = LOCAL_COPIES.get(basename, basename)
        if not (self.dir / local).is_file():
            raise NoSuchResource(uri)
        return self._resource(local)

    def operation(self, name: str, operation_id: str) -> tuple[str, str, dict[str, Any]]:
        """(METHOD, full path, operation object) of `operation_id` in spec file `name`."""
        doc = self.docs[name]
        for path, item in doc["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                    full = (doc["basePath"].rstrip("/") + path).rstrip("/")
                    return method.upper(), full, operation
        raise LookupError(f"{operation_id} not in {name}")

    def body_ref(self, name: str, operation_id: str) -> str:
        _, _, operation = self.operation(name, operation_id)
        (body,) = [p for p in operation["parameters"] if p.get("in") == "body"]
        return self._absolute(name, body["schema"]["$ref"])

    def response_ref(self, name: str, operation_id: str, status: str) -> str:
        _, _, operation = self.operation(name, operation_id)
        schema = operation["responses"][status]["schema"]
        return self._absolute(name, schema["$ref"])

    def _absolute(self, name: str, ref: str) -> str:
        return self.uri(name) + ref if ref.startswith("#") else ref

    def validate(self, instance: Any, ref: str, *, strict: bool) -> None:
        cls = StrictValidator if strict else Draft4Validator
        validator = cls({"$ref": ref}, registry=self.registry, format_checker=format_checker)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )

    def walk(self, ref: str) -> Iterator[dict[str, Any]]:
        """Every schema reachable from `ref`, following each `$ref` (which must resolve)."""
        seen: set[int] = set()
        stack: list[tuple[Any, Any]] = [({"$ref": ref}, self.registry.resolver())]
        while stack:
            node, resolver = stack.pop()
            if isinstance(node, list):
                stack.extend((item, resolver) for item in node)
                continue
            if not isinstance(node, dict):
                continue
            if isinstance(node.get("$ref"), str):
                resolved = resolver.lookup(node["$ref"])
                if id(resolved.contents) not in seen:
                    seen.add(id(resolved.contents))
                    stack.append((resolved.contents, resolved.resolver))
            yield node
            stack.extend(
                (value, resolver)
                for field, value in node.items()
                if field not in ("example", "x-example", "x-examples", "default", "enum")
            )


def _merged_properties(schema: Any, resolver: Any) -> dict[str, list[tuple[Any, Any]]]:
    """Declared properties of an object schema, `$ref` and `allOf` followed."""
    properties: dict[str, list[tuple[Any, Any]]] = {}

    def collect(schema: Any, resolver: Any) -> None:
        if "$ref" in schema:
            resolved = resolver.lookup(schema["$ref"])
            collect(resolved.contents, resolved.resolver)
            return
        for part in schema.get("allOf", []):
            collect(part, resolver)
        for name, sub in schema.get("properties", {}).items():
            properties.setdefault(name, []).append((sub, resolver))

    collect(schema, resolver)
    return properties


def _undeclared(instance: Any, schema: Any, resolver: Any, path: str) -> list[str]:
    if not isinstance(instance, dict):
        return []
    properties = _merged_properties(schema, resolver)
    found: list[str] = []
    for key, value in instance.items():
        if key not in properties:
            found.append(path + key)
            continue
        for sub, sub_resolver in properties[key]:
            found += _undeclared(value, sub, sub_resolver, f"{path}{key}.")
    return found


def undeclared_properties(specs: Specs, instance: Any, ref: str) -> list[str]:
    """Paths of keys in `instance` that the schema at `ref` does not declare (recursively).
    Swagger schemas allow extra properties, so jsonschema alone would not catch them."""
    return _undeclared(instance, {"$ref": ref}, specs.registry.resolver(), "")


@pytest.fixture(scope="module")
def specs(io_spec_dir: Path) -> Specs:
    return Specs(io_spec_dir)


# -- operations --------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_operations_exist_in_public_spec(specs: Specs, operation: Any) -> None:
    method, path, op = specs.operation(SERVICES, operation.operation_id)
    assert method == operation.method
    assert path == urlsplit(DEFAULT_BASE_URL).path + operation.path
    assert op["security"] == [{"SubscriptionKey": []}]


def test_message_operations_match_the_messages_app(specs: Specs) -> None:
    for operation in OPERATIONS:
        if not operation.path.startswith("/messages"):
            continue
        method, path, _ = specs.operation(MESSAGES, operation.operation_id)
        assert (method, path) == (operation.method, "/api/v1" + operation.path)


def test_base_url_and_key_header_match_spec(specs: Specs) -> None:
    doc = specs.docs[SERVICES]
    assert f"https://{doc['host']}{doc['basePath']}" == DEFAULT_BASE_URL
    key = doc["securityDefinitions"]["SubscriptionKey"]
    assert (key["in"], key["name"]) == ("header", "Ocp-Apim-Subscription-Key")


# -- request bodies ----------------------------------------------------------------------------


def _new_message_refs(specs: Specs) -> list[str]:
    return [
        specs.body_ref(SERVICES, "submitMessageforUserWithFiscalCodeInBody"),
        specs.body_ref(MESSAGES, "submitMessageforUserWithFiscalCodeInBody"),
        specs.uri(COMMONS) + "#/NewMessage",
    ]


def test_every_ref_and_format_of_the_checked_schemas_is_handled(specs: Specs) -> None:
    roots = _new_message_refs(specs) + [
        specs.body_ref(SERVICES, "getProfileByPOST"),
        specs.response_ref(SERVICES, "getProfileByPOST", "200"),
        specs.response_ref(SERVICES, "getSubscriptionsFeedForDate", "200"),
        specs.response_ref(MESSAGES, "submitMessageforUserWithFiscalCodeInBody", "201"),
        specs.response_ref(MESSAGES, "getMessage", "200"),
        specs.response_ref(SERVICES, "getMessage", "200"),
    ]
    formats = {node["format"] for root in roots for node in specs.walk(root) if "format" in node}
    assert formats - CHECKED_FORMATS - UNCHECKED_FORMATS == set()
    assert formats >= CHECKED_FORMATS


def test_cross_file_refs_map_to_local_copies(specs: Specs) -> None:
    relative = specs.uri(SERVICES).rsplit("/", 1)[0] + "/definitions_v2.yaml#/NewMessage"
    github = (
        "https://raw.githubusercontent.com/pagopa/io-functions-commons/v29.0.0/openapi/"
        "definitions_v2.yaml#/NewMessage"
    )
    for ref in (relative, github):
        specs.validate(build_message_payload(s.new_message()), ref, strict=True)


def test_profile_body(specs: Specs) -> None:
    ref = specs.body_ref(SERVICES, "getProfileByPOST")
    payload = build_profile_payload(s.CF)
    specs.validate(payload, ref, strict=True)
    assert undeclared_properties(specs, payload, ref) == []


@pytest.mark.parametrize("variant", sorted(s.MESSAGE_VARIANTS))
def test_new_message_bodies(specs: Specs, variant: str) -> None:
    payload = build_message_payload(s.MESSAGE_VARIANTS[variant])
    for ref in _new_message_refs(specs):
        specs.validate(payload, ref, strict=True)
    # The io-messages spec dropped the retired fields: nothing beyond it may be sent.
    assert undeclared_properties(specs, payload, _new_message_refs(specs)[1]) == []


def test_the_validation_is_not_vacuous(specs: Specs) -> None:
    ref = _new_message_refs(specs)[0]
    good = build_message_payload(s.MESSAGE_VARIANTS["advanced_attachments"])
    for path, bad_value in [
        (("fiscal_code",), "rssmra85t10a562s"),
        (("feature_level_type",), "PREMIUM"),
        (("content", "subject"), "short"),
        (("content", "due_date"), "31/03/2026"),
        (("content", "payment_data", "notice_number"), "12345"),
        (("content", "payment_data", "payee", "fiscal_code"), "123"),
        (("content", "third_party_data", "configuration_id"), "not-a-ulid"),
    ]:
        bad = copy.deepcopy(good)
        target = bad
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = bad_value
        with pytest.raises(AssertionError):
            specs.validate(bad, ref, strict=True)
    bad = copy.deepcopy(good)
    bad["content"]["legal_data"] = {"sender_mail_from": "x"}
    assert undeclared_properties(specs, bad, _new_message_refs(specs)[1]) == ["content.legal_data"]


# -- answers the parsers accept ----------------------------------------------------------------


def _feed_schema_ref(specs: Specs) -> str:
    """The feed schema, with the spec bug on FiscalCodeHash (minLength/maxLength 16 next to a
    64-hex pattern, IO-API.md §8.3) removed from an in-memory copy."""
    doc = copy.deepcopy(specs.docs[SERVICES])
    hash_schema = doc["definitions"]["FiscalCodeHash"]
    assert (hash_schema["minLength"], hash_schema["maxLength"]) == (16, 16), "spec bug fixed?"
    del hash_schema["minLength"], hash_schema["maxLength"]
    uri = specs.uri(SERVICES) + "?feed-fix"
    specs.registry = specs.registry.with_resource(uri, DRAFT4.create_resource(doc))
    return uri + "#/definitions/SubscriptionsFeed"


def test_sample_answers_match_the_response_schemas(specs: Specs) -> None:
    cases: list[tuple[Any, list[str]]] = [
        (s.PROFILE_ALLOWED, [specs.response_ref(SERVICES, "getProfileByPOST", "200")]),
        (s.PROFILE_BLOCKED, [specs.response_ref(SERVICES, "getProfileByPOST", "200")]),
        (s.FEED, [_feed_schema_ref(specs)]),
        (
            s.CREATED,
            [
                specs.response_ref(SERVICES, "submitMessageforUserWithFiscalCodeInBody", "201"),
                specs.response_ref(MESSAGES, "submitMessageforUserWithFiscalCodeInBody", "201"),
            ],
        ),
    ]
    # The public specs make `content` optional; IO's shared definitions split the two cases.
    for message, commons_name in (
        (s.MESSAGE_ACCEPTED, "ExternalMessageResponseWithoutContent"),
        (s.MESSAGE_ADVANCED_PAID, "ExternalMessageResponseWithContent"),
    ):
        cases.append(
            (
                message,
                [
                    specs.response_ref(SERVICES, "getMessage", "200"),
                    specs.response_ref(MESSAGES, "getMessage", "200"),
                    specs.uri(COMMONS) + "#/" + commons_name,
                ],
            )
        )
    problems = [
        s.PROBLEM_INVALID_MESSAGE,
        s.PROBLEM_RECIPIENT_FORBIDDEN,
        s.PROBLEM_PROFILE_NOT_FOUND,
        s.PROBLEM_FEED_NOT_READY,
    ]
    for problem in problems:
        cases.append(
            (
                problem,
                [
                    specs.response_ref(MESSAGES, "submitMessageforUserWithFiscalCodeInBody", "400"),
                    specs.uri(COMMONS) + "#/ProblemJson",
                ],
            )
        )
    for instance, refs in cases:
        for ref in refs:
            specs.validate(instance, ref, strict=False)
        if instance in (s.MESSAGE_ACCEPTED, s.MESSAGE_ADVANCED_PAID):
            # Known values only in the samples: the strict check must pass as well.
            specs.validate(instance, refs[0], strict=True)


def test_sample_answers_are_accepted_by_the_client(specs: Specs) -> None:
    base = s.BASE_URL
    with (
        responses.RequestsMock() as rsps,
        IOClient(s.API_KEY, base_url=base, max_idle_seconds=None) as client,
    ):
        rsps.post(f"{base}/profiles", json=s.PROFILE_ALLOWED)
        rsps.post(f"{base}/profiles", json=s.PROFILE_BLOCKED)
        rsps.get(f"{base}/subscriptions-feed/2026-03-01", json=s.FEED)
        rsps.post(f"{base}/messages", status=201, json=s.CREATED)
        rsps.get(f"{base}/messages/{s.CF}/{s.MESSAGE_ID}", json=s.MESSAGE_ACCEPTED)
        rsps.get(f"{base}/messages/{s.CF}/{s.MESSAGE_ID}", json=s.MESSAGE_ADVANCED_PAID)
        assert client.get_profile(s.CF).sender_allowed is True
        assert client.get_profile(s.CF).sender_allowed is False
        assert client.get_subscriptions_feed(date(2026, 3, 1)).subscriptions
        assert client.submit_message(s.new_message()).id == s.MESSAGE_ID
        assert client.get_message(s.CF, s.MESSAGE_ID).status_raw == "ACCEPTED"
        assert client.get_message(s.CF, s.MESSAGE_ID).payment_status_raw == "PAID"
