import pytest

from ioportal.ioapi import (
    AmbiguousError,
    CallInfo,
    FieldError,
    IOApiError,
    KeyRejectedError,
    NotFoundError,
    PayloadInvalidError,
    PermanentError,
    RateLimitedError,
    TransientError,
    describe_error_it,
)


def _call(operation: str, status: int | None) -> CallInfo:
    return CallInfo(operation, "POST", status, 10, "x", None, None)


CASES: list[tuple[IOApiError, str]] = [
    (PayloadInvalidError([FieldError("content.subject", "Oggetto troppo corto.")]), "Oggetto"),
    (KeyRejectedError("k", call=_call("get_profile", 401)), "chiave API"),
    (NotFoundError("n", title="Profile not found", call=_call("get_profile", 404)), "app IO"),
    (NotFoundError("n", title="Message not found", call=_call("get_message", 404)), "messaggio"),
    (
        PermanentError("p", title="Recipient forbidden", call=_call("submit_message", 403)),
        "modalità di test",
    ),
    (
        PermanentError(
            "p", title="You are not allowed here", detail="IP", call=_call("get_profile", 403)
        ),
        "non consente",
    ),
    (
        PermanentError(
            "p", title="Error while sending payment metadata", call=_call("submit_message", 400)
        ),
        "importo",
    ),
    (PermanentError("p", call=_call("submit_message", 400)), "non valido"),
    (PermanentError("invalid url"), "non è configurato"),
    (RateLimitedError("r", retry_after=4.0, retry_after_source="body"), "4 secondi"),
    (TransientError("t"), "temporaneo"),
    (TransientError("t", maybe_processed=True), "potrebbe"),
    (AmbiguousError("a"), "verifica"),
]


@pytest.mark.parametrize(("error", "expected"), CASES, ids=[type(e).__name__ for e, _ in CASES])
def test_every_error_has_an_italian_explanation(error: IOApiError, expected: str) -> None:
    text = describe_error_it(error)
    assert expected in text
    assert "None" not in text
