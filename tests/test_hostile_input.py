"""Every URL of the portal against hostile input: no request may produce a 5xx.

The URL patterns are walked from the root resolver, so a new page is covered without editing
this file. Path parameters get hostile values (NUL, over-long digits, a malformed id, `..`,
very long strings) and the ids of real objects of the user's organization and of another
one; query strings and forms get invalid dates, NUL bytes, 40-digit numbers, negative page
numbers and repeated keys. Each role signs in with its second factor verified. POSTs use
the test client's default, which skips the CSRF check, so that the view itself is reached.
Every answer to a signed-in user must also carry `Cache-Control: no-store`.

Forms found on a page are also posted back one field at a time with a hostile value, the
other fields keeping what the page proposed, so that validation is reached past the first
error and a value too large for its database column gets as far as the save.
"""

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import DataError, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core.fiscalcode import protect_fiscal_code
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ioservice_create
from ioportal.messaging.forms import MAX_PLACEHOLDERS
from ioportal.messaging.lists import (
    recipient_list_read,
    recipient_list_upload,
    recipient_list_validate,
)
from ioportal.messaging.models import (
    ApprovalPolicy,
    Delivery,
    Dispatch,
    FeatureLevel,
    MessageTemplate,
)
from ioportal.messaging.services import template_create
from ioportal.remotecontent import services as rc_services
from tests import builders
from tests.conftest import verified_login
from tests.remotecontent.conftest import make_pdf

LONG_DIGITS = "9" * 40
CONFIGURATION_ID = "01JA1PHA0C0NF1G00000000001"
OTHER_CONFIGURATION_ID = "01JBETA00C0NF1G00000000001"
HOSTILE_SEGMENTS = ["%00", LONG_DIGITS, "not-a-uuid", "..", "x" * 3000]
# A value a converter refuses never reaches a view: one is enough. Those it takes are kept.
HOSTILE_BY_CONVERTER = {
    "uuid": ["not-a-uuid"],
    "int": [LONG_DIGITS, "123456789"],  # beyond 64 bits; no such row
    # An id with something after it must not be taken for the id.
    "configuration_id": ["%00", CONFIGURATION_ID + "EXTRA"],
}
# Every query parameter a page reads, and then some.
QUERY_NAMES = [
    "page", "riga", "stato", "action", "actor", "date_from", "date_to", "modello", "next",
    "q", "mese", "anno", "service", "servizio", "cf", "codice_fiscale",
]  # fmt: skip
HOSTILE_QUERIES = [
    "&".join(f"{name}={value}" for name in QUERY_NAMES)
    for value in ("2026-02-30", LONG_DIGITS, "-1")
] + ["&".join(f"{name}=1&{name}={'x' * 2000}&{name}[]=3" for name in QUERY_NAMES)]
NUL_QUERY = "&".join(f"{name}=%00" for name in QUERY_NAMES)
# The hostile values of a field of a form found on a page, by its input type (Django renders
# dates as text inputs); a type not listed gets "text".
FIELD_VALUES = {
    "text": [LONG_DIGITS, "2026-02-30", "x" * 3000],
    "number": [LONG_DIGITS, "-1"],
    "hidden": [LONG_DIGITS, "-1", "x" * 3000],
    "date": [LONG_DIGITS, "2026-02-30"],
    "datetime-local": [LONG_DIGITS, "2026-02-30T25:61"],
    "select": [LONG_DIGITS],
    "checkbox": [LONG_DIGITS],
    "radio": [LONG_DIGITS],
}
# Django's own admin (for installation superusers) only gets the over-long number.
ADMIN_FIELD_VALUES = {"text": [LONG_DIGITS]}
HOSTILE_HEADERS = {
    "HTTP_ACCEPT_LANGUAGE": "x" * 500,
    "HTTP_X_FORWARDED_FOR": "not-an-address, " + "9" * 40,
    "HTTP_REFERER": "http://[broken",
}

CITIZEN = "RSSMRA85T10A562S"
CSV = b"Codice fiscale;Nome\nRSSMRA85T10A562S;Anna\nRSSMRA85T10A562A;Carla\n"


@dataclass
class Objects:
    """Ids of real objects of one organization, by the path parameter that takes them."""

    organization: Organization
    ids: dict[str, str] = field(default_factory=dict)
    rc_key: str = ""


