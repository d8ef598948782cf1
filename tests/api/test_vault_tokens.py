"""API tokens read from Vault (KV version 2) through hvac, against a stand-in Vault over real HTTP."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port

from scheduler.api.app import create_app
from scheduler.api.vault_tokens import VaultTokens
from scheduler.config import load_settings

TOKEN = "vault-kept-token-0123456789"


async def fake_vault(secret: dict, seen: list):
    async def read(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("X-Vault-Token")))
        if request.match_info["path"] != "scale/api":
            return web.json_response({"errors": []}, status=404)
        metadata = {"created_time": "2026-01-01T00:00:00Z", "deletion_time": "", "destroyed": False, "version": 3}
        return web.json_response({"data": {"data": secret, "metadata": metadata}})

    app = web.Application()
    app.router.add_get("/v1/secret/data/{path:.*}", read)
    runner = web.AppRunner(app)
    await runner.setup()
    port = unused_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def test_tokens_kept_in_vault_allow_writes(database, caplog):
    seen = []
    runner, url = await fake_vault({"ops-console": TOKEN, "too-short": "abc"}, seen)
    try:
        settings = load_settings(
            {},
            overrides={
                "SECRETS_URL": url,
                "SECRETS_TOKEN": "s.vault-login",
                "API_TOKENS_VAULT_PATH": "secret/scale/api",
            },
        )
        with caplog.at_level(logging.INFO):
            async with TestClient(TestServer(create_app(database=database, settings=settings))) as client:
                for _ in range(100):  # read at start, in the background
                    if seen:
                        break
                    await __import__("asyncio").sleep(0.05)
                resp = await client.patch(
                    "/v6/scheduler/", json={"is_paused": True}, headers={"Authorization": f"Bearer {TOKEN}"}
                )
                assert resp.status == 200
                resp = await client.patch(
                    "/v6/scheduler/", json={"is_paused": True}, headers={"Authorization": "Bearer abc"}
                )
                assert resp.status == 401
        assert seen[0] == ("/v1/secret/data/scale/api", "s.vault-login")
        assert "ops-console" in caplog.text and TOKEN not in caplog.text and "too-short" in caplog.text
    finally:
        await runner.cleanup()


async def test_vault_unreachable_keeps_the_last_tokens_and_says_so_once(caplog):
    answers = [{"alice": TOKEN}]

    def read(url, token, path, timeout_s):
        answer = answers.pop(0) if answers else None
        if answer is None:
            raise ConnectionError("refused")
        return answer

    vault = VaultTokens("http://vault", "s.x", "secret/p", read=read)
    await vault.refresh()
    assert list(vault.tokens.values()) == ["alice"]
    with caplog.at_level(logging.ERROR):
        for _ in range(5):
            await vault.refresh()
    assert list(vault.tokens.values()) == ["alice"]
    assert len(caplog.records) == 1 and "ConnectionError" in caplog.text
