"""The endpoints IO calls (no session). Base URL for IO: /io/remote-content/<configuration_id>."""

from django.urls import path, register_converter

from ioportal.ioservices.validators import ULID_RE
from ioportal.remotecontent import io_views


class ConfigurationIdConverter:
    """A remote-content configuration id: exactly one ULID (upper case, as IO writes it), so
    that `<ULID>EXTRA` is an unknown path and not the configuration."""

    regex = ULID_RE.pattern.removeprefix("^").removesuffix("$")

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ConfigurationIdConverter, "configuration_id")

app_name = "remotecontent_io"

urlpatterns = [
    path(
        "<configuration_id:configuration_id>/messages/<str:message_id>",
        io_views.message_details,
        name="details",
    ),
    # Before the attachment route, which would otherwise take "precondition" as a file.
    path(
        "<configuration_id:configuration_id>/messages/<str:message_id>/precondition",
        io_views.message_precondition,
        name="precondition",
    ),
    path(
        "<configuration_id:configuration_id>/messages/<str:message_id>/<path:attachment_url>",
        io_views.message_attachment,
        name="attachment",
    ),
]
