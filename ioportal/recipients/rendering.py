"""The message a citizen receives: placeholders filled, then IO's message body.

Filling placeholders is plain substitution, never a template engine.

A placeholder is `{{ name }}` in the subject or the markdown. Values are data: one pass of a
regular expression replaces each known placeholder with its value, so a value containing
`{{ x }}`, `{% ... %}` or HTML is sent literally, and unknown names stay as they are.

A value is content, never markup: in the markdown body every character of a value that markdown
could read as syntax is backslash-escaped (CommonMark §2.4), so `[Paga qui](https://…)`,
`![x](…)`, `**`, `#`, `<b>` or a bare `https://` show in the IO app as the characters typed,
never as a live link, an image or formatting. The subject is plain text in IO and the CTA front
matter is YAML: values go there as they are. IO's length limits are checked on the escaped
text, which is what is sent.

`fill_message` is the one renderer: the sending pipeline (`delivery_content`), the row check
of a recipient list and every preview go through it. `io_message` is the one place that turns
a message's data into IO's `NewMessage`: the single-message form and the row check validate it,
the worker (`delivery_message`) sends it, test sends included.
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import yaml

from ioportal.ioapi import FeatureLevel, NewMessage, PaymentData, ThirdPartyData
from ioportal.ioapi.payloads import message_content

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
PLACEHOLDER_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
# The characters that mean something in CommonMark or GFM as the IO app parses them: emphasis
# (* _), strikethrough (~), code (`), links and images (! [ ] ( )), HTML, autolinks and quotes
# (< >), entities (&), headings (#), lists and rules (+ - = . ), tables (|), bare URLs and
# e-mail addresses (: @ .), and the backslash itself. Each is escapable (CommonMark §2.4).
MARKDOWN_SPECIAL_RE = re.compile(r"([\\`*_~\[\]()!<>&#+\-=.|:@])")
_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*_~[]()!<>&#+-=.|:@"})
# A line break in a value with the blank lines, spaces and tabs around it (escape_markdown).
VALUE_LINE_BREAKS_RE = re.compile(r"[ \t]*(?:\r\n?|\n)(?:[ \t]*(?:\r\n?|\n))*[ \t]*")
# The front matter as the IO app finds it: the `front-matter` package's pattern (a line that
# is exactly `---` or `= yaml =`, up to the next line that is the same delimiter or `...`),
# with JavaScript's multiline `^`/`$` (any line terminator) spelled out for Python.
_JS_BOL = r"(?:\A|(?<=[\n\r\u2028\u2029]))"
_JS_EOL = r"(?=[\n\r\u2028\u2029]|\Z)"
APP_FRONT_MATTER_RE = re.compile(
    rf"{_JS_BOL}(\ufeff?(= yaml =|---){_JS_EOL}([\s\S]*?){_JS_BOL}(?:\2|\.\.\.)\s*{_JS_EOL}\n?)"
)
APP_FIRST_LINE_RE = re.compile(r"= yaml =|---")
# What the app shows as a line break, in HTML and in text alike (its messages' render rules).
APP_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)


def placeholder_names(*texts: str) -> list[str]:
    """The placeholder names used in `texts`, in order of first appearance, without repeats."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER_RE.finditer(text):
            seen.setdefault(match.group(1), None)
    return list(seen)


def app_front_matter(markdown: str) -> re.Match[str] | None:
    """The front matter the IO app reads from `markdown`, or None when it sees none.

    As the app's `front-matter` package does: the first line must contain `---` (or
    `= yaml =`), then the first block delimited by lines that are exactly `---` is the front
    matter (group 3 is its YAML); the app removes it from the body. A delimiter with trailing
    spaces, or the block not on the first line, is no front matter: the YAML shows as text.
    """
    first_line = re.split(r"\r?\n", markdown, maxsplit=1)[0]
    if not first_line or not APP_FIRST_LINE_RE.search(first_line):
        return None
    return APP_FRONT_MATTER_RE.search(markdown)


