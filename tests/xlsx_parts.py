"""Workbooks as some office suites write them: an XLSX with one of its XML parts rewritten."""

import io
import zipfile
from collections.abc import Callable


def rewrite_part(data: bytes, path: str, change: Callable[[str], str]) -> bytes:
    """The same XLSX with the XML part `path` changed by `change(text) -> text`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == path:
                content = change(content.decode()).encode()
            target.writestr(entry, content)
    return out.getvalue()
