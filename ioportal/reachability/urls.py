from django.urls import URLPattern, URLResolver, path

from ioportal.reachability import views

app_name = "reachability"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.check_list, name="check_list"),
    path("nuova/", views.check_new, name="check_new"),
    path("<uuid:public_id>/", views.check_detail, name="check_detail"),
    path("<uuid:public_id>/avanzamento/", views.check_progress, name="check_progress"),
    path("<uuid:public_id>/esito.<str:file_format>", views.check_export, name="check_export"),
]
