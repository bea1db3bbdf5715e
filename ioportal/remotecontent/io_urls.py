"""The endpoints IO calls (no session). Base URL for IO: /io/remote-content/<configuration_id>."""

from django.urls import path

from ioportal.remotecontent import io_views

app_name = "remotecontent_io"

urlpatterns = [
    path(
        "<str:configuration_id>/messages/<str:message_id>",
        io_views.message_details,
        name="details",
    ),
    # Before the attachment route, which would otherwise take "precondition" as a file.
    path(
        "<str:configuration_id>/messages/<str:message_id>/precondition",
        io_views.message_precondition,
        name="precondition",
    ),
    path(
        "<str:configuration_id>/messages/<str:message_id>/<path:attachment_url>",
        io_views.message_attachment,
        name="attachment",
    ),
]
