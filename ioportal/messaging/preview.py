"""The message as the IO app shows it, and the content checks that help follow IO's rules.

The rules are those of the IO app's message screen (pagopa/io-app, `IOMarkdown` with the
messages' rules, and `features/messages/utils/ctas.ts`):

- markdown: headings, bold and italic, lists, links, paragraphs; a line break inside a
  paragraph is shown as a line break; `<br>`, `<br/>`, `<br />` are line breaks; any other HTML
  is shown as text. Rendered with markdown-it-py restricted to that subset, never raw HTML.
- CTA buttons: a YAML front matter as the `front-matter` package reads it (first line exactly
  `---`, closed by a line `---`), with a block per app language, `it` and `en` (an app in
  German uses `it`); a block needs `cta_1` (`cta_2` is optional), each with string `text` and
  `action`, and at least one action the app handles. Otherwise the app shows no button; a
  front matter that is not valid YAML makes the app show an error instead of the message.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from markdown_it import MarkdownIt

from ioportal.core.fiscalcode import contains_fiscal_code
from ioportal.core.numbers import euro_amount
from ioportal.ioapi.payloads import MARKDOWN_MAX, MARKDOWN_MIN, SUBJECT_MAX, SUBJECT_MIN, js_length
from ioportal.recipients.rendering import app_front_matter, placeholder_names

# The languages that have a CTA block in the app; an app in any other language reads "it".
CTA_LANGUAGES = ("it", "en")
HANDLED_LINK_PREFIX = "iohandledlink://"
HANDLED_LINK_SCHEMES = frozenset({"http", "https", "sms", "tel", "mailto", "copy"})
# Text that was meant as CTA front matter but that the app would not read as such.
LOOKS_LIKE_CTA_RE = re.compile(r"^\s*(?:it|en)\s*:\s*$[\s\S]*\bcta_[12]\s*:", re.MULTILINE)
ESCAPED_BR_RE = re.compile(r"&lt;br\s*/?&gt;", re.IGNORECASE)
AMOUNT_IN_TEXT_RE = re.compile(r"€|\beur(?:o)?\b\s*\d|\d+[.,]\d{2}\b", re.IGNORECASE)
# A placeholder inside a code span or an autolink: there markdown keeps backslashes, so the
# escaping that keeps values literal (rendering.escape_markdown) would show.
PLACEHOLDER_UNESCAPED_CONTEXT_RE = re.compile(
    r"`[^`\n]*\{\{\s*[A-Za-z_]\w*\s*\}\}[^`\n]*`|<[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^<>\s]*\{\{"
)
LINK_RE = re.compile(r"https?://|\]\(", re.IGNORECASE)
UNSUPPORTED = [
    (re.compile(r"(?<!\\)!\["), gettext_lazy("immagini")),
    (re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE), gettext_lazy("tabelle")),
    (re.compile(r"<(?!br\s*/?>)[A-Za-z/!][^>]*>", re.IGNORECASE), gettext_lazy("codice HTML")),
    (re.compile(r"```|`[^`\n]+`"), gettext_lazy("codice")),
    (re.compile(r"^\s{0,3}>", re.MULTILINE), gettext_lazy("citazioni")),
]

# "breaks": a soft line break is a line break, as the app's text components show "\n".
_renderer = MarkdownIt(
    "zero", {"html": False, "linkify": False, "typographer": False, "breaks": True}
).enable(["heading", "lheading", "list", "emphasis", "link", "newline", "escape", "entity"])


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


@dataclass
class CtaCheck:
    """What the app makes of a message's CTA front matter.

    `errors`: the app shows no button at all, or an error instead of the message (a template
    with one is refused); `warnings`: some citizens see no button, or a button does nothing;
    `buttons`: per CTA language, the buttons the app shows (text and action).
    """

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    buttons: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    front_matter: dict[str, Any] | None = None
    body: str = ""


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any) -> None:
        super().__init__(key)
        self.key = key


class _AppYamlLoader(yaml.SafeLoader):
    """YAML as the app's `front-matter` package reads it (js-yaml): a key repeated in the
    same block is an error ("duplicated mapping key"), where PyYAML keeps the last value."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    continue  # SafeLoader refuses a key that is a list or a mapping
                if key in seen:
                    raise _DuplicateKey(key)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def split_front_matter(markdown: str) -> tuple[dict[str, Any] | None, str, str]:
    """(parsed front matter or None, body, problem), as the IO app splits the message.

    A front matter that is not valid YAML is left in the body and reported: the app then shows
    an error instead of the message.
    """
    front = app_front_matter(markdown)
    if front is None:
        return None, markdown, ""
    try:
        data = yaml.load(front.group(3).strip(), Loader=_AppYamlLoader)  # noqa: S506 - safe
    except _DuplicateKey as duplicate:
        return (
            None,
            markdown,
            _(
                "Nell'intestazione con i pulsanti (CTA) «%(key)s» compare due volte nello "
                "stesso blocco: l'app IO mostrerebbe un avviso di errore al posto del messaggio. "
                "Lascia una sola «%(key)s»."
            )
            % {"key": duplicate.key},
        )
    except yaml.YAMLError:
        return (
            None,
            markdown,
            _(
                "L'intestazione con i pulsanti (CTA) non è YAML valido: l'app IO mostrerebbe "
                "un avviso di errore al posto del messaggio."
            ),
        )
    body = markdown[: front.start()] + markdown[front.end() :]
    return (data if isinstance(data, dict) else {}), body, ""


