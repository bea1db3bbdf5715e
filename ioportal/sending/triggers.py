"""How the rest of the portal starts the workers. Only ids travel through the broker."""

from django_q.tasks import async_task

from ioportal.sending.slots import free_slots


def wake_up(*, organization_id: int) -> None:
    """Enqueue account workers for the organization (one per free worker slot, at least one).

    Call it inside `transaction.on_commit` after launching or resuming a dispatch. Safe to
    call any number of times: extra workers find no free slot or no work and return at once.
    A lost wake-up only delays work: the sweeper wakes every account with due work each minute.
    """
    for _ in range(max(1, free_slots(organization_id=organization_id))):
        async_task(
            "ioportal.sending.tasks.run_account",
            organization_id,
            task_name=f"sending-account-{organization_id}",
        )
