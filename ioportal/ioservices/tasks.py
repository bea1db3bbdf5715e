"""Background tasks of IO services. Thin: they take ids and call services."""

from ioportal.ioservices import services


def ioservice_check(check_id: int) -> str:
    """Run a queued "check the service" (one to three harmless profile calls to IO).

    Idempotent: a check already done is left as it is. Returns the check's status.
    """
    return str(services.ioservice_check_run(check_id=check_id).status)
