"""The dashboard's pages and security, through its ASGI app (no browser): what each page
shows, escaping, ids escaped in URLs, headers, the token, and that nothing is written."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the ui extra is not installed")

import httpx

from swarm.stores import open_store
from swarm.ui import create_app, runs_page
from tests.observe.conftest import SCRIPT, FilledStore

HOST = "http://127.0.0.1"


async def client_for(
    filled: FilledStore, token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    async with open_store(filled.url, read_only=True) as store:
        app = create_app(store, token=token, loopback=token is None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=HOST) as client:
            yield client


@pytest.fixture
async def client(filled_store: FilledStore) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(filled_store):
        yield c


def files_digest(path: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.parent.iterdir())
        if p.name.startswith(path.name)
    }


async def test_the_runs_page_lists_the_finished_run(
    client: httpx.AsyncClient, filled_store: FilledStore
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert f'href="/runs/{filled_store.run_id}"' in page.text
    assert "ui-test" in page.text and "5 succeeded" in page.text and "simulated" in page.text


async def test_the_run_page_shows_agents_timeline_lineage_and_spend(
    client: httpx.AsyncClient, filled_store: FilledStore
) -> None:
    page = await client.get(f"/runs/{filled_store.run_id}")
    assert page.status_code == 200
    text = page.text
    for agent in ("a", "c", "d", "xss", "link"):
        assert f'data-agent="{agent}" data-status="succeeded"' in text
    assert text.count('class="bar s-succeeded"') == 5
    assert 'class="occupancy"' in text and 'class="bound"' in text
    assert "Spend" in text
    # the lineage: base > a > c > d, each a link to its session
    base_at = text.index('<ul class="tree">')
    a_at = text.index(">a</a>", base_at)
    c_at = text.index(">c</a>", a_at)
    d_at = text.index(">d</a>", c_at)
    nested = text[a_at:d_at]
    assert nested.count("<ul>") == 2  # c under a, d under c


async def test_a_session_page_shows_messages_checkpoints_and_a_diff(
    client: httpx.AsyncClient, filled_store: FilledStore
) -> None:
    async with open_store(filled_store.url, read_only=True) as store:
        agents = {a.agent_id: a for a in await store.list_agents(filled_store.run_id)}
        session_id = agents["d"].session_id
        assert session_id is not None
        checkpoints = await store.list_checkpoints(session_id)
    page = await client.get(f"/sessions/{session_id}")
    assert page.status_code == 200
    assert "inherited from its parent" in page.text  # d's history starts in a's and c's
    assert page.text.count('<option value="') >= 2 * len(checkpoints) >= 4
    first, last = checkpoints[0].checkpoint_id, checkpoints[-1].checkpoint_id
    diff = await client.get(f"/sessions/{session_id}", params={"a": first, "b": last})
    assert diff.status_code == 200 and 'class="diff-result"' in diff.text
    missing = await client.get(f"/sessions/{session_id}", params={"a": first, "b": "nope"})
    assert missing.status_code == 404


async def test_payloads_are_escaped_everywhere(
    client: httpx.AsyncClient, filled_store: FilledStore
) -> None:
    run = (await client.get(f"/runs/{filled_store.run_id}")).text
    async with open_store(filled_store.url, read_only=True) as store:
        agents = {a.agent_id: a for a in await store.list_agents(filled_store.run_id)}
    pages = [run]
    for agent in ("xss", "link"):
        pages.append((await client.get(f"/sessions/{agents[agent].session_id}")).text)
    for text in pages:
        assert SCRIPT not in text and "<script>alert" not in text
        assert 'href="javascript:' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]
    assert "&lt;a href=&#34;javascript:alert(2)&#34;&gt;click me&lt;/a&gt;" in pages[2]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in run  # in the xss agent's output


async def test_ids_in_urls_are_refused_or_escaped(client: httpx.AsyncClient) -> None:
    bad = await client.get("/runs/..%2F..%2Fetc")
    assert bad.status_code in (400, 404) and "etc" not in bad.text
    odd = await client.get("/runs/%3Cscript%3E")
    assert odd.status_code == 400 and "&lt;script&gt;" in odd.text
    unknown = await client.get("/runs/no-such-run")
    assert unknown.status_code == 404 and "no run" in unknown.text
    stream = await client.get("/runs/no-such-run/stream")
    assert stream.status_code == 404


async def test_every_response_is_locked_down_and_read_only(client: httpx.AsyncClient) -> None:
    for path in ("/", "/static/live.js", "/runs/no-such-run"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "default-src 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "access-control-allow-origin" not in response.headers
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/")
        assert response.status_code == 405
    assert (await client.head("/")).status_code == 200
    # another Host (a DNS-rebinding page) is refused on a loopback dashboard
    rebound = await client.get("/", headers={"host": "attacker.example:8080"})
    assert rebound.status_code == 403


async def test_a_token_guards_every_request_then_a_cookie_carries_it(
    filled_store: FilledStore,
) -> None:
    async for client in client_for(filled_store, token="s3cret-token"):
        for path in ("/", "/stream", "/static/live.js", f"/runs/{filled_store.run_id}"):
            assert (await client.get(path)).status_code == 401
        assert (await client.get("/", params={"token": "wrong"})).status_code == 401
        first = await client.get("/", params={"token": "s3cret-token"})
        assert first.status_code == 200
        assert "HttpOnly" in first.headers["set-cookie"]
        assert "SameSite=Strict" in first.headers["set-cookie"]
        again = await client.get("/static/style.css")  # the cookie now
        assert again.status_code == 200


async def test_browsing_writes_nothing(filled_store: FilledStore) -> None:
    before = files_digest(filled_store.path)
    async for client in client_for(filled_store):
        run = filled_store.run_id
        for path in ("/", f"/runs/{run}", "/runs/latest"):
            assert (await client.get(path)).status_code == 200
        async with open_store(filled_store.url, read_only=True) as store:
            rows, _ = await runs_page(store)
            for agent in await store.list_agents(run):
                await client.get(f"/sessions/{agent.session_id}")
        assert len(rows) == 1
    assert files_digest(filled_store.path) == before
