from django.urls import URLPattern, URLResolver, path

from ioportal.reports import handoff_views

app_name = "reports"

urlpatterns: list[URLPattern | URLResolver] = [
    # Hand-off list of the citizens IO did not reach.
    path(
        "invii/<uuid:public_id>/non-raggiunti/",
        handoff_views.handoff_page,
        name="handoff",
    ),
    path(
        "invii/<uuid:public_id>/non-raggiunti/scarica/",
        handoff_views.handoff_download,
        name="handoff_download",
    ),
]