def _is_cta(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("text"), str)
        and isinstance(value.get("action"), str)
    )


def cta_action_ok(action: str) -> bool:
    """Whether the app does something with a CTA's action: an internal route (`ioit://`), a
    single sign-on link (`iosso://`) or `iohandledlink://` with http(s), sms, tel, mailto or
    copy followed by `:`."""
    lowered = action.lower()
    if lowered.startswith(("ioit://", "iosso://")):
        return True
    if HANDLED_LINK_PREFIX not in lowered:
        return False
    cleaned = re.sub(re.escape(HANDLED_LINK_PREFIX), "", action.strip(), flags=re.IGNORECASE)
    scheme, colon, _rest = cleaned.partition(":")
    return bool(colon) and scheme.lower() in HANDLED_LINK_SCHEMES


def _language_problems(block: Any, language: str) -> tuple[list[str], list[dict[str, str]]]:
    """(errors, buttons) of one language block."""
    names = {"lang": language}
    if not isinstance(block, dict) or block.get("cta_1") is None:
        if isinstance(block, dict) and "cta_2" in block:
            message = _(
                "Nel blocco «%(lang)s» c'è cta_2 senza cta_1: l'app IO non mostra alcun "
                "pulsante. Chiama cta_1 il primo pulsante."
            )
        else:
            message = _("Il blocco «%(lang)s» non ha cta_1: l'app IO non mostra alcun pulsante.")
        return [message % names], []
    errors = []
    for key in ("cta_1", "cta_2"):
        if key in block and not _is_cta(block[key]):
            errors.append(
                _(
                    "Nel blocco «%(lang)s», %(key)s deve avere «text» e «action», entrambi "
                    "testi: l'app IO non mostra alcun pulsante."
                )
                % {**names, "key": key}
            )
    if errors:
        return errors, []
    buttons = [
        {"text": block[key]["text"], "action": block[key]["action"].strip()}
        for key in ("cta_1", "cta_2")
        if key in block
    ]
    if not any(cta_action_ok(button["action"]) for button in buttons):
        errors.append(
            _(
                "Nel blocco «%(lang)s» nessun pulsante ha un'azione che l'app IO sa eseguire "
                "(ioit://, iosso://, iohandledlink://https://…): l'app non mostra alcun pulsante."
            )
            % names
        )
        return errors, []
    return [], buttons


def cta_check(markdown: str) -> CtaCheck:
    """The CTA buttons of `markdown` as the IO app reads them, with the operator's problems.

    Source: pagopa/io-app `features/messages/utils/ctas.ts` and `types/LocalizedCTAs.ts`.
    No side effects.
    """
    data, body, problem = split_front_matter(markdown)
    check = CtaCheck(front_matter=data, body=body)
    if problem:
        check.errors.append(problem)
        return check
    if data is None:
        if LOOKS_LIKE_CTA_RE.search(markdown):
            check.errors.append(
                _(
                    "Il testo sembra contenere pulsanti (CTA), ma l'app IO non li legge: "
                    "l'intestazione deve iniziare alla prima riga con una riga di soli tre "
                    "trattini (---), senza spazi, e chiudersi con un'altra riga ---. Così il "
                    "cittadino la vedrebbe come testo."
                )
            )
        return check
    languages = [language for language in CTA_LANGUAGES if language in data]
    if not languages:
        check.errors.append(
            _("L'intestazione non ha un blocco «it» o «en»: l'app IO non mostra alcun pulsante.")
        )
    for key in data:
        if key not in CTA_LANGUAGES:
            check.warnings.append(
                _("Il blocco «%(key)s» dell'intestazione è ignorato: l'app IO legge «it» ed «en».")
                % {"key": key}
            )
    for language in languages:
        errors, buttons = _language_problems(data[language], language)
        check.errors += errors
        if buttons:
            check.buttons[language] = buttons
    for language_buttons in check.buttons.values():
        for button in language_buttons:
            if not cta_action_ok(button["action"]):
                check.warnings.append(
                    _("Il pulsante «%(text)s» non ha un'azione IO valida (ioit://…).")
                    % {"text": button["text"]}
                )
    if "it" in check.buttons and "en" not in check.buttons:
        check.warnings.append(
            _(
                "I pulsanti ci sono solo in italiano: chi ha l'app IO in inglese non vede alcun "
                "pulsante. Aggiungi il blocco «en»."
            )
        )
    elif "en" in check.buttons and "it" not in check.buttons:
        check.warnings.append(
            _(
                "I pulsanti ci sono solo in inglese: chi ha l'app IO in italiano o in tedesco "
                "non vede alcun pulsante. Aggiungi il blocco «it»."
            )
        )
    return check


