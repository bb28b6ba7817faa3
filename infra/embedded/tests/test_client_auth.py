"""A long seeding outlives one access token: each request takes the data office's current one."""

from __future__ import annotations

import httpx

from uise_stack import client


def test_each_request_carries_the_data_offices_current_token(monkeypatch):
    tokens = iter(["first", "refreshed"])
    monkeypatch.setattr(client, "data_office_token", lambda: next(tokens))
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(answer), auth=client.DataOfficeAuth()) as http:
        http.get("http://registry/v1/participants/1")
        http.get("http://registry/v1/participants/2")
    assert seen == ["Bearer first", "Bearer refreshed"]