def escape_markdown(value: str) -> str:
    """`value` with a backslash before each character that markdown (CommonMark and GFM, as
    the IO app parses them) could read as syntax, so that it shows literally.

    Line breaks are what escaping cannot reach: a blank line ends the paragraph, and a line
    indented by four spaces after it is a code block (CommonMark §4.4). So each line break of
    a value (CRLF, CR, LF) becomes one LF, which the app shows as a line break, with the blank
    lines and the spaces and tabs around it dropped; the value neither starts nor ends with a
    line break, nor starts with a space or tab. Inside a paragraph no block can start, and
    the characters the citizen reads are the value's (markdown never shows the spaces that
    start a line)."""
    if "\n" in value or "\r" in value:
        text = VALUE_LINE_BREAKS_RE.sub("\n", value).lstrip(" \t\n").rstrip("\n")
    else:
        text = value.lstrip(" \t")  # the usual case: nothing to join
    # str.translate does what MARKDOWN_SPECIAL_RE.sub(r"\\\1", text) does, without a match
    # object per character; a value with no special character is returned as it is.
    return text.translate(_MARKDOWN_ESCAPES) if MARKDOWN_SPECIAL_RE.search(text) else text


def render(
    text: str,
    variables: Mapping[str, str],
    known: Iterable[str] | None = None,
    *,
    escape: Callable[[str], str] | None = None,
) -> str:
    """`text` with each `{{ name }}` replaced by `variables[name]` in a single pass.

    Only names in `known` (default: the keys of `variables`) are replaced; a missing value
    of a known name becomes the empty string. `escape`, when given, is applied to each value
    (see `fill_message`). No side effects.
    """
    names = set(variables if known is None else known)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            return match.group(0)
        value = str(variables.get(name, ""))
        return escape(value) if escape else value

    return PLACEHOLDER_RE.sub(substitute, text)


def fill_message(
    *,
    subject: str,
    markdown: str,
    variables: Mapping[str, Any],
    known: Iterable[str] | None = None,
) -> tuple[str, str]:
    """The (subject, markdown) one citizen receives: values literal in the subject and in the
    CTA front matter, markdown-escaped in the body. `known` as in `render`; variables whose
    name starts with `__` (internal, e.g. the attachment's file name) are never substituted."""
    values = {str(k): str(v) for k, v in variables.items() if not str(k).startswith("__")}
    names = frozenset(values if known is None else known)
    subject_parts, head_parts, body_parts = _message_parts(subject, markdown, names)
    return (
        _fill(subject_parts, values),
        _fill(head_parts, values) + _fill(body_parts, values, escape=escape_markdown),
    )


# A text split at the placeholders to replace: ((literal, name), ...) and the final literal.
_Parts = tuple[tuple[tuple[str, str], ...], str]


def _parts(text: str, names: frozenset[str]) -> _Parts:
    """`text` split at each `{{ name }}` with `name` in `names`, as `render`'s single pass
    finds them (another placeholder stays in the literal text)."""
    parts: list[tuple[str, str]] = []
    start = 0
    for match in PLACEHOLDER_RE.finditer(text):
        if match.group(1) in names:
            parts.append((text[start : match.start()], match.group(1)))
            start = match.end()
    return tuple(parts), text[start:]


@functools.lru_cache(maxsize=64)
def _message_parts(
    subject: str, markdown: str, names: frozenset[str]
) -> tuple[_Parts, _Parts, _Parts]:
    """The subject, the markdown's CTA front matter and its body, split once per set of texts
    (`_parts`): a list fills the same texts for every row."""
    front = app_front_matter(markdown)
    head = markdown[: front.end()] if front is not None and front.start() == 0 else ""
    body = markdown[len(head) :]
    return _parts(subject, names), _parts(head, names), _parts(body, names)


def _fill(
    parts: _Parts, values: Mapping[str, str], escape: Callable[[str], str] | None = None
) -> str:
    """What `render` gives for the text split into `parts`: each name's value (empty when
    missing), passed through `escape` when given."""
    pieces, tail = parts
    if not pieces:
        return tail
    out: list[str] = []
    for literal, name in pieces:
        value = values.get(name, "")
        out += (literal, escape(value) if escape else value)
    out.append(tail)
    return "".join(out)


def _yaml_shape(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _yaml_shape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_yaml_shape(item) for item in node]
    return type(node).__name__


_NO_CHECK = object()


