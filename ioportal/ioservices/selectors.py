"""Reads of IO services reused by several views and, later, by the sending pipeline."""

from django.db.models import Q, QuerySet

from ioportal.accounts.models import Membership, Organization
from ioportal.ioservices.models import IOService, ServiceCheck


def ioservices_for_organization(*, organization: Organization) -> QuerySet[IOService]:
    return IOService.objects.filter(organization=organization).order_by("-is_active", "name")


def ioservices_with_key_problem(*, organization: Organization) -> QuerySet[IOService]:
    """Active services whose keys IO refused: the admins' dashboard card."""
    return IOService.objects.filter(
        organization=organization, key_problem=True, is_active=True
    ).order_by("name")


def ioservices_usable_by(*, membership: Membership) -> QuerySet[IOService]:
    """Active services the member may send with: all for supervisors and admins; for
    operators, those open to every operator plus those they are listed on."""
    services = IOService.objects.filter(organization=membership.organization, is_active=True)
    if membership.has_role(Membership.Role.SUPERVISOR):
        return services.order_by("name")
    return (
        services.filter(Q(all_operators=True) | Q(allowed_members=membership))
        .distinct()
        .order_by("name")
    )


def latest_check(*, service: IOService) -> ServiceCheck | None:
    return service.checks.order_by("-requested_at", "-id").first()
