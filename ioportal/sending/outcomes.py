"""Codes stored in Delivery.skip_reason / last_error_code, and what they mean in Italian.

Where an outcome is what an IO answer says, its text is the IO client's (ioapi.messages_it,
translated through gettext like every text of ioportal.core.io_texts): one sentence per
meaning."""

from collections.abc import Callable, Mapping, Sequence

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from ioportal.core.io_texts import Part, parts_text
from ioportal.ioapi import (
    AmbiguousError,
    KeyRejectedError,
    NotFoundError,
    PayloadInvalidError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from ioportal.ioapi import messages_it as io_texts
from ioportal.messaging.models import Delivery

# Not reachable: never counted as technical failures.
NOT_ON_IO = "not_on_io"
BLOCKED = "blocked"
NOT_AUTHORIZED = "not_authorized"  # service in test mode, recipient not authorised
MARKED_SENT = "marked_sent"  # an uncertain delivery a supervisor declared as sent

# Failures and uncertain outcomes.
RETRIES_EXHAUSTED = "retries_exhausted"
TOO_OLD = "too_old"
AMOUNT_OVER_MAX = "amount_over_max"
CONTENT_REFUSED = "content_refused"
INVALID_CONTENT = "invalid_content"
FORBIDDEN = "forbidden"
REFUSED = "refused"
CF_UNREADABLE = "cf_unreadable"
IO_FAILED = "io_failed"
AMBIGUOUS = "ambiguous"
SERVER_ERROR = "server_error"
LEASE_EXPIRED = "lease_expired"
TRANSIENT = "transient"
RATE_LIMITED = "rate_limited"
KEY_REJECTED = "key_rejected"
KEY_UNAVAILABLE = "key_unavailable"

# Failures that "retry only the failed ones" may retry: nothing reached IO for them, or IO
# was unavailable; content or permission problems would fail again.
TECHNICAL_FAILURES = (RETRIES_EXHAUSTED, TOO_OLD)

TEXTS = {
    NOT_ON_IO: _(io_texts.PROFILE_NOT_FOUND),
    BLOCKED: _("Il cittadino ha bloccato i messaggi di questo servizio."),
    NOT_AUTHORIZED: _(io_texts.RECIPIENT_FORBIDDEN),
    MARKED_SENT: _("Esito incerto: un supervisore lo ha segnato come inviato."),
    RETRIES_EXHAUSTED: _("IO non era raggiungibile: tentativi esauriti. Puoi riprovare."),
    TOO_OLD: _("IO non era raggiungibile per troppo tempo: invio interrotto. Puoi riprovare."),
    AMOUNT_OVER_MAX: _("L'importo supera il massimo consentito per questo servizio."),
    CONTENT_REFUSED: _("IO ha rifiutato il messaggio perché non valido."),
    INVALID_CONTENT: _("Il messaggio non rispetta i limiti di IO (oggetto, testo o importo)."),
    FORBIDDEN: _("IO non consente a questo servizio di inviare questo messaggio."),
    REFUSED: _("IO ha rifiutato la richiesta."),
    CF_UNREADABLE: _("Il codice fiscale non è leggibile (chiave di cifratura errata)."),
    IO_FAILED: _("IO non è riuscito a consegnare il messaggio."),
    AMBIGUOUS: _(io_texts.AMBIGUOUS),
    SERVER_ERROR: _(
        "IO ha risposto con un errore interno dopo l'invio: il messaggio potrebbe essere "
        "arrivato. Serve una verifica prima di inviarlo di nuovo."
    ),
    LEASE_EXPIRED: _(
        "Il worker si è interrotto durante l'invio: il messaggio potrebbe essere arrivato. "
        "Serve una verifica prima di inviarlo di nuovo."
    ),
    TRANSIENT: _("IO non era raggiungibile: nuovo tentativo programmato."),
    RATE_LIMITED: _("IO ha chiesto di rallentare: nuovo tentativo programmato."),
    KEY_REJECTED: _("IO ha rifiutato la chiave del servizio: invio sospeso."),
    KEY_UNAVAILABLE: _("La chiave del servizio non è impostata o non è leggibile: invio sospeso."),
}

# ApiCall.outcome: "ok" or the name of the IO client's error class. What each means, shown
# on the delivery page instead of the internal name.
CALL_OK = "ok"
CALL_OUTCOME_TEXTS = {
    CALL_OK: _("riuscita"),
    RateLimitedError.__name__: _("IO ha chiesto di rallentare: da ripetere più tardi"),
    TransientError.__name__: _("IO non raggiungibile o in errore temporaneo"),
    AmbiguousError.__name__: _("nessuna risposta chiara: IO potrebbe aver ricevuto la richiesta"),
    PermanentError.__name__: _("rifiutata da IO"),
    KeyRejectedError.__name__: _("chiave del servizio rifiutata da IO"),
    NotFoundError.__name__: _("non trovato in IO"),
    PayloadInvalidError.__name__: _("dati del messaggio non validi: nulla inviato"),
}


def outcome_msgid(code: str) -> str:
    """The Italian msgid of `code`'s sentence (TEXTS), to store untranslated."""
    with translation.override(None):  # no catalog: the lazy text gives its msgid
        return str(TEXTS[code])


def call_outcome_text(code: str) -> str:
    """The outcome of one IO call (ApiCall.outcome) in words, never a class name."""
    text = CALL_OUTCOME_TEXTS.get(code)
    return str(text) if text is not None else str(_("non riuscita"))


STATE_TEXTS: dict[str, object] = {
    Delivery.State.PENDING: _("In attesa della verifica del destinatario."),
    Delivery.State.CHECKING: _("Verifica del destinatario in corso."),
    Delivery.State.READY: _("Destinatario verificato, in attesa dell'invio."),
    Delivery.State.SUBMITTING: _("Invio in corso."),
    Delivery.State.SUBMITTED: _("Accettato da IO, in attesa della consegna."),
    Delivery.State.PROCESSED: _("Consegnato nell'app IO del cittadino."),
    Delivery.State.REJECTED: _(
        "Rifiutato da IO: il cittadino non usa IO o ha bloccato il servizio."
    ),
    Delivery.State.CANCELLED: _("Annullato."),
}


def describe_delivery(delivery: Delivery) -> str:
    """The outcome of a delivery in a sentence an office operator understands."""
    return _describe(
        delivery.state,
        delivery.skip_reason or delivery.last_error_code,
        delivery.last_error_parts,
        texts=TEXTS,
        state_texts=STATE_TEXTS,
        state_labels=dict(Delivery.State.choices),
    )


def outcome_describer() -> Callable[[str, str, str, Sequence[Part]], str]:
    """`describe_delivery`'s rule with every text translated once, in the active language, for
    exports of many rows: `describe(state, skip_reason, last_error_code, last_error_parts)`
    gives the same sentence without a gettext lookup per row (but the detail's own)."""
    texts = {code: str(text) for code, text in TEXTS.items()}
    state_texts = {state: str(text) for state, text in STATE_TEXTS.items()}
    state_labels = {state: str(label) for state, label in Delivery.State.choices}

    def describe(state: str, skip_reason: str, last_error_code: str, detail: Sequence[Part]) -> str:
        return _describe(
            state,
            skip_reason or last_error_code,
            detail,
            texts=texts,
            state_texts=state_texts,
            state_labels=state_labels,
        )

    return describe


def _describe(
    state: str,
    code: str,
    detail: Sequence[Part],
    *,
    texts: Mapping[str, object],
    state_texts: Mapping[str, object],
    state_labels: Mapping[str, object],
) -> str:
    if state in WITH_REASON:
        text = texts.get(code)
        if text is not None:
            return str(text)
        if detail:
            return parts_text(detail)
    return str(state_texts.get(state, state_labels.get(state, state)))


WITH_REASON = frozenset(
    (
        Delivery.State.SKIPPED,
        Delivery.State.FAILED,
        Delivery.State.UNCERTAIN,
        Delivery.State.RETRY_WAIT,
        Delivery.State.MARKED_SENT,
    )
)
