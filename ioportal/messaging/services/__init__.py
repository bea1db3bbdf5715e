"""What views and tasks do with templates and dispatches, one module per job:

- `templates`: creating templates, new versions, the column mapping they remember;
- `dispatches`: launching a checked list, a message to one citizen, a test send;
- `preparation`: a launched list's deliveries, chunk by chunk (inline or in a worker task);
- `approvals`: the four-eyes policy, approving and rejecting, the author's notifications;
- `pipeline`: handing work to the sending pipeline (the `dispatch_ready` signal).

Views call these functions; they never talk to IO. The names below are the public ones.
"""

from ioportal.messaging.services.approvals import (
    approval_policy_update,
    dispatch_approve,
    dispatch_reject,
    notifications_mark_read,
)
from ioportal.messaging.services.dispatches import (
    NOBODY_TO_SEND,
    dispatch_create_single,
    dispatch_launch_list,
    dispatch_send_test,
    recipients_for_test_send,
)
from ioportal.messaging.services.pipeline import wake_pipeline
from ioportal.messaging.services.preparation import dispatch_prepare, dispatches_resume_preparation
from ioportal.messaging.services.templates import (
    template_create,
    template_remember_mapping,
    template_update,
)

__all__ = [
    "NOBODY_TO_SEND",
    "approval_policy_update",
    "dispatch_approve",
    "dispatch_create_single",
    "dispatch_launch_list",
    "dispatch_prepare",
    "dispatch_reject",
    "dispatch_send_test",
    "dispatches_resume_preparation",
    "notifications_mark_read",
    "recipients_for_test_send",
    "template_create",
    "template_remember_mapping",
    "template_update",
    "wake_pipeline",
]
