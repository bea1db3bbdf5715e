"""Compose from a recipient list: upload (with the Premium files), column mapping, number
format, check result and rejected rows. Preview, test sends and confirmation are in
`messaging.launch_views`.

Thin views: decorators, access helper, form, service, redirect or render.
"""

import io
import uuid
from collections.abc import Collection
from typing import IO, Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core.numbers import euro_amount
from ioportal.core.sizes import size_text
from ioportal.ioservices.selectors import ioservices_usable_by
from ioportal.messaging import lists, selectors
from ioportal.messaging.access import (
    get_recipient_list_for_user,
)
from ioportal.messaging.forms import (
    ATTACHMENT_FIELDS,
    MappingForm,
    UploadForm,
)
from ioportal.messaging.preview import content_warnings
from ioportal.recipients import services as recipient_services
from ioportal.recipients.attachments import (
    AttachmentUploadError,
    attachments_precheck,
    list_attachments_check,
    list_attachments_record,
    list_attachments_summary,
)
from ioportal.recipients.models import PendingUpload, RecipientChunk, RecipientList, row_cells
from ioportal.recipients.numbers import (
    ENGLISH,
    ITALIAN,
    NUMBER_FORMAT_CHOICES,
    NUMBER_FORMATS,
    number_format_name,
)
from ioportal.recipients.parsing import (
    PREVIEW_ROWS,
    ImportChoiceNeeded,
    ImportFileError,
    delimiter_label,
)
from ioportal.recipients.services import shown_problems
from ioportal.recipients.testmode import list_test_mode_skips
from ioportal.recipients.validation import fiscal_code_targets, mapping_errors, masked_sample

OPERATOR = Membership.Role.OPERATOR
REJECTED_SHOWN = 200


# --- recipient lists ------------------------------------------------------------------------


@role_required(OPERATOR)
def compose(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Step 1: template, service and the recipients' file."""
    membership = require_role(request, OPERATOR)
    templates = selectors.templates_for_organization(organization=membership.organization)
    usable = ioservices_usable_by(membership=membership)
    initial: dict[str, Any] = {}
    if request.GET.get("modello"):
        chosen = (
            templates.filter(public_id=request.GET["modello"]).first()
            if is_uuid(request.GET["modello"])
            else None
        )
        if chosen is not None:
            initial = {"template": chosen, "service": chosen.default_service}
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        templates=templates,
        services=usable,
        initial=initial,
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and (created := _compose_upload(request, membership, form)) is not None
    ):
        return redirect("messaging:list_mapping", public_id=created.public_id)
    return render(
        request,
        "messaging/compose.html",
        {"form": form, "has_templates": templates.exists(), "has_services": usable.exists()},
    )


def _compose_upload(
    request: AuthenticatedHttpRequest, membership: Membership, form: UploadForm
) -> RecipientList | None:
    """Read the submitted file, or the one kept for a choice, into a list (None when it could
    not be: the reasons are on the form). A file that needs a choice is kept (`PendingUpload`)
    so that the choice does not mean selecting it again, and so are the attachments selected
    with it (`_keep_attachments`); they are deleted once read into a list or refused."""
    actor = request.user
    submitted = form.submitted_file(organization=membership.organization, actor=actor)
    if submitted is None:
        return None
    file_name, data, pending = submitted
    kept = _kept_attachments(request, membership, form)
    shared, bundle = (
        form.cleaned_data.get("shared_pdf"),
        form.cleaned_data.get("attachments_zip"),
    )
    shared_name, shared_data = "", None
    if shared:
        shared_name, shared_data = shared.name, shared.read()
    elif kept["shared_pdf"] is not None:
        shared_name = kept["shared_pdf"].file_name
        shared_data = recipient_services.pending_upload_read(kept["shared_pdf"])
    zip_upload: IO[bytes] | None = bundle
    if not bundle and kept["attachments_zip"] is not None:
        zip_upload = io.BytesIO(recipient_services.pending_upload_read(kept["attachments_zip"]))
    number_format = form.cleaned_data["number_format"]
    try:
        # Read and check before the transaction: on SQLite it holds the database's write lock.
        table = lists.recipient_list_read(
            file_name=file_name,
            data=data,
            options=form.read_options(),
            number_format=number_format,
        )
        checked = None
        if shared_data is not None or zip_upload is not None:
            checked = list_attachments_check(
                shared_name=shared_name, shared_data=shared_data, zip_upload=zip_upload
            )
        try:
            with transaction.atomic():
                recipient_list = lists.recipient_list_upload(
                    organization=membership.organization,
                    actor=actor,
                    template=form.cleaned_data["template"],
                    service=form.cleaned_data["service"],
                    file_name=file_name,
                    table=table,
                    number_format=number_format,
                    request=request,
                )
                if checked is not None:
                    list_attachments_record(recipient_list=recipient_list, checked=checked)
        except BaseException:
            if checked is not None:
                checked.discard()
            raise
        if checked is not None and (not_pdf := checked.counts["refused"]):
            messages.warning(
                request,
                ngettext(
                    "%(n)s file dello ZIP è stato rifiutato: la riga che lo indica "
                    "sarà scartata con il motivo.",
                    "%(n)s file dello ZIP sono stati rifiutati: le righe che li "
                    "indicano saranno scartate con il motivo.",
                    not_pdf,
                )
                % {"n": not_pdf},
            )
    except (ImportChoiceNeeded, AttachmentUploadError) as exc:
        # The file itself is readable once the choice is made: keep it for the next step.
        pending = form.keep_for_question(
            organization=membership.organization,
            actor=actor,
            file_name=file_name,
            data=data,
            pending=pending,
        )
        if isinstance(exc, AttachmentUploadError):
            refused = {exc.field: exc.messages}
        else:
            # Attachments IO's rules refuse are said at once, not after the choice.
            refused = attachments_precheck(
                shared_name=shared_name, shared_data=shared_data, zip_upload=zip_upload
            )
        _keep_attachments(
            request,
            membership,
            form,
            kept=kept,
            uploads={"shared_pdf": (shared, shared_data), "attachments_zip": (bundle, None)},
            refused=set(refused),
        )
        if isinstance(exc, ImportChoiceNeeded):
            form.offer(exc)
        for field, reasons in refused.items():
            form.add_error(field, reasons)
        return None
    except ImportFileError as exc:
        for done in (pending, *kept.values()):
            if done is not None:
                done.delete()
        form.add_error("file", str(exc))
        return None
    for done in (pending, *kept.values()):
        if done is not None:
            done.delete()
    return recipient_list


