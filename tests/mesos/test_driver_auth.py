"""Framework authentication: the driver against a simulator with credentials (Mesos'
--authenticate_http_frameworks), and the MESOS_PRINCIPAL / MESOS_SECRET(_FILE) settings."""

from __future__ import annotations

import asyncio
import base64
import logging

import aiohttp
import pytest
from driverkit import running_driver, sim_config
from test_driver import first_offers, is_update, small_task

from scheduler.config import ConfigError, load_settings
from scheduler.daemon import driver_options, framework_spec
from scheduler.mesos.events import Disconnected
from scheduler.sim.server import serve_sim

PRINCIPAL, SECRET = "scale", "s3cr3t-Value"
CREDENTIALS = ((PRINCIPAL, SECRET), ("other", "other-secret"))
SCHEDULER = "/api/v1/scheduler"


@pytest.fixture
async def auth_sim():
    handle = await serve_sim(
        sim_config(credentials=CREDENTIALS, authenticate_readonly=True, authenticate_readwrite=True), "127.0.0.1", 0
    )
    try:
        yield handle
    finally:
        await handle.close()


def subscribe_call(framework_id: str, principal: str | None = None) -> dict:
    info = {"user": "nobody", "name": "intruder", "id": {"value": framework_id}, "failover_timeout": 60.0}
    if principal is not None:
        info["principal"] = principal
    return {"type": "SUBSCRIBE", "framework_id": {"value": framework_id}, "subscribe": {"framework_info": info}}


