"""The search of one citizen by fiscal code, kept in the user's session under an opaque
reference so that no URL (search results, their exports) carries the code: the request line
and the Referer end up in the server's access log and in the browser's history.

The search form POSTs the code; the session keeps, under a random reference, the code's keyed
hash (`core.fiscalcode.fiscal_code_hmac`, enough to find its deliveries) and its masked form
(for the page and the audit), never the code in clear. The results page and the exports take
the reference; one of another session, or dropped since, is unknown (`recall` gives None).
"""

import secrets
from dataclasses import dataclass

from django.http import HttpRequest

from ioportal.core.fiscalcode import fiscal_code_hmac, mask_fiscal_code

SESSION_KEY = "citizen_searches"
# The searches a session keeps (the oldest is dropped first): enough for a few tabs.
KEPT = 10


@dataclass(frozen=True)
class CitizenSearch:
    """A search kept in the session: its reference (URL-safe, 16 characters), the code's
    keyed hash (64 hex characters) and its masked form."""

    reference: str
    fiscal_code_hmac: str
    fiscal_code_masked: str


def remember(request: HttpRequest, fiscal_code: str) -> CitizenSearch:
    """Keep the search of `fiscal_code` (normalised and valid: FiscalCodeSearchForm) in the
    session and return it with a new reference."""
    search = CitizenSearch(
        reference=secrets.token_urlsafe(12),
        fiscal_code_hmac=fiscal_code_hmac(fiscal_code),
        fiscal_code_masked=mask_fiscal_code(fiscal_code),
    )
    kept = dict(request.session.get(SESSION_KEY, {}))
    kept[search.reference] = [search.fiscal_code_hmac, search.fiscal_code_masked]
    while len(kept) > KEPT:
        kept.pop(next(iter(kept)))
    request.session[SESSION_KEY] = kept
    return search


def recall(request: HttpRequest, reference: str) -> CitizenSearch | None:
    """The search kept under `reference` in this session, or None."""
    stored = request.session.get(SESSION_KEY, {}).get(reference)
    if not isinstance(stored, list) or len(stored) != 2:
        return None
    return CitizenSearch(
        reference=reference, fiscal_code_hmac=stored[0], fiscal_code_masked=stored[1]
    )
