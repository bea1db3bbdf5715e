"""The supervisors' dashboard in a real browser: Chart.js draws both charts under the
portal's Content-Security-Policy, each has its data table, and the page passes axe-core."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership
from ioportal.dashboard import stats
from ioportal.messaging.models import Delivery, Dispatch
from tests import builders
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.browser

CODES = fiscal_codes(5)


def test_supervisor_dashboard_charts_render_with_their_tables(
    page, sign_in, axe_check, organization
):
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    TOTPDevice.objects.create(user=supervisor, name="default", confirmed=True)
    author = builders.user(Membership.Role.OPERATOR, organization, username="otto")
    service = builders.service(organization, **simulated_service("http://127.0.0.1:9/api/v1"))
    sent = builders.dispatch(service, author, CODES, state=Dispatch.State.COMPLETED)
    rows = list(Delivery.objects.filter(dispatch=sent).order_by("row_number"))
    for number, delivery in enumerate(rows[:4], start=1):
        Delivery.objects.filter(pk=delivery.pk).update(
            state="processed", io_message_id=f"01JDASHB0000000000000000{number:02d}"
        )
    Delivery.objects.filter(pk=rows[4].pk).update(state="skipped", skip_reason="not_on_io")
    Dispatch.objects.filter(pk=sent.pk).update(
        created_at=timezone.now() - timedelta(days=1),
        title="TARI 2026 – avviso di pagamento – " + "elenco-dei-destinatari-" * 4 + ".csv",
    )
    stats.refresh_daily_stats()

    sign_in(page, supervisor)
    page.emulate_media(reduced_motion="reduce")  # the charts are drawn without animation
    page.goto("/")
    page.wait_for_function(
        "() => ['chart-volume', 'chart-rates'].every(id => {"
        " const c = document.getElementById(id);"
        " return c && c.dataset.rendered === 'true' && window.Chart.getChart(c) && c.width > 0; })"
    )
    assert page.locator("#chart-volume").get_attribute("role") == "img"
    page.locator("#volume-table summary").click()
    assert page.locator("#volume-table table").is_visible()
    yesterday_row = page.locator("#volume-table tbody tr").nth(28).inner_text()
    assert "4" in yesterday_row and "1" in yesterday_row
    page.locator("#rates-table summary").click()
    assert "80" in page.locator('#rates-table [data-rate="delivered"]').inner_text()
    assert "5 consegne negli ultimi 30 giorni" in page.locator("#rates-summary").inner_text()
    assert "nessuno: gli invii sono fermi" in page.locator('[data-health="workers"]').inner_text()
    # The rates' axis is in percent, not a count.
    axis = page.evaluate(
        "() => { const x = window.Chart.getChart(document.getElementById('chart-rates'))"
        ".options.scales.x; return [x.title.display, x.title.text, x.ticks.callback(50)]; }"
    )
    assert axis == [True, "Percentuale delle consegne (%)", "50%"]  # as the tables write it
    # Counts on the volume's axis are grouped the Italian way, four digits too.
    ticks = page.evaluate(
        "() => { const y = window.Chart.getChart(document.getElementById('chart-volume'))"
        ".options.scales.y; return [y.ticks.callback(3500), y.ticks.callback(12000)]; }"
    )
    assert ticks == ["3.500", "12.000"]
    # "Ultimi invii": a title that wraps starts on its bullet's line.
    wrapped = page.evaluate(
        "() => { const a = document.querySelector('#recent-dispatches li a');"
        " const li = a.closest('li'); const rects = a.getClientRects();"
        " return [getComputedStyle(a).display, rects.length,"
        " Math.abs(rects[0].top - li.getBoundingClientRect().top)]; }"
    )
    assert wrapped[0] == "inline" and wrapped[1] > 1 and wrapped[2] < 4
    axe_check(page, "dashboard-supervisor")

    page.get_by_role("link", name="Per mese").click()
    page.wait_for_load_state()
    page.wait_for_function(
        "() => document.getElementById('chart-volume').dataset.rendered === 'true'"
    )
    assert page.locator("#volume-table tbody tr").count() == 12
    axe_check(page, "dashboard-supervisor-month")
