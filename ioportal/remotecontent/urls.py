from django.urls import path

from ioportal.remotecontent import views

app_name = "remotecontent"

urlpatterns = [
    path("", views.rc_configuration_list, name="list"),
    path("nuova/", views.rc_configuration_create, name="create"),
    path("<uuid:public_id>/rigenera-chiave/", views.rc_configuration_regenerate, name="regenerate"),
    path("messaggi-mensili/", views.monthly_counts, name="monthly"),
]
