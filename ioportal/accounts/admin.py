"""The Django admin never shows nor edits second-factor secrets (issue 11).

django-otp registers its devices in the admin, with the TOTP key and the recovery codes in
the clear; devices are managed only through the portal's own pages, which audit each change.
"""

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
