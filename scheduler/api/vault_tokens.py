"""API tokens kept in Vault (``API_TOKENS_VAULT_PATH``), next to or instead of ``API_TOKENS_FILE``.

The path names a KV version 2 secret as ``<mount>/<path>`` (e.g. ``secret/scale-scheduler/api``);
its keys are the tokens' names and its values the tokens. It is read with hvac through
``SECRETS_URL`` and ``SECRETS_TOKEN``, on a thread with a timeout, at start and every
``REFRESH_S``; the last good read stays in use while Vault cannot be reached (logged once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from scheduler.api.auth import NAME_CHARS, usable

log = logging.getLogger(__name__)

REFRESH_S = 30.0
TIMEOUT_S = 5.0


def read_kv2(url: str, token: str, path: str, timeout_s: float) -> dict[str, Any]:
    import hvac  # only where Vault tokens are configured

    mount, _, secret = path.strip("/").partition("/")
    client = hvac.Client(url=url, token=token, timeout=timeout_s)
    answer = client.secrets.kv.v2.read_secret_version(path=secret, mount_point=mount, raise_on_deleted_version=True)
    return answer["data"]["data"]


class VaultTokens:
    def __init__(
        self,
        url: str,
        token: str,
        path: str,
        read: Callable[[str, str, str, float], dict[str, Any]] = read_kv2,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self.url, self.token, self.path, self.read, self.refresh_s = url, token, path, read, refresh_s
        self.tokens: dict[bytes, str] = {}
        self._problem: str | None = None

    async def refresh(self) -> None:
        try:
            data = await asyncio.wait_for(
                asyncio.to_thread(self.read, self.url, self.token, self.path, TIMEOUT_S), TIMEOUT_S + 1
            )
            if not isinstance(data, dict):
                raise ValueError("the secret is not a map of names to tokens")
        except Exception as exc:  # keep the last good tokens; say so once per cause
            problem = type(exc).__name__ if not isinstance(exc, ValueError) else str(exc)
            if problem != self._problem:
                log.error("API tokens: cannot read Vault path %s (%s); keeping the last ones read", self.path, problem)
            self._problem = problem
            return
        tokens = {}
        for number, (name, value) in enumerate(data.items(), start=1):
            shown = name if isinstance(name, str) and NAME_CHARS.fullmatch(name) else f"entry {number}"
            if isinstance(value, str) and usable(value):
                tokens[value.encode()] = shown
            else:
                log.warning("API tokens: Vault path %s, %s: not a usable token; skipped", self.path, shown)
        self.tokens = tokens
        if self._problem is not None or not self.tokens:
            log.info("API tokens: %d read from Vault path %s", len(self.tokens), self.path)
        self._problem = None

    async def run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.refresh_s)
