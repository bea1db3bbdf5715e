"""Business logic of remote content, one module per job (views and the endpoints call it):

- `configurations`: the address and key IO uses to fetch Premium content;
- `attachments`: a Premium message's attachments, described to IO and deleted with their files;
- `handover`: the files uploaded with a recipient list (`ioportal.recipients.attachments`)
  handed over to the dispatch at launch, or copied for a test send;
- `calls`: the log of IO's calls to the remote-content endpoints.
"""

from ioportal.remotecontent.services.attachments import (
    RemoteContentNotConfigured,
    attachment_create,
    attachments_cleanup,
    attachments_delete,
    attachments_delete_for,
    attachments_for_delivery,
    third_party_data_for,
)
from ioportal.remotecontent.services.calls import access_record, lollipop_record
from ioportal.remotecontent.services.configurations import (
    key_digest,
    key_matches,
    rc_configuration_create,
    rc_configuration_regenerate_key,
    validate_header_name,
)
from ioportal.remotecontent.services.handover import (
    list_attachments_copy_for_test,
    list_attachments_hand_over,
)

__all__ = [
    "RemoteContentNotConfigured",
    "access_record",
    "attachment_create",
    "attachments_cleanup",
    "attachments_delete",
    "attachments_delete_for",
    "attachments_for_delivery",
    "key_digest",
    "key_matches",
    "list_attachments_copy_for_test",
    "list_attachments_hand_over",
    "lollipop_record",
    "rc_configuration_create",
    "rc_configuration_regenerate_key",
    "third_party_data_for",
    "validate_header_name",
]