def _build_objects(organization: Organization, author: User, number: int) -> Objects:
    objects = Objects(organization)
    configuration, objects.rc_key = rc_services.rc_configuration_create(
        organization=organization,
        configuration_id=(CONFIGURATION_ID, OTHER_CONFIGURATION_ID)[number - 1],
        name="Tributi",
        header_name="X-Ioportal-Key",
        actor=author,
    )
    service = ioservice_create(
        organization=organization,
        actor="test",
        service_id=f"01JD3M0SERV1CE00000000M{number:03d}",
        name=f"Tributi {number}",
        authorized_recipients=["AAAAAA00A00A000A"],
        primary_key=f"{number:02d}" + "3f1c0a9b7e4412d5a6b8c9d0e1f2a3",
        premium_enabled=True,
        remote_content_configuration_id=configuration.configuration_id,
    )
    template = template_create(
        organization=organization,
        actor=author,
        name="TARI",
        subject="Avviso TARI 2026",
        markdown="Gentile {{ nome }}, " + "ecco il suo avviso di pagamento della TARI 2026. " * 3,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
    )
    recipient_list = recipient_list_validate(
        recipient_list=recipient_list_upload(
            organization=organization,
            actor=author,
            template=template,
            service=service,
            file_name="tari.csv",
            table=recipient_list_read(file_name="tari.csv", data=CSV),
        ),
        mapping={"fiscal_code": "Codice fiscale", "nome": "Nome"},
    )
    dispatch = Dispatch.objects.create(
        organization=organization,
        service=service,
        title="TARI 2026",
        subject="Avviso TARI 2026",
        markdown="Gentile cittadino, " + "ecco il suo avviso. " * 5,
        feature_level=FeatureLevel.ADVANCED,
        state=Dispatch.State.AWAITING_APPROVAL,
        created_by=author,
    )
    delivery = Delivery.objects.create(
        dispatch=dispatch, row_number=1, **protect_fiscal_code(CITIZEN)
    )
    attachment = rc_services.attachment_create(
        data=make_pdf(pdfa=True), original_name="avviso.pdf", delivery=delivery
    )
    bystander = User.objects.create_user(username=f"collega{number}", password="x" * 20)
    membership = Membership.objects.create(
        user=bystander, organization=organization, role=Membership.Role.OPERATOR
    )
    objects.ids = {
        "organization": str(organization.public_id),
        "member": str(membership.user.public_id),
        "service": str(service.public_id),
        "template": str(template.public_id),
        "list": str(recipient_list.public_id),
        "dispatch": str(dispatch.public_id),
        "rc": str(configuration.public_id),
        "configuration_id": configuration.configuration_id,
        "message_id": str(delivery.public_id),
        "delivery": str(delivery.public_id),
        "attachment_url": str(attachment.public_id),
        "uidb64": urlsafe_base64_encode(force_bytes(author.pk)),
        "token": default_token_generator.make_token(author),
    }
    return objects


# --- the URL patterns --------------------------------------------------------------------

PLACEHOLDER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


@dataclass
class Route:
    name: str  # namespace:name, or the route itself when unnamed
    template: str  # "/invii/<uuid:public_id>/", placeholders as in path()

    @property
    def parameters(self) -> dict[str, str]:
        """{parameter: its converter}."""
        return {m["name"]: m["converter"] or "str" for m in PLACEHOLDER.finditer(self.template)}


def _routes() -> list[Route]:
    def walk(resolver: URLResolver, prefix: str, namespace: str) -> Iterator[Route]:
        for entry in resolver.url_patterns:
            piece = _as_template(entry.pattern)
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry, prefix + piece, inner)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}{entry.name}" if entry.name else prefix + piece
                yield Route(name, "/" + prefix + piece)

    return list(walk(get_resolver(), "", ""))


def _as_template(pattern: Any) -> str:
    text = str(pattern)
    if text.startswith("^") or text.endswith("$"):  # a regular expression (the admin's)
        text = REGEX_GROUP.sub(lambda m: f"<{m['name']}>", text).lstrip("^").rstrip("$")
    return text


