"""``GET /v6/accounts/profile/``: what Scale's UI asks first when its authentication is on (its
Docker image's default). Before this route it was a 404, and the UI left for ``/api/login/``."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import TOKEN, FixedStatus

from scheduler.api.app import create_app
from scheduler.config import load_settings

ANGULAR = {"Accept": "application/json, text/plain, */*"}


async def test_with_the_proxys_token_the_ui_gets_a_staff_user_named_after_the_token(api, caplog):
    caplog.set_level(logging.DEBUG)
    resp = await api.get("/api/v6/accounts/profile/", headers={**ANGULAR, "Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200
    assert await resp.json() == {
        "id": None,
        "username": "alice",
        "email": "",
        "first_name": "alice",
        "last_name": "",
        "is_staff": True,  # the UI shows its pause buttons only to staff
    }
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "headers, detail, challenge",
    [
        ({}, "Authentication credentials were not provided.", 'Bearer realm="scale-scheduler"'),
        (
            {"Authorization": "Bearer not-a-listed-token-0000"},
            "Invalid token.",
            'Bearer realm="scale-scheduler", error="invalid_token"',
        ),
        ({"Authorization": "Bearer short"}, "Invalid token.", 'Bearer realm="scale-scheduler", error="invalid_token"'),
        ({"Authorization": f"Token {TOKEN}"}, "Authentication credentials were not provided.", None),
    ],
)
async def test_without_a_listed_token_it_is_401_as_scales_anonymous_user(api, headers, detail, challenge):
    resp = await api.get("/v6/accounts/profile/", headers={**ANGULAR, **headers})
    assert resp.status == 401
    assert await resp.json() == {"detail": detail}
    if challenge:
        assert resp.headers["WWW-Authenticate"] == challenge


async def test_served_without_a_database_and_under_every_prefix(tokens_file):
    settings = load_settings({}, overrides={"API_TOKENS_FILE": str(tokens_file)})
    async with TestClient(TestServer(create_app(status=FixedStatus(None), settings=settings))) as client:
        for path in ("/v6/accounts/profile/", "/v7/accounts/profile/", "/api/v7/accounts/profile/"):
            resp = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert resp.status == 200, path
            assert (await resp.json())["username"] == "alice"
        resp = await client.get("/api/v6/accounts/profile", allow_redirects=False)
        assert resp.status == 301


async def test_with_read_tokens_required_the_token_still_names_the_user(tokens_file):
    settings = load_settings({}, overrides={"API_TOKENS_FILE": str(tokens_file), "API_READ_TOKEN_REQUIRED": "true"})
    async with TestClient(TestServer(create_app(status=FixedStatus(None), settings=settings))) as client:
        assert (await client.get("/api/v6/accounts/profile/")).status == 401
        resp = await client.get("/api/v6/accounts/profile/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status == 200 and (await resp.json())["is_staff"] is True
