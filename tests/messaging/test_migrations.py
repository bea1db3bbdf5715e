"""The migration that encrypts the placeholder values of existing deliveries."""

import pytest
from django.db import connection

from tests.migrating import latest, migrate, migrate_all, seed_service

BEFORE = [("messaging", "0004_dispatch_preparation")]
AFTER = [("messaging", "0005_delivery_variables_encrypted")]


@pytest.mark.django_db(transaction=True)
def test_existing_variables_are_encrypted_and_still_read():
    old = migrate(BEFORE)
    organization, user, service = seed_service(old)
    dispatch = old.get_model("messaging", "Dispatch").objects.create(
        organization=organization, service=service, title="TARI", subject="TARI", created_by=user
    )
    rows = old.get_model("messaging", "Delivery").objects
    rows.create(
        dispatch=dispatch,
        fiscal_code_hmac="a",
        variables={"nome": "Anna Verdi", "figlio": "VRDGPP75C15F205S"},
    )
    rows.create(dispatch=dispatch, fiscal_code_hmac="b", variables={})
    try:
        migrate(AFTER)
        with connection.cursor() as cursor:
            cursor.execute("SELECT variables FROM messaging_delivery ORDER BY fiscal_code_hmac")
            stored = [row[0] for row in cursor.fetchall()]
        assert stored[1] == ""
        assert "Anna" not in stored[0] and "VRDGPP" not in stored[0] and "nome" not in stored[0]
        # The current models describe the app's latest state (later migrations add columns).
        migrate(latest("messaging"))
        from ioportal.messaging.models import Delivery

        assert Delivery.objects.get(fiscal_code_hmac="a").variables == {
            "nome": "Anna Verdi",
            "figlio": "VRDGPP75C15F205S",
        }
        # And back: the reverse migration decrypts.
        back = migrate(BEFORE)
        assert back.get_model("messaging", "Delivery").objects.get(
            fiscal_code_hmac="a"
        ).variables == {"nome": "Anna Verdi", "figlio": "VRDGPP75C15F205S"}
    finally:
        migrate_all()


@pytest.mark.django_db(transaction=True)
def test_stored_notification_texts_still_read_after_becoming_parts():
    """A note stored as text before 0016 is read as written (it is no catalog sentence); the
    reverse migration writes the sentences back in Italian."""
    from django.utils import translation

    old = migrate([("messaging", "0015_dispatch_test_list")])
    organization, user, _service = seed_service(old)
    old.get_model("messaging", "Notification").objects.create(
        user=user, organization=organization, text="Mario Rossi ha approvato il tuo invio «TARI»."
    )
    try:
        migrate([("messaging", "0016_notification_text_parts")])
        migrate(latest("messaging"))
        from ioportal.messaging.models import Notification

        note = Notification.objects.get()
        with translation.override("en"):
            assert note.text == "Mario Rossi ha approvato il tuo invio «TARI»."
        note.text_parts = [
            {
                "text": "%(who)s ha approvato il tuo invio «%(title)s».",
                "params": {"who": "Anna", "title": "TARI"},
            }
        ]
        note.save()
        with translation.override("en"):
            assert note.text == "Anna approved your dispatch “TARI”."
        back = migrate([("messaging", "0014_dispatch_pause_parts")])
        assert back.get_model("messaging", "Notification").objects.get().text == (
            "Anna ha approvato il tuo invio «TARI»."
        )
    finally:
        migrate_all()