def basic(principal: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


async def post(session, url, call, auth=None, stream_id=None):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    if stream_id:
        headers["Mesos-Stream-Id"] = stream_id
    async with session.post(url + SCHEDULER, json=call, headers=headers) as resp:
        first = await resp.content.readline() if resp.status == 200 else b""
        rest = await asyncio.wait_for(resp.content.read(), 5) if resp.status == 200 else await resp.read()
        return resp.status, dict(resp.headers), first + rest


async def test_driver_subscribes_with_principal_and_basic_auth_on_every_call(auth_sim, caplog):
    caplog.set_level(logging.DEBUG)
    async with running_driver(auth_sim.url, principal=PRINCIPAL, secret=SECRET) as (driver, recorder):
        offers = await first_offers(recorder)
        fw = auth_sim.state.frameworks[driver.framework_id]
        assert fw.info["principal"] == PRINCIPAL
        # ACCEPT and ACKNOWLEDGE are authenticated calls too: the task runs to its end.
        await driver.launch([offers.offers[0].id], [small_task(offers.offers[0], "t-auth")], refuse_seconds=1)
        while True:
            update = await recorder.wait_for(is_update("t-auth"))
            assert await driver.acknowledge(update.status) is True
            if update.status.state.is_terminal:
                break
        assert "t-auth" not in fw.tasks  # the terminal update's acknowledgement reached the master
        # GETs of the master's endpoints carry the credentials (the readonly realm asks for them here).
        slaves = await driver.get_master_json("/master/slaves")
        assert len(slaves["slaves"]) == 2
        state = await driver.get_master_json("/master/state")
        assert state["frameworks"][0]["principal"] == PRINCIPAL
        # So do the operator API's calls (the readwrite realm asks for them here).
        answer = await driver.operator_call({"type": "GET_FRAMEWORKS"})
        assert answer["get_frameworks"]["frameworks"][0]["framework_info"]["principal"] == PRINCIPAL
    assert SECRET not in caplog.text


async def test_wrong_secret_never_subscribes_and_is_not_logged(auth_sim, caplog):
    caplog.set_level(logging.DEBUG)
    async with running_driver(auth_sim.url, principal=PRINCIPAL, secret="wrong-secret") as (driver, recorder):
        for _ in range(200):
            if "SUBSCRIBE answered 401" in caplog.text:
                break
            await asyncio.sleep(0.01)
        assert "SUBSCRIBE answered 401" in caplog.text
        assert not driver.subscribed
        assert auth_sim.state.frameworks == {}
    assert "wrong-secret" not in caplog.text


async def test_intruder_without_or_with_wrong_credentials_gets_401_and_takes_nothing(auth_sim):
    async with running_driver(auth_sim.url, principal=PRINCIPAL, secret=SECRET) as (driver, recorder):
        offers = await first_offers(recorder)
        task = small_task(offers.offers[0], "t-kept", labels={"sim.duration": "60"})
        await driver.launch([offers.offers[0].id], [task], refuse_seconds=1)
        for _ in range(2):  # STARTING, RUNNING
            await driver.acknowledge((await recorder.wait_for(is_update("t-kept"))).status)
        fid, stream = driver.framework_id, driver.stream_id
        teardown = {"type": "TEARDOWN", "framework_id": {"value": fid}}
        async with aiohttp.ClientSession() as session:
            for auth in (None, basic(PRINCIPAL, "guess"), basic("nobody", SECRET)):
                status, headers, body = await post(session, auth_sim.url, subscribe_call(fid, PRINCIPAL), auth)
                assert (status, headers["WWW-Authenticate"]) == (401, 'Basic realm="mesos-master-scheduler"')
                assert body == b"401 Unauthorized."
                status, headers, _ = await post(session, auth_sim.url, teardown, auth, stream_id=stream)
                assert status == 401
            # Another valid principal: SUBSCRIBE claiming our principal is refused by validation ...
            other = basic("other", "other-secret")
            status, _, body = await post(session, auth_sim.url, subscribe_call(fid, PRINCIPAL), other)
            assert status == 400
            assert body.decode() == (
                "Failed to validate scheduler::Call: Authenticated principal 'other' does not match "
                "principal 'scale' set in `FrameworkInfo`"
            )
            # ... with its own principal the master refuses the change on the stream ...
            status, _, body = await post(session, auth_sim.url, subscribe_call(fid, "other"), other)
            assert status == 200
            assert b"Changing framework's principal is not allowed." in body
            # ... and a call for our framework is refused.
            status, _, body = await post(session, auth_sim.url, teardown, other, stream_id=stream)
            assert status == 400
            assert b"Authenticated principal 'other' does not match principal 'scale'" in body
        # The scheduler kept its subscription and its task.
        assert driver.subscribed and driver.stream_id == stream and driver.subscriptions == 1
        assert not recorder.of_type(Disconnected)
        assert auth_sim.state.frameworks[fid].tasks["t-kept"].state == "TASK_RUNNING"


async def test_unauthenticated_readonly_endpoints_get_401_with_the_readonly_realm(auth_sim, http):
    for path in ("/master/state", "/master/slaves"):
        async with http.get(auth_sim.url + path) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="mesos-master-readonly"'


# --- settings --------------------------------------------------------------------------------


def test_settings_principal_and_secret_file(tmp_path):
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    settings = load_settings({"MESOS_PRINCIPAL": PRINCIPAL, "MESOS_SECRET_FILE": str(path)})
    assert (settings.mesos_principal, settings.mesos_secret) == (PRINCIPAL, SECRET)
    assert SECRET in settings.secret_values()
    options = driver_options(settings)
    assert (options.principal, options.secret) == (PRINCIPAL, SECRET)
    assert SECRET not in repr(options)
    assert framework_spec(settings).principal == PRINCIPAL


def test_settings_secret_inline_is_taken_verbatim_and_masked():
    settings = load_settings({"MESOS_PRINCIPAL": PRINCIPAL, "MESOS_SECRET": " spaced secret "})
    assert settings.mesos_secret == " spaced secret "
    assert " spaced secret " in settings.secret_values()


def test_settings_principal_alone_sets_no_credentials():
    settings = load_settings({"MESOS_PRINCIPAL": PRINCIPAL})
    assert settings.mesos_secret is None
    assert driver_options(settings).secret is None


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"MESOS_SECRET": SECRET}, "without MESOS_PRINCIPAL"),
        ({"MESOS_PRINCIPAL": PRINCIPAL, "MESOS_SECRET": "a:b" + SECRET}, "MESOS_SECRET: must be"),
        ({"MESOS_PRINCIPAL": "a:b"}, "MESOS_PRINCIPAL: must be"),
        ({"MESOS_PRINCIPAL": PRINCIPAL, "MESOS_SECRET": SECRET, "MESOS_SECRET_FILE": "/x"}, "both set"),
        ({"MESOS_PRINCIPAL": PRINCIPAL, "MESOS_SECRET_FILE": "/nonexistent/secret"}, "cannot read"),
    ],
)
def test_settings_refused_without_echoing_the_secret(environ, message):
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(environ)
    assert SECRET not in str(caught.value)


def test_secret_file_with_a_colon_or_empty_is_refused_without_echo(tmp_path):
    path = tmp_path / "secret"
    path.write_text("a:" + SECRET + "\n")
    with pytest.raises(ConfigError, match="MESOS_SECRET_FILE") as caught:
        load_settings({"MESOS_PRINCIPAL": PRINCIPAL, "MESOS_SECRET_FILE": str(path)})
    assert SECRET not in str(caught.value)
    path.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_settings({"MESOS_PRINCIPAL": PRINCIPAL, "MESOS_SECRET_FILE": str(path)})
