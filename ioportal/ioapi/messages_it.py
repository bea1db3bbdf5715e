"""Italian texts shown to office operators, the msgids of the portal's English catalog.

This package does not import Django: a text is used here as it is (with str.format
placeholders), and the portal translates it through gettext (ioportal.core.io_texts), from
`FieldError.template` and `explain_error`.
"""

from typing import Any

from .errors import (
    AmbiguousError,
    IOApiError,
    KeyRejectedError,
    NotFoundError,
    PayloadInvalidError,
    PermanentError,
    RateLimitedError,
    TransientError,
)

# Payload validation (payloads.py). Placeholders are filled with str.format.
FISCAL_CODE_REQUIRED = "Il codice fiscale è obbligatorio."
FISCAL_CODE_FORMAT = (
    "Il codice fiscale non ha il formato corretto "
    "(16 caratteri: 6 lettere, 2 cifre, 1 lettera, 2 cifre, 1 lettera, 3 cifre, 1 lettera)."
)
FISCAL_CODE_CHECKSUM = (
    "Il codice fiscale non è valido: il carattere di controllo o la data di "
    "nascita non corrispondono."
)
SUBJECT_LENGTH = "L'oggetto deve avere da {min} a {max} caratteri (ora ne ha {actual})."
MARKDOWN_LENGTH = "Il testo deve avere da {min} a {max} caratteri (ora ne ha {actual})."
DUE_DATE_NAIVE = "La data di scadenza deve indicare il fuso orario."
FEATURE_LEVEL_UNKNOWN = "Il tipo di messaggio deve essere STANDARD o ADVANCED (Premium)."
AMOUNT_TYPE = "L'importo deve essere un numero intero di centesimi di euro."
# Amounts are shown in euro ("1.234,56 €", `payloads.format_euro`), as operators write them;
# their params stay cents (EURO_PARAMS), so the portal writes them in the reader's language.
AMOUNT_RANGE = "L'importo deve essere compreso tra {min} e {max}."
AMOUNT_OVER_SERVICE_MAX = (
    "L'importo ({amount}) supera il massimo consentito per questo servizio ({max})."
)
# The params of a template that are amounts in euro cents, written as euro when shown.
EURO_PARAMS: dict[str, frozenset[str]] = {
    AMOUNT_RANGE: frozenset({"min", "max"}),
    AMOUNT_OVER_SERVICE_MAX: frozenset({"amount", "max"}),
}
NOTICE_NUMBER_FORMAT = "Il numero avviso pagoPA deve avere 18 cifre e iniziare con 0, 1, 2 o 3."
PAYEE_FISCAL_CODE_FORMAT = "Il codice fiscale dell'ente creditore deve essere composto da 11 cifre."
THIRD_PARTY_ID_FORMAT = (
    "L'identificativo del contenuto remoto è obbligatorio e può contenere solo lettere, "
    "cifre e i caratteri . _ ~ - (massimo {max} caratteri)."
)
CONFIGURATION_ID_FORMAT = (
    "L'identificativo della configurazione remota deve essere un ULID di 26 caratteri."
)
ATTACHMENTS_NEED_ADVANCED = "Gli allegati sono disponibili solo per i messaggi Premium (ADVANCED)."
MESSAGE_ID_REQUIRED = "L'identificativo del messaggio IO è obbligatorio."

# Outcomes of IO calls (describe_error_it).
KEY_REJECTED = (
    "IO ha rifiutato la chiave API del servizio (errata, revocata o rigenerata). "
    "Un amministratore deve aggiornarla."
)
RECIPIENT_FORBIDDEN = (
    "Il servizio è in modalità di test: il destinatario non è tra i destinatari autorizzati."
)
FORBIDDEN = "IO non consente l'operazione a questo servizio: {detail}"
PROFILE_NOT_FOUND = "Il cittadino non usa l'app IO oppure ha disattivato la ricezione dei messaggi."
MESSAGE_NOT_FOUND = "IO non trova il messaggio indicato per questo codice fiscale."
FEED_NOT_READY = "I dati delle iscrizioni di questa giornata non sono ancora disponibili."
AMOUNT_REFUSED = "IO ha rifiutato l'importo: supera il massimo consentito per il servizio."
CONTENT_REFUSED = "IO ha rifiutato il messaggio perché non valido: {detail}"
REFUSED = "IO ha rifiutato la richiesta ({status}): {detail}"
RATE_LIMITED = "IO ha chiesto di rallentare l'invio: nuovo tentativo tra {seconds} secondi."
TRANSIENT = "IO non è raggiungibile o ha risposto con un errore temporaneo; si riproverà."
TRANSIENT_MAYBE_PROCESSED = (
    "IO ha risposto con un errore interno: il messaggio potrebbe essere stato comunque accettato."
)
AMBIGUOUS = (
    "Nessuna risposta da IO dopo l'invio della richiesta: non è possibile sapere se il "
    "messaggio è stato accettato. Serve una verifica prima di inviarlo di nuovo."
)
CONFIGURATION = (
    "Il collegamento a IO non è configurato correttamente (indirizzo del servizio non valido)."
)
UNKNOWN = "Errore imprevisto nella comunicazione con IO."
NO_DETAIL = "nessun dettaglio"


def explain_error(error: IOApiError) -> tuple[str, dict[str, Any]]:
    """The text of this module for an error of the IO client other than PayloadInvalidError
    (whose `errors` carry their own), and the values to fill into it with str.format."""
    if isinstance(error, KeyRejectedError):
        return KEY_REJECTED, {}
    if isinstance(error, NotFoundError):
        if error.title == "Profile not found" or error.operation == "get_profile":
            return PROFILE_NOT_FOUND, {}
        if error.title == "Data not available yet":
            return FEED_NOT_READY, {}
        return MESSAGE_NOT_FOUND, {}
    if isinstance(error, PermanentError):
        if error.status_code is None:
            return CONFIGURATION, {}  # refused before sending: bad base URL
        # IO's own words (English), shown as they are.
        detail = error.detail or error.title or NO_DETAIL
        if error.is_recipient_forbidden:
            return RECIPIENT_FORBIDDEN, {}
        if error.status_code == 403:
            return FORBIDDEN, {"detail": detail}
        if error.is_amount_over_max:
            return AMOUNT_REFUSED, {}
        if error.status_code == 400:
            return CONTENT_REFUSED, {"detail": detail}
        return REFUSED, {"status": error.status_code, "detail": detail}
    if isinstance(error, RateLimitedError):
        return RATE_LIMITED, {"seconds": round(error.retry_after)}
    if isinstance(error, TransientError):
        return (TRANSIENT_MAYBE_PROCESSED if error.maybe_processed else TRANSIENT), {}
    if isinstance(error, AmbiguousError):
        return AMBIGUOUS, {}
    return UNKNOWN, {}


def describe_error_it(error: IOApiError) -> str:
    """A sentence an office operator understands for any error raised by the IO client, in
    Italian (the portal uses ioportal.core.io_texts.describe_io_error, translated)."""
    if isinstance(error, PayloadInvalidError):
        return " ".join(e.message for e in error.errors)
    template, params = explain_error(error)
    return template.format(**params)