def cta_buttons(front_matter: dict[str, Any] | None, language: str = "it") -> list[dict[str, str]]:
    """The buttons the app shows in `language` (an app in German reads "it"), or []."""
    if not front_matter:
        return []
    language = language if language in CTA_LANGUAGES else "it"
    if language not in front_matter:
        return []
    errors, buttons = _language_problems(front_matter[language], language)
    return [] if errors else buttons


def render_body(body: str) -> str:
    """HTML of a message body as the app shows it: `<br>` tags are line breaks (the app
    replaces them in HTML and in text alike), other HTML shows as text."""
    return ESCAPED_BR_RE.sub("<br>\n", _renderer.render(body))


def payment_box(
    *, amount: int | None, notice_number: str = "", due_date: datetime | str | None = None
) -> dict[str, Any] | None:
    """What the phone preview shows under the text of one citizen's message: the payment
    notice (`amount` in euro cents, written in euro; its notice number) and the due date
    (a datetime, or ISO text as the rows of a list hold it); None when there is neither."""
    if isinstance(due_date, str):
        due_date = datetime.fromisoformat(due_date) if due_date else None
    if not amount and due_date is None:
        return None
    return {
        "amount": euro_amount(amount) if amount else "",
        "notice_number": notice_number if amount else "",
        "due_date": due_date,
    }


def render_preview(*, subject: str, markdown: str) -> Preview:
    """Subject and markdown as the IO app shows them, with IO's length counts (UTF-16).

    The buttons are those of an app in Italian; `notes` tell what the app does differently
    (no button for some languages, an error instead of the message).
    """
    check = cta_check(markdown)
    preview = Preview(
        subject=subject,
        html=render_body(check.body),
        buttons=check.buttons.get("it", []),
        subject_length=js_length(subject),
        markdown_length=js_length(markdown),
    )
    preview.notes += check.errors + check.warnings
    return preview


def content_warnings(*, subject: str, markdown: str, recipients: int | None = None) -> list[str]:
    """Sentences for the operator about IO's content rules. Advisory: nothing is blocked.

    Checks: placeholders or personal-looking data in the subject (IO forbids personal data in
    titles), identical text to many citizens (IO forbids mass communications), links,
    markdown the app does not show, CTA buttons.

    `recipients` is the number of citizens of the list the text goes to, or None for a
    template on its own (no list yet): a text without placeholders is then said to give
    every citizen the same text, with no number, and with a list it names the list's count
    (no sentence for a list of one citizen).
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
    if contains_fiscal_code(subject):
        warnings.append(_("L'oggetto sembra contenere un codice fiscale: IO lo vieta."))
    if AMOUNT_IN_TEXT_RE.search(subject):
        warnings.append(
            _("L'oggetto sembra contenere un importo: spostalo nel testo del messaggio.")
        )
    body = split_front_matter(markdown)[1]
    if recipients is None and not placeholder_names(subject, markdown):
        warnings.append(
            _(
                "Il testo non ha segnaposto: ogni cittadino a cui invierai questo modello "
                "riceverà lo stesso testo, senza dati personali. IO vieta le comunicazioni "
                "massive non personalizzate."
            )
        )
    elif recipients is not None and recipients > 1 and not placeholder_names(subject, markdown):
        warnings.append(
            ngettext(
                "Lo stesso testo, senza dati personali, va a %(n)s cittadino.",
                "Lo stesso testo, senza dati personali, va a %(n)s cittadini: IO vieta le "
                "comunicazioni massive non personalizzate.",
                recipients,
            )
            % {"n": number_format(recipients, force_grouping=True)}
        )
    if PLACEHOLDER_UNESCAPED_CONTEXT_RE.search(body):
        warnings.append(
            _(
                "Un segnaposto è dentro un codice tra apici inversi (`) o un indirizzo tra < >: "
                "lì i simboli dei valori comparirebbero preceduti da \\. Usa testo normale o "
                "un link [testo](indirizzo)."
            )
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
    check = cta_check(markdown)
    if check.buttons:
        warnings.append(
            _(
                "Il messaggio ha pulsanti (CTA): PagoPA li usa nei propri messaggi, ma il loro "
                "uso da parte degli enti non è confermato."
            )
        )
    warnings += check.errors + check.warnings
    return list(dict.fromkeys(warnings))
