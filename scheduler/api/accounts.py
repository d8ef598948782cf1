"""``GET /v6/accounts/profile/``: who the caller is, the first thing Scale's UI asks when its
authentication is on (its Docker image's default, ``SCALEUI_AUTH_ENABLED=true``).

Scale answers the logged-in user in its ``UserAccountSerializer`` shape and 401 to an anonymous
caller; the UI then shows its pages, and its pause buttons only when ``is_staff``. Here a caller is
the bearer token it presents (added by the proxy in front of the UI): the token's name from
``API_TOKENS_FILE`` or Vault. Every listed token may change things, so ``is_staff`` is true; there
are no user accounts, so ``id`` is null. A missing or unlisted token is a 401, as Scale's anonymous one.
"""

from __future__ import annotations

from aiohttp import web

from scheduler.api.auth import TokenFile, presented_token, unauthorized
from scheduler.api.control import json_response


def profile_handler(tokens: TokenFile):
    async def get_profile(request: web.Request) -> web.Response:
        token = presented_token(request)
        name = tokens.name_of(token) if token is not None else None
        if name is None:
            if token is None:
                return unauthorized("Authentication credentials were not provided.", presented=False)
            return unauthorized("Invalid token.", presented=True)
        return json_response(
            {"id": None, "username": name, "email": "", "first_name": name, "last_name": "", "is_staff": True}
        )

    return get_profile
