"""The steps of a message to a list show the whole path in their breadcrumbs: Scrivania /
Nuovo messaggio / Colonne / Controllo / Anteprima / Conferma, up to the page's step."""

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ioportal.recipients.models import RecipientList
from tests import builders

CSV = "codice_fiscale;nome;importo\nRSSMRA85T10A562S;Maria;10,00\n"
PATH = ["Scrivania", "Nuovo messaggio", "Colonne", "Controllo", "Anteprima", "Conferma"]


def _crumbs(page: str) -> list[str]:
    nav = re.search(r'<ol class="breadcrumb">(.*?)</ol>', page, re.DOTALL)
    assert nav is not None
    return [
        re.sub(r"<[^>]+>|/", "", item).strip()
        for item in re.findall(r"<li[^>]*>(.*?)</li>", nav.group(1), re.DOTALL)
    ]


def test_every_step_shows_the_path_to_it(client, login, operator_user, service):
    login(operator_user)
    template = builders.template(operator_user.memberships.get().organization, operator_user)
    upload = SimpleUploadedFile("elenco.csv", CSV.encode())
    client.post(
        reverse("messaging:compose"),
        {"template": template.pk, "service": service.pk, "file": upload},
    )
    recipient_list = RecipientList.objects.get()
    mapping = {"map_fiscal_code": "codice_fiscale", "map_nome": "nome", "map_importo": "importo"}
    url = reverse("messaging:list_mapping", args=[recipient_list.public_id])
    assert client.post(url, mapping).status_code == 302

    for step, name in enumerate(
        ["list_mapping", "list_result", "list_preview", "list_confirm"], start=3
    ):
        page = client.get(reverse(f"messaging:{name}", args=[recipient_list.public_id]))
        assert page.status_code == 200, name
        assert _crumbs(page.content.decode()) == PATH[:step], name
