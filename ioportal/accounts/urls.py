from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from ioportal.accounts import otp_views, views
from ioportal.accounts.services import password_reset_valid_for

app_name = "accounts"

urlpatterns = [
    path("accesso/", views.LoginView.as_view(), name="login"),
    path("uscita/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/reimposta/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reimposta/inviata/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="accounts/password_reset_done.html",
            extra_context={"valid_for": password_reset_valid_for},
        ),
        name="password_reset_done",
    ),
    path(
        "password/reimposta/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reimposta/completata/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html",
            extra_context={"login_url": reverse_lazy("accounts:login")},
        ),
        name="password_reset_complete",
    ),
    path("verifica/configura/", otp_views.otp_setup, name="otp_setup"),
    path("verifica/", otp_views.otp_verify, name="otp_verify"),
    path("verifica/codice-di-recupero/", otp_views.otp_recovery, name="otp_recovery"),
    path("sicurezza/", otp_views.otp_account, name="otp_account"),
    path("sicurezza/codici/", otp_views.otp_codes, name="otp_codes"),
    path("sicurezza/codici/scarica/", otp_views.otp_codes_download, name="otp_codes_download"),
    path("sicurezza/codici/rigenera/", otp_views.otp_codes_regenerate, name="otp_codes_regenerate"),
    path("ente/utenti/<uuid:public_id>/verifica/azzera/", otp_views.otp_reset, name="otp_reset"),
    path("ente/cambia/", views.switch_organization, name="switch_organization"),
    path("ente/impostazioni/", views.organization_settings, name="organization_settings"),
    path("ente/utenti/", views.member_list, name="member_list"),
    path("ente/utenti/invita/", views.member_invite, name="member_invite"),
    path("ente/utenti/<uuid:public_id>/", views.member_edit, name="member_edit"),
    path("ente/inviti/<uuid:public_id>/invia/", views.invitation_resend, name="invitation_resend"),
    path(
        "ente/inviti/<uuid:public_id>/ritira/",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    # Before the token's path: "accetta" and "rifiuta" are no tokens (tokens are 43 characters).
    path("invito/accetta/", views.invitation_continue, name="invitation_continue"),
    path("invito/rifiuta/", views.invitation_decline, name="invitation_decline"),
    path("invito/<str:token>/", views.invitation_open, name="invitation_open"),
    path("inviti/", views.my_invitations, name="my_invitations"),
    path("inviti/<uuid:public_id>/accetta/", views.invitation_accept, name="invitation_accept"),
    path("inviti/<uuid:public_id>/rifiuta/", views.invitation_refuse, name="invitation_refuse"),
    path("enti/", views.organization_list, name="organization_list"),
    path("enti/nuovo/", views.organization_create, name="organization_create"),
    path("enti/<uuid:public_id>/", views.organization_edit, name="organization_edit"),
    path(
        "enti/<uuid:public_id>/invita/",
        views.organization_admin_invite,
        name="organization_admin_invite",
    ),
]
