"""Whether a dispatch's downloads can be had: one predicate per action, each the reason
(an Italian sentence) it cannot, or "" when it can. The dispatch and delivery pages offer a
button only when its predicate says "", and the endpoint behind the button refuses with the
same sentence, so a page never offers what its endpoint refuses.

- deliveries export (CSV/Excel): not before the dispatch has deliveries that may be sent
  (draft, being prepared, waiting for approval);
- hand-off list of the citizens not reached: not before the dispatch may send (as the
  deliveries export), nor once the retention purge removed the dispatch's personal data;
- proofs of sending (ZIP of a dispatch, PDF of a delivery): not once purged, nor without a
  message that reached IO.
"""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.retention import personal_data_purged

# States in which a dispatch has sent nothing and may not send yet.
NOT_STARTED = (Dispatch.State.DRAFT, Dispatch.State.PREPARING, Dispatch.State.AWAITING_APPROVAL)


def deliveries_export_refusal(dispatch: Dispatch) -> str:
    """Why the dispatch's deliveries cannot be exported, or ""."""
    if dispatch.state in NOT_STARTED:
        return _("L'invio non è ancora partito: non ci sono esiti da esportare.")
    return ""


def handoff_refusal(dispatch: Dispatch) -> str:
    """Why the list of the citizens not reached cannot be downloaded, or ""."""
    if dispatch.state in NOT_STARTED:
        return _("L'invio non è ancora partito: non ci sono cittadini non raggiunti da elencare.")
    if personal_data_purged(dispatch):
        return _(
            "I dati personali di questo invio sono stati cancellati: l'elenco non è più "
            "disponibile."
        )
    return ""


def proof_deliveries(dispatch: Dispatch) -> QuerySet[Delivery]:
    """The deliveries of `dispatch` that have a proof (an IO message id), in list order."""
    return Delivery.objects.filter(dispatch=dispatch, io_message_id__isnull=False).order_by(
        "row_number", "id"
    )


def delivery_proof_refusal(delivery: Delivery) -> str:
    """Why `delivery` has no proof (Italian sentence), or "" when it has one."""
    if personal_data_purged(delivery.dispatch):
        return _(
            "I dati personali di questo invio sono stati cancellati al termine del periodo di "
            "conservazione: la prova di invio non è più disponibile."
        )
    if not delivery.io_message_id:
        return _(
            "Il messaggio non è arrivato a IO (nessun id del messaggio in IO): non c'è una "
            "prova di invio."
        )
    return ""


def dispatch_proofs_refusal(dispatch: Dispatch) -> str:
    """Why `dispatch` has no ZIP of proofs (Italian sentence), or "" when it has one."""
    if personal_data_purged(dispatch):
        return _(
            "I dati personali di questo invio sono stati cancellati al termine del periodo di "
            "conservazione: le prove di invio non sono più disponibili."
        )
    if not proof_deliveries(dispatch).exists():
        return _("Nessun messaggio di questo invio è arrivato a IO: non ci sono prove di invio.")
    return ""
