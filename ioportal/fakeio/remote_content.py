"""The "citizen opens the message" action: the simulator calls the sender's remote-content
server as io-backend does (IO-API.md §3.3), standard library only.

For a stored ADVANCED message with `third_party_data`, it GETs
`{base_url}/messages/{id}` with the `fiscal_code` header and the configuration's key
header, checks the answer as IO does (`has_attachments` without attachments is
ATTACHMENTS_NOT_PRESENT), then GETs `{base_url}/messages/{id}/{url}` for each attachment.
Redirects are not followed, as in IO.
"""

import hashlib
import http.client
import json
from typing import Any
from urllib.parse import quote, urlsplit

from ioportal.fakeio.config import RemoteContentEndpoint

TIMEOUT = 10.0


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.netloc, timeout=TIMEOUT)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        # http.client sends header names as given: "fiscal_code" keeps its underscore.
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def open_message(
    *,
    endpoint: RemoteContentEndpoint,
    message_id: str,
    fiscal_code: str,
    has_attachments: bool,
    key: str | None = None,
) -> dict[str, Any]:
    """Fetch the details and every attachment; returns what came back (never raises for
    HTTP errors; connection errors are reported as status 0)."""
    headers = {
        "fiscal_code": fiscal_code,
        endpoint.header_key_name: endpoint.key if key is None else key,
        "Accept": "application/json",
    }
    base = endpoint.base_url.rstrip("/")
    details_url = f"{base}/messages/{quote(message_id, safe='')}"
    result: dict[str, Any] = {"details_url": details_url, "attachments": [], "error": None}
    try:
        status, response_headers, body = _get(details_url, headers)
    except OSError as exc:
        result.update(status=0, error=f"connection failed: {exc}")
        return result
    result["status"] = status
    result["content_type"] = response_headers.get("content-type", "")
    result["body"] = _json(body)
    if status != 200:
        result["error"] = "DETAILS_NOT_AVAILABLE"
        return result
    attachments = (result["body"] or {}).get("attachments") or []
    if has_attachments and not attachments:
        result["error"] = "ATTACHMENTS_NOT_PRESENT"
        return result
    for attachment in attachments:
        url = f"{details_url}/{attachment.get('url', '')}"
        entry: dict[str, Any] = {
            "id": attachment.get("id"),
            "name": attachment.get("name"),
            "url": url,
        }
        try:
            a_status, a_headers, data = _get(url, headers)
        except OSError as exc:
            entry.update(status=0, error=f"connection failed: {exc}")
        else:
            entry.update(
                status=a_status,
                content_type=a_headers.get("content-type", ""),
                retry_after=a_headers.get("retry-after"),
                size=len(data) if a_status == 200 else 0,
                sha256=hashlib.sha256(data).hexdigest() if a_status == 200 else None,
                starts_with_pdf=data.startswith(b"%PDF-") if a_status == 200 else False,
            )
        result["attachments"].append(entry)
    return result