def _kept_attachments(
    request: AuthenticatedHttpRequest, membership: Membership, form: UploadForm
) -> dict[str, PendingUpload | None]:
    """The attachments kept from an earlier submission that asked for a choice (the files
    the operator selected with the recipients file), per field; None when there is none, when
    it expired, or when the operator left it out (then it is deleted)."""
    kept: dict[str, PendingUpload | None] = {}
    for name in ATTACHMENT_FIELDS:
        found = None
        public_id = form.cleaned_data.get(f"pending_{name}")
        if public_id:
            found = recipient_services.pending_upload_get(
                organization=membership.organization, actor=request.user, public_id=public_id
            )
        if found is not None and (form.cleaned_data.get(name) or not form.kept_attachment_id(name)):
            found.delete()  # replaced by a new file, or left out
            found = None
        kept[name] = found
    return kept


def _keep_attachments(
    request: AuthenticatedHttpRequest,
    membership: Membership,
    form: UploadForm,
    *,
    kept: dict[str, PendingUpload | None],
    uploads: dict[str, tuple[Any, bytes | None]],
    refused: Collection[str],
) -> None:
    """While the operator makes a choice about the recipients file, keep the attachments
    selected with it (sealed, like the file: PendingUpload), so that they are not lost
    without a word. Those IO's rules refused (`refused`, field names) are not kept: its
    field says why, and another file must be selected. A ZIP too big to keep is not kept
    either, and its field says to select it again."""
    for name in ATTACHMENT_FIELDS:
        upload, data = uploads[name]
        if name in refused:
            if kept[name] is not None:
                kept[name].delete()  # type: ignore[union-attr]
            form.forget_attachment(name)
            continue
        if not upload:
            if kept[name] is not None:
                form.keep_attachment(name, kept[name])
            else:
                form.forget_attachment(name)
            continue
        if upload.size > settings.RECIPIENTS_MAX_UPLOAD_BYTES:
            form.forget_attachment(name)
            form.add_error(
                name,
                _(
                    "«%(name)s» non è stato conservato (supera %(size)s): selezionalo di "
                    "nuovo dopo aver fatto la scelta richiesta."
                )
                % {"name": upload.name, "size": size_text(settings.RECIPIENTS_MAX_UPLOAD_BYTES)},
            )
            continue
        if data is None:
            upload.seek(0)
            data = upload.read()
        stored = recipient_services.pending_upload_store(
            organization=membership.organization,
            actor=request.user,
            file_name=upload.name,
            data=data,
        )
        form.keep_attachment(name, stored)


