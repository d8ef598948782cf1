"""Scale's UI (ngageoint/scale-ui 0.17.0) against this API: the exact requests its navbar, Nodes,
System Status and Queued Jobs pages make, as captured from a headless browser (README, "Scale's UI").

Angular's HttpClient sends these headers with every call, and a PATCH body is ``JSON.stringify`` of
an object whose undefined members are left out.
"""

from __future__ import annotations

import pytest
from conftest import TOKEN

from scheduler.store.node_rows import load_pause_flags
from scheduler.store.scheduler_row import load_scheduler_flags
from scheduler.store.v6_resources import load_scheduler_settings

ANGULAR = {"Accept": "application/json, text/plain, */*"}
ANGULAR_PATCH = {**ANGULAR, "Content-Type": "application/json"}
PROXY_TOKEN = {"Authorization": f"Bearer {TOKEN}"}  # added by the proxy in front of the UI


async def node_id_of(api, hostname: str) -> int:
    page = await (await api.get("/api/v6/nodes/?page=1&page_size=1000", headers=ANGULAR)).json()
    return next(node["id"] for node in page["results"] if node["hostname"] == hostname)


async def test_the_navbar_reads_the_scheduler_before_it_follows_the_status(api):
    resp = await api.get("/api/v6/scheduler/", headers=ANGULAR)
    assert resp.status == 200
    assert (await resp.json())["is_paused"] is False


@pytest.mark.parametrize("paused", [True, False])
async def test_the_navbar_power_button_body_pauses_and_resumes(api, database, paused):
    # The navbar sends {is_paused, num_message_handlers, system_logging_level} with the last two taken
    # from the status' scheduler section, which has neither: only is_paused reaches the wire.
    body = b'{"is_paused":true}' if paused else b'{"is_paused":false}'
    resp = await api.patch("/api/v6/scheduler/", data=body, headers={**ANGULAR_PATCH, **PROXY_TOKEN})
    assert resp.status == 200
    assert (await resp.json())["is_paused"] is paused
    assert (await database.run(load_scheduler_flags)).is_paused is paused
    assert api.changes == [True]


async def test_the_navbar_power_button_without_a_token_is_refused_and_changes_nothing(api, database):
    resp = await api.patch("/api/v6/scheduler/", data=b'{"is_paused":true}', headers=ANGULAR_PATCH)
    assert resp.status == 401
    assert await resp.json() == {"detail": "Authentication credentials were not provided."}
    assert (await database.run(load_scheduler_flags)).is_paused is False


async def test_the_params_wrapper_of_an_unreleased_ui_is_refused_as_scale_refused_it(api, database):
    # scale-ui between 2019-07-25 and 2019-08-08 (before v0.10.0, its first tag) sent HttpParams
    # wrapped in "params"; Scale's SchedulerView answered 400 "Unexpected fields" and the UI was fixed.
    before = await database.run(load_scheduler_settings)
    body = b'{"params":{"updates":null,"cloneFrom":null,"encoder":{},"map":{}}}'
    resp = await api.patch("/api/v6/scheduler/", data=body, headers={**ANGULAR_PATCH, **PROXY_TOKEN})
    assert resp.status == 400
    assert (await resp.json())["detail"].startswith("Unexpected fields: 'params'")
    assert await database.run(load_scheduler_settings) == before
    assert api.changes == []


async def test_the_nodes_page_list_has_every_field_its_cards_read(api):
    resp = await api.get("/api/v6/nodes/?page=1&page_size=1000&is_active=true", headers=ANGULAR)
    assert resp.status == 200
    page = await resp.json()
    assert page["count"] == 2 and page["next"] is None
    for node in page["results"]:
        assert {"id", "hostname", "is_paused", "is_active", "deprecated", "created", "last_modified"} <= set(node)
        assert isinstance(node["id"], int) and node["is_active"] is True


async def test_the_nodes_page_pause_dialog_then_resume(api, database):
    node_id = await node_id_of(api, "host-a")
    pause = b'{"is_paused":true,"pause_reason":"disk check by the UI","is_active":true}'
    resp = await api.patch(f"/api/v6/nodes/{node_id}/", data=pause, headers={**ANGULAR_PATCH, **PROXY_TOKEN})
    assert resp.status == 200
    body = await resp.json()
    assert (body["is_paused"], body["pause_reason"], body["is_active"]) == (True, "disk check by the UI", True)
    assert (await database.run(load_pause_flags))["host-a"] is True
    # Resuming sends no pause_reason: the UI's node model never read one.
    resume = b'{"is_paused":false,"is_active":true}'
    resp = await api.patch(f"/api/v6/nodes/{node_id}/", data=resume, headers={**ANGULAR_PATCH, **PROXY_TOKEN})
    assert resp.status == 200
    assert ((await resp.json())["is_paused"], (await resp.json())["pause_reason"]) == (False, None)
    assert (await database.run(load_pause_flags))["host-a"] is False


async def test_the_nodes_page_deprecate_then_activate(api):
    node_id = await node_id_of(api, "host-b")
    headers = {**ANGULAR_PATCH, **PROXY_TOKEN}
    resp = await api.patch(f"/api/v6/nodes/{node_id}/", data=b'{"is_paused":false,"is_active":false}', headers=headers)
    assert resp.status == 200 and (await resp.json())["deprecated"] is not None
    deprecated = await (await api.get("/api/v6/nodes/?page=1&page_size=1000&is_active=false", headers=ANGULAR)).json()
    assert node_id in [node["id"] for node in deprecated["results"]]
    resp = await api.patch(f"/api/v6/nodes/{node_id}/", data=b'{"is_paused":false,"is_active":true}', headers=headers)
    assert resp.status == 200 and (await resp.json())["deprecated"] is None


async def test_get_node_without_the_trailing_slash_redirects_as_djangos_append_slash(api):
    node_id = await node_id_of(api, "host-a")
    resp = await api.get(f"/api/v6/nodes/{node_id}", headers=ANGULAR, allow_redirects=False)
    assert resp.status == 301
    assert resp.headers["Location"] == f"/api/v6/nodes/{node_id}/"


async def test_the_queued_jobs_page_reads_the_queue_status(api):
    resp = await api.get("/api/v6/queue/status/", headers=ANGULAR)
    assert resp.status == 200
    results = (await resp.json())["results"]
    assert {r["job_type"]["name"] for r in results} == {"gpu-work", "cpu-work"}
    assert all({"count", "longest_queued", "highest_priority"} <= set(r) for r in results)


async def test_the_queue_load_chart_query_is_accepted(api):
    # The dashboard's chart sends its range and, on its Favorites tab, repeated job_type_id values.
    query = "started=2026-11-29T00:00:00.000Z&ended=2026-11-30T00:00:00.000Z&job_type_id=1&job_type_id=2"
    resp = await api.get(f"/api/v6/load/?{query}", headers=ANGULAR)
    assert resp.status == 200
    assert set(await resp.json()) == {"count", "next", "previous", "results"}
