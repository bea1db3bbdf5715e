from django.urls import path

from ioportal.messaging import carnet_views, followup_views, launch_views, list_views, views

app_name = "messaging"

urlpatterns = [
    path("carnet-premium/<uuid:public_id>/", carnet_views.carnet_list, name="carnet_list"),
    path(
        "carnet-premium/<uuid:public_id>/nuovo/",
        carnet_views.carnet_create,
        name="carnet_create",
    ),
    path(
        "carnet-premium/<uuid:public_id>/<uuid:carnet_id>/",
        carnet_views.carnet_edit,
        name="carnet_edit",
    ),
    path(
        "carnet-premium/<uuid:public_id>/<uuid:carnet_id>/elimina/",
        carnet_views.carnet_delete,
        name="carnet_delete",
    ),
    path("nuovo/", list_views.compose, name="compose"),
    path("singolo/", views.single_message, name="single"),
    path("singolo/conferma/", views.single_message_confirm, name="single_confirm"),
    path("modelli/", views.template_list, name="template_list"),
    path("modelli/nuovo/", views.template_create, name="template_create"),
    path("modelli/<uuid:public_id>/", views.template_edit, name="template_edit"),
    path("elenchi/<uuid:public_id>/colonne/", list_views.list_mapping, name="list_mapping"),
    path(
        "elenchi/<uuid:public_id>/formato-numeri/",
        list_views.list_number_format,
        name="list_number_format",
    ),
    path("elenchi/<uuid:public_id>/controllo/", list_views.list_result, name="list_result"),
    path(
        "elenchi/<uuid:public_id>/scarti.csv",
        list_views.list_rejected_csv,
        name="list_rejected_csv",
    ),
    path("elenchi/<uuid:public_id>/anteprima/", launch_views.list_preview, name="list_preview"),
    path("elenchi/<uuid:public_id>/prova/", launch_views.list_test_send, name="list_test_send"),
    path("elenchi/<uuid:public_id>/prove/", launch_views.list_test_sends, name="list_test_sends"),
    path("elenchi/<uuid:public_id>/conferma/", launch_views.list_confirm, name="list_confirm"),
    path(
        "elenchi/<uuid:public_id>/escludi-ripetuti/",
        followup_views.list_exclude_repeated,
        name="list_exclude_repeated",
    ),
    path(
        "invii/<uuid:public_id>/sollecito/",
        followup_views.dispatch_follow_up,
        name="dispatch_follow_up",
    ),
    path("invii/<uuid:public_id>/", views.dispatch_summary, name="dispatch_summary"),
    path("invii/<uuid:public_id>/approva/", views.dispatch_approve, name="dispatch_approve"),
    path("invii/<uuid:public_id>/respingi/", views.dispatch_reject, name="dispatch_reject"),
    path("da-approvare/", views.approvals, name="approvals"),
    path("approvazione/", views.approval_settings, name="approval_settings"),
    path("notifiche/lette/", views.notifications_read, name="notifications_read"),
]