def _valid_value(route: Route, parameter: str, objects: Objects) -> str:
    """The id of a real object of `objects`' organization for `parameter` of `route`."""
    if parameter in objects.ids:
        return objects.ids[parameter]
    app, _, view = route.name.partition(":")
    if parameter == "public_id":
        if app == "accounts":
            return objects.ids["member" if view.startswith("member") else "organization"]
        if app == "ioservices":
            return objects.ids["service"]
        if app == "remotecontent":
            return objects.ids["rc"]
        if app == "sending" and view.startswith("delivery"):
            return objects.ids["delivery"]
        if app == "sending" or view.startswith("dispatch"):
            return objects.ids["dispatch"]
        if view.startswith("template"):
            return objects.ids["template"]
        if view.startswith("list"):
            return objects.ids["list"]
    if parameter == "app_label":
        return "auth"
    # Admin object ids, content types, catch-all remainders.
    return "1"


def _fill(route: Route, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m["name"]], route.template)


def _urls(route: Route, own: Objects, other: Objects) -> Iterator[tuple[str, str]]:
    """(url, kind) for the route: kind "own" with real ids of the user's organization,
    "other" with those of another organization, "hostile" with each hostile value in each
    parameter."""
    parameters = route.parameters
    if not parameters:
        yield route.template, "own"
        return
    valid = {p: quote(_valid_value(route, p, own)) for p in parameters}
    yield _fill(route, valid), "own"
    yield _fill(route, {p: quote(_valid_value(route, p, other)) for p in parameters}), "other"
    for parameter, converter in parameters.items():
        for hostile in HOSTILE_BY_CONVERTER.get(converter, HOSTILE_SEGMENTS):
            yield _fill(route, {**valid, parameter: hostile}), "hostile"


