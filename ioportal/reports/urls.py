from django.urls import URLPattern, URLResolver, path

from ioportal.reports import export_views

app_name = "reports"

urlpatterns: list[URLPattern | URLResolver] = [
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
        "ricerca/consegne.csv",
        export_views.search_deliveries_export,
        {"file_format": "csv"},
        name="search_deliveries_csv",
    ),
    path(
        "ricerca/consegne.xlsx",
        export_views.search_deliveries_export,
        {"file_format": "xlsx"},
        name="search_deliveries_xlsx",
    ),
]
