from django.urls import URLPattern, URLResolver, path

from ioportal.reports import export_views, handoff_views, proof_views

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
    # Proofs of sending
    path("consegne/<uuid:public_id>/prova/", proof_views.delivery_proof, name="delivery_proof"),
    path(
        "consegne/<uuid:public_id>/prova.pdf",
        proof_views.delivery_proof_pdf,
        name="delivery_proof_pdf",
    ),
    path("invii/<uuid:public_id>/prove/", proof_views.dispatch_proofs, name="dispatch_proofs"),
    path(
        "invii/<uuid:public_id>/prove.zip",
        proof_views.dispatch_proofs_zip,
        name="dispatch_proofs_zip",
    ),
    # Exports of deliveries (reports/exports.py).
    path(
        "invii/<uuid:public_id>/consegne.csv",
        export_views.dispatch_deliveries_export,
        {"file_format": "csv"},
        name="dispatch_deliveries_csv",
    ),
    path(
        "invii/<uuid:public_id>/consegne.xlsx",
        export_views.dispatch_deliveries_export,
        {"file_format": "xlsx"},
        name="dispatch_deliveries_xlsx",
    ),
    path(
        "ricerca/<str:reference>/consegne.csv",
        export_views.search_deliveries_export,
        {"file_format": "csv"},
        name="search_deliveries_csv",
    ),
    path(
        "ricerca/<str:reference>/consegne.xlsx",
        export_views.search_deliveries_export,
        {"file_format": "xlsx"},
        name="search_deliveries_xlsx",
    ),
    # XLSX exports prepared by a worker (reports/prepared.py).
    path(
        "esportazioni/<uuid:public_id>/",
        export_views.prepared_export_page,
        name="prepared_export",
    ),
    path(
        "esportazioni/<uuid:public_id>/stato/",
        export_views.prepared_export_status,
        name="prepared_export_status",
    ),
    path(
        "esportazioni/<uuid:public_id>/scarica/",
        export_views.prepared_export_download,
        name="prepared_export_download",
    ),
]
