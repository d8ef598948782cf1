"""--credentials: the simulator authenticates scheduler calls as Mesos 1.11 with
--authenticate_http_frameworks (libprocess' Basic authenticator, realm mesos-master-scheduler)."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest
from simkit import SimClient, framework_info

from scheduler.sim.auth import authenticate, load_credentials, parse_credentials

CREDS = (("fw", "pw"), ("other", "pw2"))
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def basic(principal: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


@pytest.fixture
async def authed(make_sim):
    handle, _ = await make_sim(credentials=CREDS)
    session = aiohttp.ClientSession(headers={"Authorization": basic("fw", "pw")})
    client = SimClient(session, handle.url)
    yield handle, client
    await client.close()
    await session.close()


def test_parse_credentials_mesos_json_format():
    text = json.dumps({"credentials": [{"principal": "a", "secret": "s1"}, {"principal": "b", "secret": "s2"}]})
    assert parse_credentials(text) == (("a", "s1"), ("b", "s2"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("a s1\n", "invalid json"),  # the text format of old Mesos releases: 1.11 reads JSON only
        ('{"credentials": []}', "at least one credential"),
        ('{"credentials": [{"secret": "x"}]}', "'principal'"),
        ('{"credentials": [{"principal": "a", "secret": 5}]}', "'secret' must be a string"),
        ('{"credentials": [{"principal": "a", "secret": "x", "extra": 1}]}', "unknown field"),
        ('{"nope": 1}', "expected"),
    ],
)
def test_parse_credentials_refuses_without_echoing_secrets(text, message):
    with pytest.raises(ValueError, match=message) as caught:
        parse_credentials(text)
    assert "s1" not in str(caught.value)


def test_load_credentials_reads_a_file(tmp_path):
    path = tmp_path / "creds.json"
    path.write_text('{"credentials": [{"principal": "p", "secret": "s"}]}')
    assert load_credentials(path) == (("p", "s"),)
    with pytest.raises(ValueError, match="cannot read"):
        load_credentials(tmp_path / "missing")


@pytest.mark.parametrize(
    "header, expected",
    [
        (basic("fw", "pw"), "fw"),
        (basic("other", "pw2"), "other"),
        (None, None),
        (basic("fw", "wrong"), None),
        (basic("nobody", "pw"), None),
        ("basic " + basic("fw", "pw")[6:], None),  # the scheme is compared verbatim
        ("Basic  " + basic("fw", "pw")[6:], None),  # exactly one space
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"fw:pw:x").decode(), None),  # split on every ':'
        ("Bearer token", None),
    ],
)
def test_authenticate_like_libprocess_basic(header, expected):
    assert authenticate(header, CREDS) == expected


async def test_401_with_realm_before_redirect_and_recovery(make_sim):
    handle, client = await make_sim(credentials=CREDS)
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info()}}
    status, text, headers = await client.post_raw(body, JSON_HEADERS)
    assert (status, text, headers["WWW-Authenticate"]) == (
        401,
        "401 Unauthorized.",
        'Basic realm="mesos-master-scheduler"',
    )
    handle.master.set_leader("http://10.0.0.9:5050")
    status, _, headers = await client.post_raw(body, JSON_HEADERS)
    assert status == 401  # libprocess authenticates before the handler can redirect
    status, _, headers = await client.post_raw(body, {**JSON_HEADERS, "Authorization": basic("fw", "pw")})
    assert status == 307
    # Without --authenticate_http_readonly the read-only endpoints stay open.
    handle.master.set_leader(None)
    status, _ = await client.get_json("/master/state")
    assert status == 200


async def test_authenticated_framework_without_principal_gets_the_authenticated_one(authed):
    handle, client = authed
    sub = await client.subscribe(framework_info())
    assert handle.state.frameworks[sub.framework_id].info["principal"] == "fw"
    status, _ = await client.call(sub, {"type": "REVIVE"})
    assert status == 202


async def test_resubscribe_with_another_principal_is_refused_and_the_subscription_kept(authed, make_sim):
    handle, client = authed
    sub = await client.subscribe(framework_info(principal="fw"))
    async with aiohttp.ClientSession(headers={"Authorization": basic("other", "pw2")}) as session:
        intruder = SimClient(session, handle.url)
        refused = await intruder.subscribe(
            framework_info(principal="other"), framework_id=sub.framework_id, expect_subscribed=False
        )
        event = await refused.next()
        assert event == {"type": "ERROR", "error": {"message": "Changing framework's principal is not allowed."}}
        await refused.wait_ended()
        await intruder.close()
    fw = handle.state.frameworks[sub.framework_id]
    assert fw.connected and fw.stream_id == sub.stream_id
    status, _ = await client.call(sub, {"type": "REVIVE"})
    assert status == 202


async def test_update_framework_answers_mesos_wording(sim):
    _, client = sim
    sub = await client.subscribe()
    info = framework_info(id={"value": sub.framework_id})
    status, text = await client.call(
        sub, {"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": {**info, "principal": "x"}}}
    )
    assert (status, text) == (400, "FrameworkInfo update is not valid: Changing framework's principal is not allowed.")
    status, text = await client.call(
        sub, {"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": {**info, "user": "root"}}}
    )
    assert status == 400
    assert text.startswith("FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported")


def test_cli_refuses_a_bad_credentials_file_before_listening(tmp_path, capsys):
    from scheduler.cli import main

    path = tmp_path / "creds"
    path.write_text("principal secret-text\n")
    assert main(["sim", "--port", "0", "--credentials", str(path)]) == 2
    err = capsys.readouterr().err
    assert "invalid json format" in err and "secret-text" not in err
