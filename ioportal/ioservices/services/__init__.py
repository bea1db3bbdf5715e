"""What views, the import and the workers do with IO services, one module per job:

- `service`: creating and changing services (fields, keys, operators, the key in use);
- `keys`: the keys at work (IO client per slot, 401 fallback, key state, re-encryption);
- `checks`: "check the service", requested by an admin and run by a worker.

Every change is an audit event; a key value is never shown, logged or audited.
"""

from ioportal.ioservices.services.checks import ioservice_check_request, ioservice_check_run
from ioportal.ioservices.services.keys import (
    SYSTEM_ACTOR,
    ServiceKeyUnavailableError,
    ioservice_key_problem,
    ioservice_key_rejected,
    ioservice_key_worked,
    ioservice_keys_reencrypt,
    service_api_key,
)
from ioportal.ioservices.services.service import (
    SERVICE_FIELDS,
    ioservice_create,
    ioservice_problems,
    ioservice_set_active_slot,
    ioservice_update,
)

__all__ = [
    "SERVICE_FIELDS",
    "SYSTEM_ACTOR",
    "ServiceKeyUnavailableError",
    "service_api_key",
    "ioservice_check_request",
    "ioservice_check_run",
    "ioservice_create",
    "ioservice_key_problem",
    "ioservice_key_rejected",
    "ioservice_key_worked",
    "ioservice_keys_reencrypt",
    "ioservice_problems",
    "ioservice_set_active_slot",
    "ioservice_update",
]
