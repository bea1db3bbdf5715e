from django.urls import path

from ioportal.ioservices import views

app_name = "ioservices"

urlpatterns = [
    path("", views.ioservice_list, name="list"),
    path("nuovo/", views.ioservice_create, name="create"),
    path("<uuid:public_id>/", views.ioservice_detail, name="detail"),
    path("<uuid:public_id>/modifica/", views.ioservice_edit, name="edit"),
    path("<uuid:public_id>/verifica/", views.ioservice_check, name="check"),
    path("<uuid:public_id>/chiave-in-uso/", views.ioservice_active_slot, name="active_slot"),
]
