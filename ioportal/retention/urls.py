from django.urls import URLPattern, URLResolver, path

from ioportal.retention import views

app_name = "retention"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.retention_settings, name="settings"),
]
