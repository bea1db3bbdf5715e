"""django-q2 tasks of the remote-content server."""

from ioportal.remotecontent.services import attachments_cleanup


def attachments_retention() -> dict[str, int]:
    """The daily schedule: attachments past REMOTE_CONTENT_RETENTION_DAYS and orphan files."""
    return attachments_cleanup()
