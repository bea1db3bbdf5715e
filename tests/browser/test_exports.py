"""A large XLSX export in a real browser: the button leads to the preparation page, which
refreshes by itself until the file is ready, then downloads it; both states pass the
accessibility check."""

import openpyxl
import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership
from ioportal.messaging.models import Dispatch
from ioportal.reports import prepared
from ioportal.reports.models import PreparedExport
from tests import builders
from tests.sending.support import fiscal_codes

pytestmark = pytest.mark.browser


def test_a_large_xlsx_is_prepared_and_downloaded_from_its_page(
    page, sign_in, axe_check, organization, settings, tmp_path, monkeypatch
):
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 1
    settings.MEDIA_ROOT = str(tmp_path)
    # No worker runs here: the test writes the file itself while the page waits.
    enqueued: list[int] = []
    monkeypatch.setattr(prepared, "enqueue_build", lambda *, export_id: enqueued.append(export_id))
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    TOTPDevice.objects.create(user=supervisor, name="default", confirmed=True)
    dispatch = builders.dispatch(
        builders.service(organization),
        supervisor,
        fiscal_codes(3),
        state=Dispatch.State.COMPLETED,
    )
    sign_in(page, supervisor)
    page.goto(f"/invii/{dispatch.public_id}/")
    page.get_by_role("button", name="Esporta Excel").click()
    page.wait_for_load_state()
    export = PreparedExport.objects.get()
    assert page.url.endswith(f"/esportazioni/{export.public_id}/")
    assert "Il file Excel è in preparazione" in page.locator("#prepared-export").inner_text()
    axe_check(page, "prepared-export-pending")
    assert enqueued == [export.pk]

    prepared.prepared_export_build(export_id=export.pk)
    download_button = page.get_by_role("button", name="Scarica il file Excel")
    download_button.wait_for()  # htmx replaced the state without a reload
    axe_check(page, "prepared-export-ready")
    with page.expect_download() as info:
        download_button.click()
    path = tmp_path / "downloaded.xlsx"
    info.value.save_as(path)
    sheet = openpyxl.load_workbook(path)["Consegne"]
    assert sheet.max_row == 4
