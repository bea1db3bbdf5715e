from django.urls import path

from ioportal.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("registro/", views.audit_list, name="audit_list"),
    path("registro/installazione/", views.installation_audit_list, name="installation_audit_list"),
    path("i-miei-accessi/", views.my_sign_ins, name="my_sign_ins"),
]
