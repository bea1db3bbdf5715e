"""The "citizen opens the message" inspection action: its refusals and configuration.

The happy path against the portal's real server is in tests/remotecontent/test_integration.py.
"""

import requests

from tests.fakeio.support import ALPHA_CONFIGURATION, PROD_KEY, REACHABLE, message_body


def submit(fakeio, **changes):
    response = requests.post(
        f"{fakeio.url}/api/v1/messages",
        json=message_body(REACHABLE, **changes),
        headers={"Ocp-Apim-Subscription-Key": PROD_KEY},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def open_message(fakeio, message_id, **options):
    return requests.post(
        f"{fakeio.url}/__fakeio__/messages/{message_id}/open", json=options, timeout=5
    )


def test_open_refuses_unknown_standard_and_unconfigured(start_fakeio):
    fakeio = start_fakeio(status_delay=0)
    assert open_message(fakeio, "01JNOPE").status_code == 404
    standard = submit(fakeio)
    assert open_message(fakeio, standard).status_code == 409
    premium = submit(
        fakeio,
        feature_level_type="ADVANCED",
        content={
            "third_party_data": {
                "id": "abc",
                "configuration_id": ALPHA_CONFIGURATION,
                "has_attachments": True,
            }
        },
    )
    response = open_message(fakeio, premium)
    assert response.status_code == 409 and "no server configured" in response.json()["error"]


def test_rc_configuration_can_be_pointed_at_a_server_at_runtime(start_fakeio):
    fakeio = start_fakeio(status_delay=0)
    url = f"{fakeio.url}/__fakeio__/rc-configurations/{ALPHA_CONFIGURATION}"
    body = {"base_url": "http://127.0.0.1:9/rc", "header_key_name": "X-Key", "key": "k"}
    response = requests.put(url, json=body, timeout=5)
    assert response.status_code == 200 and response.json()["key"] == "••••"
    bad = requests.put(url, json={"base_url": "ftp://x"}, timeout=5)
    assert bad.status_code == 400
    unknown = requests.put(f"{fakeio.url}/__fakeio__/rc-configurations/01JX", json=body, timeout=5)
    assert unknown.status_code == 400
    premium = submit(
        fakeio,
        feature_level_type="ADVANCED",
        content={"third_party_data": {"id": "abc", "configuration_id": ALPHA_CONFIGURATION}},
    )
    # Nothing listens on port 9: reported, not raised.
    result = open_message(fakeio, premium).json()
    assert result["status"] == 0 and "connection failed" in result["error"]
