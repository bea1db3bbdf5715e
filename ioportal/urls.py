from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

# The admin site asks for the second factor like the rest of the portal.
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("", include("ioportal.dashboard.urls")),
    path("account/", include("ioportal.accounts.urls")),
    path("servizi-io/", include("ioportal.ioservices.urls")),
    path("messaggi/", include("ioportal.messaging.urls")),
    path("contenuti-remoti/", include("ioportal.remotecontent.urls")),
    # Called by IO, not by people: no session, see docs/remotecontent.md.
    path("io/remote-content/", include("ioportal.remotecontent.io_urls")),
    path("invii/", include("ioportal.sending.urls")),
    path("rapporti/", include("ioportal.reports.urls")),
    path("verifiche/", include("ioportal.reachability.urls")),
    path("conservazione/", include("ioportal.retention.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

handler403 = "ioportal.core.errors.permission_denied"
handler404 = "ioportal.core.errors.page_not_found"
handler500 = "ioportal.core.errors.server_error"
