"""The mapping page's «Prime righe del file» masks personal data as the check page does:
the column of the fiscal code (guessed or chosen), even a code written wrong, and any value
that looks like a fiscal code in another column."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ioportal.recipients.models import RecipientList
from tests import builders

CSV = (
    "codice_fiscale;nome;importo;note\n"
    "GLLGNN80A01H501A;Gianni;10,00;il figlio RSSMRA85T10A562S\n"
    "rss mra 85;Maria;12,00;\n"
)


def test_the_first_rows_show_fiscal_codes_masked(client, login, operator_user, service):
    login(operator_user)
    template = builders.template(operator_user.memberships.get().organization, operator_user)
    upload = SimpleUploadedFile("elenco.csv", CSV.encode())
    response = client.post(
        reverse("messaging:compose"),
        {"template": template.pk, "service": service.pk, "file": upload},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    recipient_list = RecipientList.objects.get()

    page = client.get(reverse("messaging:list_mapping", args=[recipient_list.public_id]))

    text = page.content.decode()
    start = text.index("Prime righe del file")
    sample = text[start : text.index("</table>", start)]
    assert "GLL************A" in sample and "GLLGNN80A01H501A" not in sample
    assert "il figlio RSS************S" in sample and "RSSMRA85T10A562S" not in sample
    assert "rss******5" in sample and "rss mra 85" not in sample
    assert "Gianni" in sample and "10,00" in sample
