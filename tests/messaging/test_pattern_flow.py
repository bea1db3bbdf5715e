"""An operator's catastrophic pattern, through the web flow: saved, then checked quickly."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ioportal.messaging.models import MessageTemplate
from ioportal.recipients.models import RecipientList

MARKDOWN = (
    "Gentile cittadino, il codice {{ codice }} identifica la sua pratica allo sportello "
    "anagrafe del Comune."
)


def test_the_classic_catastrophic_pattern_over_http(client, login, operator_user, service):
    login(operator_user)
    response = client.post(
        reverse("messaging:template_create"),
        {
            "name": "Pratiche",
            "subject": "Pratica allo sportello",
            "markdown": MARKDOWN,
            "feature_level": "standard",
            "ph-TOTAL_FORMS": "1",
            "ph-INITIAL_FORMS": "0",
            "ph-MIN_NUM_FORMS": "0",
            "ph-MAX_NUM_FORMS": "1000",
            "ph-0-name": "codice",
            "ph-0-type": "text",
            "ph-0-required": "on",
            "ph-0-pattern": "(a+)+b",
        },
    )
    assert response.status_code == 302
    template = MessageTemplate.objects.get()
    data = "cf;codice\nRSSMRA85T10A562S;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\nVRDGPP75C15F205S;aab\n"
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile("pratiche.csv", data.encode()),
        },
    )
    assert response.status_code == 302
    recipient_list = RecipientList.objects.get()
    response = client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {"map_fiscal_code": "cf", "map_codice": "codice"},
    )
    assert response.status_code == 302
    recipient_list.refresh_from_db()
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (1, 1)
    page = client.get(response.url).content.decode()
    # The column is named once, next to its reason.
    assert "Non rispetta il formato richiesto dal modello." in page
    assert "«codice» non rispetta" not in page