# --- forms found on pages ----------------------------------------------------------------


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]]
    types: dict[str, str] = field(default_factory=dict)  # field name: input type


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                self.forms.append(Form(a.get("action", ""), []))
            else:
                self.forms.append(Form("\0get", []))
        elif not self.forms or not a.get("name"):
            return
        elif tag == "input" and a.get("type") not in ("file", "submit", "button", "image"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1].fields.append((a["name"], a.get("value", "")))
            self.forms[-1].types[a["name"]] = a.get("type", "text")
        elif tag == "select":
            self._select, self._select_value = a["name"], None
            self.forms[-1].types[a["name"]] = "select"
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self.forms:
            self.forms[-1].fields.append((self._select, self._select_value or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self.forms:
            self.forms[-1].fields.append((self._textarea, self._text))
            self._textarea = None

    def feed_option(self, attrs: dict[str, str]) -> None:
        if self._select is not None and (self._select_value is None or "selected" in attrs):
            self._select_value = attrs.get("value", "")


def _forms(html: str) -> list[Form]:
    parser = _FormParser()
    original = parser.handle_starttag

    def starttag(tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "option":
            parser.feed_option({k: v or "" for k, v in attrs})
        original(tag, attrs)

    parser.handle_starttag = starttag  # type: ignore[method-assign]
    parser.feed(html)
    return [form for form in parser.forms if form.action != "\0get" and form.fields]


def _shape(name: str) -> str:
    """The field of a formset row whatever the row: "ph-1-name" is "ph-#-name"."""
    return re.sub(r"-\d+-", "-#-", name)


def _variants(form: Form, values: dict[str, list[str]]) -> Iterator[list[tuple[str, str]]]:
    """The form with all fields NUL, then one field at a time hostile (of a formset, the
    fields of the first row), then every field repeated."""
    yield [(name, "\x00") for name, _value in form.fields]
    names = sorted({name for name, _value in form.fields if name != "csrfmiddlewaretoken"})
    first_of_shape: dict[str, str] = {}
    for name in names:
        first_of_shape.setdefault(_shape(name), name)
    for name in first_of_shape.values():
        kind = form.types.get(name, "text")
        for value in values.get(kind, values["text"]):
            yield [(n, value if n == name else v) for n, v in form.fields]
    yield form.fields + [(name, "x") for name in names]


# --- the test ----------------------------------------------------------------------------


@dataclass
class Attack:
    client: Client
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    seen_forms: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)

    def send(self, method: str, url: str, data: Any = None, **headers: Any) -> Any:
        self.requests += 1
        # A savepoint per request, so that a database error in one (reported below) leaves
        # the test's transaction usable for the next ones.
        with transaction.atomic():
            if method == "GET":
                response = self.client.get(url, **headers)
            else:
                response = self.client.post(
                    url, data, content_type="application/x-www-form-urlencoded", **headers
                )
        user = getattr(response.wsgi_request, "user", None)
        signed_in = user is not None and user.is_authenticated
        cache_control = response.get("Cache-Control", "")
        if signed_in and response.status_code < 300 and "no-store" not in cache_control:
            self.failures.append(f"{method} {url[:200]}: no Cache-Control: no-store")
        if response.status_code >= 500:
            self.failures.append(
                f"{method} {url[:200]} {str(data)[:200]} -> {response.status_code}"
            )
        return response

    def post_forms(self, url: str, response: Any) -> None:
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            return
        for form in _forms(response.content.decode()):
            target = form.action or url
            if target == reverse("accounts:logout"):
                continue  # on every page; requested as a route of its own
            # The same form on another page (a template's creation and its edition) once.
            key = (target.split("/")[1], tuple(sorted({_shape(n) for n, _v in form.fields})))
            if key in self.seen_forms:
                continue
            self.seen_forms.add(key)
            values = ADMIN_FIELD_VALUES if url.startswith("/admin/") else FIELD_VALUES
            for data in _variants(form, values):
                self.send("POST", target, urlencode(data))


ROLES = ["anonymous", "operator", "supervisor", "admin", "superuser"]


@pytest.mark.parametrize("role", ROLES)
def test_no_url_answers_5xx_to_hostile_input(
    role: str,
    organization: Organization,
    other_organization: Organization,
    settings: Any,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    author = builders.user(Membership.Role.ADMIN, organization)
    own = _build_objects(organization, author, 1)
    other = _build_objects(
        other_organization, builders.user(Membership.Role.ADMIN, other_organization), 2
    )
    user = None
    if role == "superuser":
        user = builders.user(superuser=True)
    elif role != "anonymous":
        user = builders.user(role, organization)
    client = Client(raise_request_exception=False)
    attack = Attack(client)
    # In this order: the capture handler takes the level of the last call.
    caplog.set_level(logging.ERROR, logger="django.request")  # not the thousands of 404s
    caplog.set_level(logging.WARNING, logger="ioportal.core.middleware")
    routes = _routes()
    assert len(routes) > 100  # the admin included
    rc_headers = {"HTTP_X_IOPORTAL_KEY": own.rc_key, "HTTP_FISCAL_CODE": CITIZEN}
    seen: set[str] = set()
    for route in routes:
        if user is not None:
            # Again for each route: a previous one may have signed out or begun an enrolment.
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            verified_login(client, user)
        in_admin = route.template.startswith("/admin/")
        if in_admin and role not in ("anonymous", "superuser") and route.name != "admin:index":
            continue  # like anonymous: the admin's sign-in page, whatever the path
        headers = rc_headers if route.name.startswith("remotecontent_io:") else {}
        for url, kind in _urls(route, own, other):
            if url in seen:
                continue
            seen.add(url)
            response = attack.send("GET", url, **headers)
            if in_admin and role != "superuser":
                continue  # the admin's sign-in page, whatever the method
            if kind != "hostile" or response.status_code == 405:  # 405: a POST-only view
                attack.send("POST", url, "a=1&b=" + LONG_DIGITS, **headers)
            if kind != "own":
                continue
            queries = HOSTILE_QUERIES[1:2] if in_admin else [NUL_QUERY, *HOSTILE_QUERIES]
            for query in queries:
                attack.send("GET", f"{url}?{query}", **HOSTILE_HEADERS, **headers)
            if role == "superuser" or (role == "admin" and not in_admin):
                attack.post_forms(url, response)
    assert attack.requests > 500
    assert not attack.failures, "\n".join(attack.failures)
    # The 400 behind the forms (core/middleware.py) is for Django's admin only: the portal's
    # own forms bound their values.
    refused = [r.getMessage() for r in caplog.records if "cannot hold" in r.getMessage()]
    assert not [m for m in refused if " /admin/" not in m], refused


def test_test_send_of_a_list_without_valid_rows_is_refused_with_a_message(
    organization: Organization, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    author = builders.user(Membership.Role.ADMIN, organization)
    own = _build_objects(organization, author, 1)
    recipient_list = recipient_list_validate(
        recipient_list=recipient_list_upload(
            organization=organization,
            actor=author,
            template=MessageTemplate.objects.get(public_id=own.ids["template"]),
            service=IOService.objects.get(public_id=own.ids["service"]),
            file_name="scarti.csv",
            table=recipient_list_read(
                file_name="scarti.csv",
                data=b"Codice fiscale;Nome\nRSSMRA85T10A562A;Carla\n",  # wrong check character
            ),
        ),
        mapping={"fiscal_code": "Codice fiscale", "nome": "Nome"},
    )
    assert recipient_list.valid_count == 0
    client = verified_login(Client(raise_request_exception=False), author)
    response = client.post(f"/messaggi/elenchi/{recipient_list.public_id}/prova/", follow=True)
    assert response.status_code == 200
    assert "non ha righe valide" in response.content.decode()
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.TEST).exists()


@pytest.mark.parametrize(
    "hostile",
    [
        {"path": "/invii/%00/"},
        {"path": "/registro/?actor=%00"},
        {"path": "/account/ente/cambia/", "method": "post", "data": {"organization": "\x00"}},
        {"path": "/", "cookie": "abc\x00defghijk"},  # PostgreSQL: 500 in the session lookup
        {"path": "/", "headers": {"HTTP_ACCEPT_LANGUAGE": "it\x00"}},
    ],
)
def test_a_nul_byte_anywhere_is_a_400_before_any_lookup(
    hostile: dict[str, Any],
    organization: Organization,
    django_assert_max_num_queries: Any,
) -> None:
    client = verified_login(
        Client(raise_request_exception=False), builders.user(Membership.Role.ADMIN, organization)
    )
    if "cookie" in hostile:
        client.cookies["sessionid"] = hostile["cookie"]
    method = getattr(client, hostile.get("method", "get"))
    with django_assert_max_num_queries(0):
        response = method(hostile["path"], hostile.get("data"), **hostile.get("headers", {}))
    assert response.status_code == 400
    assert "Richiesta non valida" in response.content.decode()


def test_invalid_audit_filters_are_shown_as_errors(organization: Organization) -> None:
    client = verified_login(Client(), builders.user(Membership.Role.SUPERVISOR, organization))
    response = client.get("/registro/?date_from=2026-02-30&action=nessuna&date_to=2026-03-01")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Dal: Inserisci una data esistente nel formato gg/mm/aaaa" in body
    assert "Azione: Scegli un&#x27;opzione valida" in body
    assert response.context["form"].filters() == {"date_to": date(2026, 3, 1)}


def test_approval_threshold_beyond_the_column_is_a_form_error(organization: Organization) -> None:
    client = verified_login(Client(), builders.user(Membership.Role.ADMIN, organization))
    response = client.post("/messaggi/approvazione/", {"threshold": LONG_DIGITS})
    assert response.status_code == 200
    assert "threshold" in response.context["form"].errors
    assert not ApprovalPolicy.objects.exists()


def test_placeholder_rows_are_bounded(organization: Organization) -> None:
    client = verified_login(Client(), builders.user(Membership.Role.ADMIN, organization))
    response = client.post(
        "/messaggi/modelli/nuovo/",
        {"name": "a", "ph-TOTAL_FORMS": LONG_DIGITS, "ph-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == MAX_PLACEHOLDERS


def test_integer_ids_beyond_64_bits_are_not_found(db: None) -> None:
    client = verified_login(Client(raise_request_exception=False), builders.user(superuser=True))
    response = client.get(f"/admin/otp_totp/totpdevice/{LONG_DIGITS}/config/")
    assert response.status_code == 404


def test_a_value_the_database_cannot_hold_is_a_400_and_logged(
    organization: Organization,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def overflow(**kwargs: Any) -> None:
        raise DataError("integer out of range")

    monkeypatch.setattr("ioportal.dashboard.views.audit_events_for_organization", overflow)
    client = verified_login(
        Client(raise_request_exception=False), builders.user(Membership.Role.ADMIN, organization)
    )
    response = client.get("/registro/")
    assert response.status_code == 400
    assert "Richiesta non valida" in response.content.decode()
    assert "cannot hold" in caplog.text
