"""Pages for organization admins: remote-content configurations and monthly counts."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ioportal.accounts.access import (
    require_role,
    role_required,
)
from ioportal.accounts.models import Membership
from ioportal.remotecontent import selectors, services
from ioportal.remotecontent.access import get_rc_configuration_for_user
from ioportal.remotecontent.forms import RemoteContentConfigurationForm
from ioportal.remotecontent.models import RemoteContentConfiguration

ADMIN = Membership.Role.ADMIN


def _key_page(
    request: HttpRequest, configuration: RemoteContentConfiguration, key: str, created: bool
) -> HttpResponse:
    # The key exists in clear only in this response: not stored, not cached.
    return render(
        request,
        "remotecontent/key.html",
        {
            "configuration": configuration,
            "key": key,
            "created": created,
            "base_url": selectors.io_base_url(request, configuration),
        },
    )


@role_required(ADMIN)
def rc_configuration_list(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, ADMIN)
    configurations = [
        {
            "object": configuration,
            "base_url": selectors.io_base_url(request, configuration),
            "services": selectors.services_using(configuration),
        }
        for configuration in selectors.rc_configurations_for_organization(
            organization=membership.organization
        )
    ]
    return render(request, "remotecontent/list.html", {"configurations": configurations})


@never_cache
@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def rc_configuration_create(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, ADMIN)
    form = RemoteContentConfigurationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            configuration, key = services.rc_configuration_create(
                organization=membership.organization,
                actor=request.user,
                request=request,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                form.add_error("header_name", exc)
        else:
            return _key_page(request, configuration, key, created=True)
    return render(request, "remotecontent/form.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def rc_configuration_regenerate(request: HttpRequest, public_id: str) -> HttpResponse:
    configuration = get_rc_configuration_for_user(request, public_id)
    if request.method == "POST":
        key = services.rc_configuration_regenerate_key(
            configuration=configuration, actor=request.user, request=request
        )
        return _key_page(request, configuration, key, created=False)
    return render(request, "remotecontent/regenerate.html", {"configuration": configuration})


@role_required(ADMIN)
def monthly_counts(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, ADMIN)
    rows = selectors.monthly_message_counts(organization=membership.organization)
    return render(request, "remotecontent/monthly.html", {"rows": rows})
