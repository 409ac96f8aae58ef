"""Keyset paging over HTTP: Link headers, both directions, cursors that cannot be forged."""

import json
import re
import uuid
from datetime import datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.paging import Position
from entrypoints.http.cursors import CursorCodec

NEXT = re.compile(r'<(?P<url>[^>]+)>; rel="next"')


def _walk(client: TestClient, url: str, headers: dict[str, str]) -> tuple[list[Any], int]:
    """Follow ``Link: rel="next"`` to the end; return every item and the page count."""
    items: list[Any] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        items.extend(response.json())
        pages += 1
        match = NEXT.search(response.headers.get("link", ""))
        next_url = match["url"] if match else None
    return items, pages


def _seed_messages(database_url: str, chat: dict[str, Any], count: int) -> None:
    """Rows straight into PostgreSQL, many sharing one timestamp (the hard case)."""
    with psycopg.connect(database_url) as connection:
        connection.execute(
            """
            INSERT INTO messages (id, chat_id, user_id, role, content, created_at)
            SELECT gen_random_uuid(), %(chat)s, %(user)s,
                   CASE WHEN n %% 2 = 0 THEN 'user' ELSE 'assistant' END,
                   'seeded ' || n,
                   timestamptz '2026-01-01' + (n / 3) * interval '1 second'
            FROM generate_series(0, %(count)s - 1) AS n
            """,
            {"chat": chat["id"], "user": chat["user_id"], "count": count},
        )


def test_messages_walk_forward_without_gaps_or_repeats(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], database_url: str
) -> None:
    _seed_messages(database_url, chat, 250)

    items, pages = _walk(client, f"/chats/{chat['id']}/messages?limit=40", user["headers"])

    assert pages == 7
    assert len(items) == len({m["id"] for m in items}) == 250
    keys = [(m["created_at"], m["id"]) for m in items]
    assert keys == sorted(keys)


def test_messages_newest_first_walks_backwards(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], database_url: str
) -> None:
    _seed_messages(database_url, chat, 95)

    items, pages = _walk(
        client, f"/chats/{chat['id']}/messages?limit=30&order=desc", user["headers"]
    )

    assert pages == 4
    keys = [(m["created_at"], m["id"]) for m in items]
    assert len(set(keys)) == 95
    assert keys == sorted(keys, reverse=True)


def test_the_last_page_has_no_link(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any]
) -> None:
    response = client.get(f"/chats/{chat['id']}/messages?limit=5", headers=user["headers"])

    assert response.json() == []
    assert "link" not in response.headers


def test_chats_page_by_last_activity(client: TestClient, register: Any) -> None:
    me = register()
    created = [
        client.post("/chats", json={"title": f"chat {n}"}, headers=me["headers"]).json()
        for n in range(7)
    ]

    items, pages = _walk(client, "/chats?limit=3", me["headers"])

    assert pages == 3
    assert [c["id"] for c in items] == [c["id"] for c in reversed(created)]


def test_tampered_and_foreign_cursors_are_400(
    client: TestClient, register: Any, database_url: str
) -> None:
    me, other = register(), register()
    mine = client.post("/chats", json={}, headers=me["headers"]).json()
    theirs = client.post("/chats", json={}, headers=other["headers"]).json()
    _seed_messages(database_url, mine, 10)
    first = client.get(f"/chats/{mine['id']}/messages?limit=2", headers=me["headers"])
    cursor = NEXT.search(first.headers["link"])["url"].split("cursor=")[1]  # type: ignore[index]

    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    forged = CursorCodec("guessed secret").encode(
        f"messages:{mine['id']}:asc",
        Position(at=datetime.fromisoformat(first.json()[0]["created_at"]), id=uuid.uuid4()),
    )
    for url, headers in [
        (f"/chats/{mine['id']}/messages?cursor={tampered}", me["headers"]),
        (f"/chats/{mine['id']}/messages?cursor={forged}", me["headers"]),
        (f"/chats/{mine['id']}/messages?order=desc&cursor={cursor}", me["headers"]),
        (f"/chats?cursor={cursor}", me["headers"]),
        (f"/chats/{theirs['id']}/messages?cursor={cursor}", other["headers"]),
    ]:
        response = client.get(url, headers=headers)
        assert response.status_code == 400, url
        assert response.json()["type"] == "/problems/invalid-cursor"


def test_ids_are_time_ordered_uuid7(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any]
) -> None:
    reply = client.post(
        f"/chats/{chat['id']}/messages", json={"content": "hi"}, headers=user["headers"]
    ).json()
    ids = [uuid.UUID(chat["id"]), uuid.UUID(chat["user_id"]), uuid.UUID(reply["id"])]

    assert {i.version for i in ids} == {7}
    assert uuid.UUID(chat["user_id"]) < uuid.UUID(chat["id"]) < uuid.UUID(reply["id"])


@pytest.mark.parametrize(
    "position",
    [
        [12345, "2026-01-01T00:00:00+00:00"],
        ["2026-01-01T00:00:00+00:00", 12345],
        ["2026-01-01T00:00:00+00:00", ["a", "b"]],
        ["2026-01-01T00:00:00+00:00", None],
        ["2026-01-01T00:00:00+00:00", {"id": 1}],
    ],
)
def test_a_signed_cursor_of_the_wrong_shape_is_400(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], position: list[Any]
) -> None:
    """Signed with the app's own key, so only the shape check stands between it and a 500."""
    codec: CursorCodec = client.app.state.cursors  # type: ignore[attr-defined]
    scope = f"messages:{chat['id']}:asc"
    cursor = codec.seal(json.dumps([scope, *position]).encode())

    response = client.get(f"/chats/{chat['id']}/messages?cursor={cursor}", headers=user["headers"])

    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-cursor"


def test_the_next_link_is_relative_whatever_the_host(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], database_url: str
) -> None:
    _seed_messages(database_url, chat, 3)
    headers = {**user["headers"], "Host": "evil.example"}

    response = client.get(f"/chats/{chat['id']}/messages?limit=2", headers=headers)

    url = NEXT.search(response.headers["link"])["url"]  # type: ignore[index]
    assert url.startswith(f"/chats/{chat['id']}/messages?")
    assert "limit=2" in url
    assert "cursor=" in url
