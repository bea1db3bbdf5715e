from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyDeliveryStats(models.Model):
    """How many deliveries of one service's dispatches created on one day ended in one
    outcome group (`sending.selectors.OUTCOME_GROUPS` keys), with Premium read/paid counts.

    Rows are written only by `ioportal.dashboard.stats.refresh_daily_stats` (a django-q2
    schedule); the dashboard reads them instead of scanning the deliveries.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    service = models.ForeignKey("ioservices.IOService", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    outcome = models.CharField(max_length=16)
    deliveries = models.PositiveIntegerField(default=0)
    # Premium only (IO's read_status / payment_status): read over read+unread, paid over
    # those with a payment status.
    read = models.PositiveIntegerField(default=0)
    unread = models.PositiveIntegerField(default=0)
    paid = models.PositiveIntegerField(default=0)
    with_payment_status = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("statistiche giornaliere delle consegne")
        verbose_name_plural = _("statistiche giornaliere delle consegne")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "service", "outcome"],
                name="dailystats_one_row_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.outcome} {self.deliveries}"
