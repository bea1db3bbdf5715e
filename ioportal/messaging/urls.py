from django.urls import path

from ioportal.messaging import views

app_name = "messaging"

urlpatterns = [
    path("nuovo/", views.compose, name="compose"),
    path("singolo/", views.single_message, name="single"),
    path("modelli/", views.template_list, name="template_list"),
    path("modelli/nuovo/", views.template_create, name="template_create"),
    path("modelli/<str:public_id>/", views.template_edit, name="template_edit"),
    path("elenchi/<str:public_id>/colonne/", views.list_mapping, name="list_mapping"),
    path(
        "elenchi/<str:public_id>/formato-numeri/",
        views.list_number_format,
        name="list_number_format",
    ),
    path("elenchi/<str:public_id>/controllo/", views.list_result, name="list_result"),
    path("elenchi/<str:public_id>/scarti.csv", views.list_rejected_csv, name="list_rejected_csv"),
    path("elenchi/<str:public_id>/anteprima/", views.list_preview, name="list_preview"),
    path("elenchi/<str:public_id>/prova/", views.list_test_send, name="list_test_send"),
    path("elenchi/<str:public_id>/conferma/", views.list_confirm, name="list_confirm"),
    path("invii/<str:public_id>/", views.dispatch_summary, name="dispatch_summary"),
    path("invii/<str:public_id>/approva/", views.dispatch_approve, name="dispatch_approve"),
    path("invii/<str:public_id>/respingi/", views.dispatch_reject, name="dispatch_reject"),
    path("da-approvare/", views.approvals, name="approvals"),
    path("approvazione/", views.approval_settings, name="approval_settings"),
    path("notifiche/lette/", views.notifications_read, name="notifications_read"),
]
