"""The Django admin neither shows nor edits second-factor secrets, nor signs anyone in.

django-otp registers its devices in the admin, with the TOTP key and the recovery codes in
the clear; devices are managed only through the portal's own pages, which audit each change.
The admin's own sign-in form would be a second way through the second factor (a recovery
code spent there is neither audited nor e-mailed), so it sends to the portal's instead.
"""

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


def portal_login(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """The admin's sign-in page: the portal's, coming back to the admin afterwards."""
    return redirect_to_login(
        request.GET.get("next") or reverse("admin:index"), login_url=reverse("accounts:login")
    )


admin.site.login = portal_login  # type: ignore[method-assign]
