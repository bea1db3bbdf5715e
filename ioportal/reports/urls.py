from django.urls import URLPattern, URLResolver, path

from ioportal.reports import proof_views

app_name = "reports"

urlpatterns: list[URLPattern | URLResolver] = [
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
]