def is_uuid(value: str) -> bool:
    """Whether `value` (a query or form value) reads as a UUID, before a lookup by public id."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def not_launched(recipient_list: RecipientList) -> HttpResponse | None:
    """A redirect to the dispatch once the list is launched, else None (the list pages)."""
    if recipient_list.dispatch_id is not None:
        return redirect("sending:dispatch_detail", public_id=recipient_list.dispatch.public_id)  # type: ignore[union-attr]
    return None


@role_required(OPERATOR)
def list_mapping(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Step 2: which column holds the fiscal code, each placeholder and the special fields."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (done := not_launched(recipient_list)) is not None:
        return done
    form = MappingForm(
        request.POST if request.method == "POST" else None,
        headers=recipient_list.headers,
        template=recipient_list.template,
        saved=recipient_list.column_mapping,
    )
    if request.method == "POST" and form.is_valid():
        mapping = form.mapping()
        spec = lists.message_spec(
            template=recipient_list.template,
            service=recipient_list.service,
            recipient_list=recipient_list,
        )
        problems = mapping_errors(headers=recipient_list.headers, mapping=mapping, spec=spec)
        for target, problem in problems.items():
            form.add_error(f"map_{target}", problem)
        if not problems:
            lists.recipient_list_validate(recipient_list=recipient_list, mapping=mapping)
            return redirect("messaging:list_result", public_id=recipient_list.public_id)
    rows = recipient_list.items(RecipientChunk.Kind.ROWS, 0, PREVIEW_ROWS)
    # Personal data masked: the columns mapped (or guessed) to a fiscal code, and any value
    # that looks like one.
    mapped = {
        form[f"map_{target}"].value()
        for target in fiscal_code_targets(recipient_list.template.placeholders or [])
        if f"map_{target}" in form.fields
    }
    sample = masked_sample(
        [row_cells(item) for item in rows],
        columns={
            i for i, header in enumerate(recipient_list.headers) if header and header in mapped
        },
    )
    return render(
        request,
        "messaging/list_mapping.html",
        {
            "form": form,
            "list": recipient_list,
            "sample": sample,
            "delimiter": delimiter_label(recipient_list.delimiter)
            if recipient_list.file_format == "csv"
            else "",
            "number_format": dict(NUMBER_FORMAT_CHOICES).get(recipient_list.number_format, ""),
            "other_number_format": _other_number_format(recipient_list),
        },
    )


@require_POST
@role_required(OPERATOR)
def list_number_format(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Read the list's numbers in the other convention, without a new upload; a checked list
    is checked again (`recipient_list_change_number_format`)."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (done := not_launched(recipient_list)) is not None:
        return done
    chosen = str(request.POST.get("number_format", ""))
    names = dict(NUMBER_FORMAT_CHOICES)
    if chosen not in names:
        messages.error(request, _("Scegli il formato dei numeri."))
        return redirect("messaging:list_mapping", public_id=recipient_list.public_id)
    recipient_list = lists.recipient_list_change_number_format(
        recipient_list=recipient_list, number_format=chosen
    )
    messages.success(
        request, _("Numeri del file letti nel formato: %(format)s.") % {"format": names[chosen]}
    )
    if recipient_list.state == RecipientList.State.VALIDATED:
        return redirect("messaging:list_result", public_id=recipient_list.public_id)
    return redirect("messaging:list_mapping", public_id=recipient_list.public_id)


def _other_number_format(recipient_list: RecipientList) -> dict[str, str]:
    """The convention the list is not read with: {"code", "name"}, for its button."""
    code = ENGLISH if recipient_list.number_format != ENGLISH else ITALIAN
    return {"code": code, "name": number_format_name(code), "example": NUMBER_FORMATS[code].example}


def checked(recipient_list: RecipientList) -> HttpResponse | None:
    """A redirect when the list is launched or not checked yet, else None (the pages after
    the check)."""
    if (done := not_launched(recipient_list)) is not None:
        return done
    if recipient_list.state != RecipientList.State.VALIDATED:
        return redirect("messaging:list_mapping", public_id=recipient_list.public_id)
    return None


@role_required(OPERATOR)
def list_result(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Step 3: counts, each rejected row with its line and reason, file warnings."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := checked(recipient_list)) is not None:
        return redirect_to
    rejected = [
        {**row, "problems": shown_problems(row)}
        for row in recipient_list.items(RecipientChunk.Kind.REJECTED, 0, REJECTED_SHOWN)
    ]
    template = recipient_list.template
    return render(
        request,
        "messaging/list_result.html",
        {
            "list": recipient_list,
            "rejected": rejected,
            "rejected_more": max(0, recipient_list.rejected_count - len(rejected)),
            "total_amount": euro_amount(recipient_list.total_amount),
            "attachments": list_attachments_summary(recipient_list=recipient_list),
            "other_number_format": _other_number_format(recipient_list),
            "test_mode_skips": list_test_mode_skips(recipient_list),
            "warnings": content_warnings(
                subject=template.subject,
                markdown=template.markdown,
                recipients=recipient_list.valid_count,
            ),
        },
    )


@role_required(OPERATOR)
def list_rejected_csv(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := checked(recipient_list)) is not None:
        return redirect_to
    body = recipient_services.rejected_rows_csv(
        recipient_list=recipient_list, actor=request.user, request=request
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"{pgettext('file name', 'righe-scartate')}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