@functools.lru_cache(maxsize=64)
def _front_matter_reference(markdown: str) -> Any:
    """The YAML shape of `markdown`'s front matter with every placeholder filled with "x", or
    _NO_CHECK when there is nothing to compare (no front matter, no placeholder in it, or
    YAML the template itself gets wrong, which is reported on the template)."""
    front = app_front_matter(markdown)
    if front is None or front.start() != 0 or not PLACEHOLDER_RE.search(front.group(3)):
        return _NO_CHECK
    try:
        return _yaml_shape(yaml.safe_load(PLACEHOLDER_RE.sub("x", front.group(3))))
    except yaml.YAMLError:
        return _NO_CHECK


def front_matter_changed(markdown: str, filled: str) -> bool:
    """Whether the values filled into `markdown` (giving `filled`) change its CTA front
    matter's structure: YAML that no longer parses, keys added or removed, a text that became
    a number. Values are literal there (YAML has no escaping that suits every quoting style),
    so a value like `x"` or a line break with new keys must not reach the app."""
    expected = _front_matter_reference(markdown)
    if expected is _NO_CHECK:
        return False
    after = app_front_matter(filled)
    if after is None or after.start() != 0:
        return True
    try:
        return bool(_yaml_shape(yaml.safe_load(after.group(3))) != expected)
    except yaml.YAMLError:
        return True


def delivery_content(dispatch: Any, delivery: Any) -> tuple[str, str]:
    """The subject and markdown one citizen receives: the dispatch's frozen texts filled with
    the delivery's variables. Only the dispatch's declared placeholders are replaced."""
    return fill_message(
        subject=dispatch.subject,
        markdown=dispatch.markdown,
        variables=delivery.variables or {},
        known=[str(p.get("name", "")) for p in (dispatch.placeholders or [])],
    )


def io_message(
    *,
    fiscal_code: str,
    subject: str,
    markdown: str,
    feature_level: str,
    due_date: datetime | None = None,
    amount: int | None = None,
    notice_number: str = "",
    invalid_after_due_date: bool = False,
    payee_fiscal_code: str = "",
    third_party_data: ThirdPartyData | None = None,
) -> NewMessage:
    """IO's message for already filled texts. `feature_level` is the portal's value
    ("standard" or "advanced", messaging.models.FeatureLevel); `amount` is in euro cents. The
    message has a pagoPA payment notice only when it has both an amount and a notice number;
    an empty payee fiscal code means the service's organization (IO's default)."""
    payment = None
    if amount is not None and notice_number:
        payment = PaymentData(
            amount=amount,
            notice_number=notice_number,
            invalid_after_due_date=invalid_after_due_date,
            payee_fiscal_code=payee_fiscal_code or None,
        )
    return NewMessage(
        fiscal_code=fiscal_code,
        subject=subject,
        markdown=markdown,
        feature_level_type=(
            FeatureLevel.ADVANCED if feature_level == "advanced" else FeatureLevel.STANDARD
        ),
        due_date=due_date,
        payment_data=payment,
        third_party_data=third_party_data,
    )


def delivery_message(
    delivery: Any, fiscal_code: str, *, third_party_data: ThirdPartyData | None = None
) -> NewMessage:
    """IO's message for one delivery of a dispatch (`delivery_content` filled into
    `io_message`), with the citizen's fiscal code in clear."""
    dispatch = delivery.dispatch
    subject, markdown = delivery_content(dispatch, delivery)
    return io_message(
        fiscal_code=fiscal_code,
        subject=subject,
        markdown=markdown,
        feature_level=dispatch.feature_level,
        due_date=delivery.due_date,
        amount=delivery.payment_amount,
        notice_number=delivery.notice_number,
        invalid_after_due_date=delivery.invalid_after_due_date,
        payee_fiscal_code=delivery.payee_fiscal_code,
        third_party_data=third_party_data,
    )


def content_sha256(message: NewMessage) -> str:
    """SHA-256 (64 hex digits) of what the citizen reads: the message's `feature_level_type`
    and its IO `content` (subject, markdown, due date, payment data; ioapi.payloads
    `message_content`) as canonical JSON (sorted keys, no spaces, UTF-8).

    Not hashed: the fiscal code (the recipient is named apart) and `third_party_data`, whose
    id differs for every delivery. The same message always gives the same hash, so it serves
    both the proof of sending and the search for a content sent twice to the same citizen.
    """
    content = message_content(message)
    content.pop("third_party_data", None)
    canonical = _CANONICAL_JSON.encode(
        {"feature_level_type": FeatureLevel(message.feature_level_type).value, "content": content}
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# One encoder for every hash: `json.dumps` with options builds a new one per call.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
