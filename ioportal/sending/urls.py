from django.urls import path

from ioportal.sending import views

app_name = "sending"

urlpatterns = [
    path("", views.dispatch_list, name="dispatch_list"),
    path("cerca/", views.delivery_search, name="delivery_search"),
    path("cerca/<str:reference>/", views.delivery_search_results, name="delivery_search_results"),
    path("consegne/<uuid:public_id>/", views.delivery_detail, name="delivery_detail"),
    path("consegne/<uuid:public_id>/mostra/", views.delivery_reveal, name="delivery_reveal"),
    path("finestre/", views.send_windows, name="send_windows"),
    path("<uuid:public_id>/", views.dispatch_detail, name="dispatch_detail"),
    path("<uuid:public_id>/avanzamento/", views.dispatch_progress, name="dispatch_progress"),
    path("<uuid:public_id>/sospendi/", views.dispatch_pause, name="dispatch_pause"),
    path("<uuid:public_id>/riprendi/", views.dispatch_resume, name="dispatch_resume"),
    path("<uuid:public_id>/annulla/", views.dispatch_cancel, name="dispatch_cancel"),
    path("<uuid:public_id>/riprova/", views.dispatch_retry_failed, name="dispatch_retry_failed"),
    path("<uuid:public_id>/esiti-incerti/", views.uncertain_resolve, name="uncertain_resolve"),
]
