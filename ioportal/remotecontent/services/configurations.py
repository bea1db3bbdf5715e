"""Remote-content configurations: the address and key IO uses to fetch a Premium
message's content and attachments from the portal.
"""

import hashlib
import hmac
import re
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from ioportal.accounts.models import Organization
from ioportal.core.services import audit_log
from ioportal.remotecontent.audit import Action
from ioportal.remotecontent.models import RemoteContentConfiguration

# An HTTP token without underscores: a header with "_" would be dropped by proxies.
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}[A-Za-z0-9]$")
# Headers IO or HTTP already use: an API key there would clash.
RESERVED_HEADER_NAMES = frozenset(
    {
        "host",
        "authorization",
        "cookie",
        "content-type",
        "content-length",
        "fiscal-code",
        "signature",
        "signature-input",
        "content-digest",
        "user-agent",
        "expect",
        "max-forwards",
        # Hop-by-hop (RFC 9110 7.6.1): a proxy removes or rewrites them.
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        # Set or appended by proxies and load balancers on the way in: a key there could be
        # rewritten, or a client's own value taken for the key.
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "x-cluster-client-ip",
        "x-original-forwarded-for",
        "x-request-id",
        "x-correlation-id",
        "x-amzn-trace-id",
        "traceparent",
        "tracestate",
    }
)
# Families of such headers: IO's own, the proxies' (X-Forwarded-For/-Host/-Proto/...,
# Proxy-Authorization...), the content's description, the browsers' and Cloudflare's.
RESERVED_HEADER_PREFIXES = ("x-pagopa-", "x-forwarded-", "proxy-", "content-", "sec-", "cf-")


def header_name_reserved(name: str) -> bool:
    """Whether `name` (any case) is a header HTTP, a proxy or IO sets: refused as a key's."""
    lowered = name.lower()
    return lowered in RESERVED_HEADER_NAMES or lowered.startswith(RESERVED_HEADER_PREFIXES)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(configuration: RemoteContentConfiguration, presented: str | None) -> bool:
    """Constant-time comparison of a presented key with the stored digest."""
    if not presented:
        return False
    return hmac.compare_digest(key_digest(presented), configuration.key_sha256)


def validate_header_name(value: str) -> str:
    name = value.strip()
    if not HEADER_NAME_RE.match(name):
        raise ValidationError(
            _(
                "Il nome dell'intestazione può contenere solo lettere, cifre e trattini "
                "(niente trattini bassi, che i proxy scartano), da 2 a 64 caratteri."
            ),
            code="header_name",
        )
    if header_name_reserved(name):
        raise ValidationError(
            _(
                "Questo nome di intestazione è già usato da HTTP, dai proxy o da IO (che "
                "potrebbero toglierlo o riscriverlo): scegline un altro, ad esempio "
                "X-Ioportal-Key."
            ),
            code="header_name_reserved",
        )
    return name


def _new_key() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def rc_configuration_create(
    *,
    organization: Organization,
    configuration_id: str,
    name: str,
    header_name: str,
    actor: Any,
    request: HttpRequest | None = None,
) -> tuple[RemoteContentConfiguration, str]:
    """Register a configuration and generate its key.

    Returns (configuration, key): the key in clear exists only in this return value, for
    the page that shows it once. Raises ValidationError for a bad header name or an id
    already registered (by any organization). Writes an audit event.
    """
    header_name = validate_header_name(header_name)
    if RemoteContentConfiguration.objects.filter(configuration_id=configuration_id).exists():
        raise ValidationError(
            {"configuration_id": _("Questa configurazione è già registrata nel portale.")}
        )
    key = _new_key()
    configuration = RemoteContentConfiguration.objects.create(
        organization=organization,
        configuration_id=configuration_id,
        name=name,
        header_name=header_name,
        key_sha256=key_digest(key),
        key_last4=key[-4:],
        key_changed_at=timezone.now(),
    )
    audit_log(
        action=Action.RC_CONFIGURATION_CREATED,
        actor=actor,
        organization=organization,
        target=configuration,
        changes={"configuration_id": configuration_id, "header_name": header_name},
        request=request,
    )
    return configuration, key


@transaction.atomic
def rc_configuration_regenerate_key(
    *, configuration: RemoteContentConfiguration, actor: Any, request: HttpRequest | None = None
) -> str:
    """Replace the key (the old one stops working at once) and return the new one, in clear
    for this response only. Writes an audit event."""
    key = _new_key()
    configuration.key_sha256 = key_digest(key)
    configuration.key_last4 = key[-4:]
    configuration.key_changed_at = timezone.now()
    configuration.save(update_fields=["key_sha256", "key_last4", "key_changed_at"])
    audit_log(
        action=Action.RC_CONFIGURATION_KEY_REGENERATED,
        actor=actor,
        organization=configuration.organization,
        target=configuration,
        request=request,
    )
    return key
