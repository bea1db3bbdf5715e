"""The message as the IO app shows it, and the content checks that help follow IO's rules.

Markdown is rendered with markdown-it-py restricted to what the IO app displays (headings,
bold and italic, lists, links, paragraphs and line breaks); raw HTML is never rendered, so a
value with HTML in it shows as text. A YAML front matter at the top with `cta_1`/`cta_2` is
shown as buttons, as PagoPA's own messages do.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from markdown_it import MarkdownIt

from ioportal.ioapi.payloads import MARKDOWN_MAX, MARKDOWN_MIN, SUBJECT_MAX, SUBJECT_MIN, js_length
from ioportal.messaging.rendering import placeholder_names

FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
CTA_ACTION_PREFIXES = ("ioit://", "iohandledlink://", "iosso://")
FISCAL_CODE_IN_TEXT_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}"
    r"[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z](?![A-Za-z0-9])"
)
AMOUNT_IN_TEXT_RE = re.compile(r"€|\beur(?:o)?\b\s*\d|\d+[.,]\d{2}\b", re.IGNORECASE)
LINK_RE = re.compile(r"https?://|\]\(", re.IGNORECASE)
UNSUPPORTED = [
    (re.compile(r"!\["), gettext_lazy("immagini")),
    (re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE), gettext_lazy("tabelle")),
    (re.compile(r"<[A-Za-z/!][^>]*>"), gettext_lazy("codice HTML")),
    (re.compile(r"```|`[^`\n]+`"), gettext_lazy("codice")),
    (re.compile(r"^\s{0,3}>", re.MULTILINE), gettext_lazy("citazioni")),
]

_renderer = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False}).enable(
    ["heading", "lheading", "list", "emphasis", "link", "newline", "escape"]
)


@dataclass
class Preview:
    subject: str
    html: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    subject_length: int = 0
    markdown_length: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def subject_ok(self) -> bool:
        return SUBJECT_MIN <= self.subject_length <= SUBJECT_MAX

    @property
    def markdown_ok(self) -> bool:
        return MARKDOWN_MIN <= self.markdown_length <= MARKDOWN_MAX


def split_front_matter(markdown: str) -> tuple[dict[str, Any] | None, str, str]:
    """(parsed front matter or None, body, problem). A front matter that is not valid YAML
    is left in the body and reported."""
    match = FRONT_MATTER_RE.match(markdown)
    if not match:
        return None, markdown, ""
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None, markdown, _("L'intestazione con i pulsanti (CTA) non è YAML valido.")
    if not isinstance(data, dict):
        return None, markdown, _("L'intestazione con i pulsanti (CTA) non è YAML valido.")
    return data, markdown[match.end() :], ""


def cta_buttons(front_matter: dict[str, Any] | None, language: str = "it") -> list[dict[str, str]]:
    if not front_matter:
        return []
    block = front_matter.get(language) or front_matter.get("it") or {}
    buttons = []
    if isinstance(block, dict):
        for key in ("cta_1", "cta_2"):
            cta = block.get(key)
            if isinstance(cta, dict) and cta.get("text"):
                buttons.append({"text": str(cta["text"]), "action": str(cta.get("action", ""))})
    return buttons


def render_preview(*, subject: str, markdown: str) -> Preview:
    """Subject and markdown as the IO app shows them, with IO's length counts (UTF-16)."""
    front_matter, body, problem = split_front_matter(markdown)
    preview = Preview(
        subject=subject,
        html=_renderer.render(body),
        buttons=cta_buttons(front_matter),
        subject_length=js_length(subject),
        markdown_length=js_length(markdown),
    )
    if problem:
        preview.notes.append(problem)
    return preview


def content_warnings(*, subject: str, markdown: str, recipients: int = 1) -> list[str]:
    """Sentences for the operator about IO's content rules. Advisory: nothing is blocked.

    Checks: placeholders or personal-looking data in the subject (IO forbids personal data in
    titles), identical text to many citizens (IO forbids mass communications), links,
    markdown the app does not show, CTA buttons.
    """
    warnings: list[str] = []
    in_subject = placeholder_names(subject)
    if in_subject:
        warnings.append(
            _(
                "L'oggetto contiene segnaposto (%(names)s): IO vieta dati personali "
                "nell'oggetto, che è visibile nelle notifiche."
            )
            % {"names": ", ".join(f"«{name}»" for name in in_subject)}
        )
    if FISCAL_CODE_IN_TEXT_RE.search(subject):
        warnings.append(_("L'oggetto sembra contenere un codice fiscale: IO lo vieta."))
    if AMOUNT_IN_TEXT_RE.search(subject):
        warnings.append(
            _("L'oggetto sembra contenere un importo: spostalo nel testo del messaggio.")
        )
    front_matter, body, problem = split_front_matter(markdown)
    if recipients > 1 and not placeholder_names(subject, markdown):
        warnings.append(
            ngettext(
                "Lo stesso testo, senza dati personali, va a %(n)s cittadino.",
                "Lo stesso testo, senza dati personali, va a %(n)s cittadini: IO vieta le "
                "comunicazioni massive non personalizzate.",
                recipients,
            )
            % {"n": recipients}
        )
    if LINK_RE.search(body):
        warnings.append(
            _(
                "Il testo contiene link: usa solo indirizzi https dell'ente o di PagoPA, mai "
                "link accorciati."
            )
        )
    found = [str(label) for pattern, label in UNSUPPORTED if pattern.search(body)]
    if found:
        warnings.append(
            _("L'app IO non mostra %(what)s: il cittadino vedrebbe i simboli così come sono.")
            % {"what": ", ".join(found)}
        )
    if problem:
        warnings.append(problem)
    buttons = cta_buttons(front_matter)
    if buttons:
        warnings.append(
            _(
                "Il messaggio ha pulsanti (CTA): PagoPA li usa nei propri messaggi, ma il loro "
                "uso da parte degli enti non è confermato."
            )
        )
        for button in buttons:
            if not button["action"].startswith(CTA_ACTION_PREFIXES):
                warnings.append(
                    _("Il pulsante «%(text)s» non ha un'azione IO valida (ioit://…).")
                    % {"text": button["text"]}
                )
    return warnings
