"""Filling placeholders: plain substitution, never a template engine.

A placeholder is `{{ name }}` in the subject or the markdown. Values are data: one pass of a
regular expression replaces each known placeholder with its value, so a value containing
`{{ x }}`, `{% ... %}` or HTML is sent literally, and unknown names stay as they are.

The sending pipeline builds each citizen's message with `delivery_content`.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
PLACEHOLDER_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


def placeholder_names(*texts: str) -> list[str]:
    """The placeholder names used in `texts`, in order of first appearance, without repeats."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER_RE.finditer(text):
            seen.setdefault(match.group(1), None)
    return list(seen)


def render(text: str, variables: Mapping[str, str], known: Iterable[str] | None = None) -> str:
    """`text` with each `{{ name }}` replaced by `variables[name]` in a single pass.

    Only names in `known` (default: the keys of `variables`) are replaced; a missing value
    of a known name becomes the empty string. No side effects.
    """
    names = set(variables if known is None else known)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            return match.group(0)
        return str(variables.get(name, ""))

    return PLACEHOLDER_RE.sub(substitute, text)


def delivery_content(dispatch: Any, delivery: Any) -> tuple[str, str]:
    """The subject and markdown one citizen receives: the dispatch's frozen texts filled with
    the delivery's variables. Only the dispatch's declared placeholders are replaced."""
    known = [str(p.get("name", "")) for p in (dispatch.placeholders or [])]
    variables = {k: v for k, v in (delivery.variables or {}).items() if not k.startswith("__")}
    return (
        render(dispatch.subject, variables, known),
        render(dispatch.markdown, variables, known),
    )
