"""The PostgreSQL store's own guarantees beyond the conformance suite: group commit, a
damaged record named on read, schema versions and migrations, leases across
connections, verify and repair, a server restarted mid-run, and its URL."""

from __future__ import annotations

import psycopg
import pytest
import trio

from swarm.cli import main
from swarm.errors import IntegrityError, StoreError
from swarm.records import Message, RunRecord, SessionRecord
from swarm.stores import PostgresStore, StoreURLError, parse_store_url, verify_postgres
from swarm.stores._postgres_schema import PG_SCHEMA, PG_SCHEMA_VERSION
from swarm.testing import ThrowawayPostgres


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def _sql(url: str, statement: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, args or None)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


async def test_writes_that_arrive_together_share_one_transaction(postgres_url: str) -> None:
    """Forty concurrent writes (sessions and messages of many agents) take a few commits,
    not forty: group commit."""
    store = await PostgresStore.open(postgres_url)
    try:
        before = store.tables.db.commits

        async def write(n: int) -> None:
            await store.save_session(SessionRecord(session_id=f"s{n}", backend="simulated"))
            await store.append_messages(
                f"s{n}", [Message(uuid=f"m{n}", session_id=f"s{n}", role="user", content="hi")]
            )

        async with trio.open_nursery() as nursery:
            for n in range(20):
                nursery.start_soon(write, n)
        commits = store.tables.db.commits - before
        assert 1 <= commits <= 6, commits
        assert len(await store.list_sessions()) == 20
        assert [m.uuid for m in await store.get_messages("s7")] == ["m7"]
    finally:
        await store.aclose()


async def test_a_run_on_postgres_writes_behind(postgres_url: str) -> None:
    """The journal stages an agent's progress on PostgreSQL too: 40 zero-latency agents
    reach the server in a few calls and commits per agent, not six awaited writes each
    (over 240), and every record is there, each agent's end committed before its
    post-agent hook runs."""
    from swarm import ParallelSwarmExecutor
    from swarm.backends import create_backend
    from swarm.plan import Plan
    from swarm.records import AgentResult, AgentStatus
    from swarm.stores import writes_batches

    plan = Plan.model_validate(
        {
            "name": "pg-write-behind",
            "base": {"prompt": "shared"},
            "agents": [{"id": f"a{i:02d}", "prompt": f"task {i}"} for i in range(40)],
            "execution": {"max_parallel": 40},
            "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
            "store": {"url": postgres_url},
        }
    )
    ended: dict[str, str] = {}

    async def after(result: AgentResult) -> None:  # another connection: committed data only
        rows = _sql(
            postgres_url,
            "SELECT data FROM agents WHERE agent_id = %s AND data LIKE '%%succeeded%%'",
            result.agent_id,
        )
        ended[result.agent_id] = "committed" if rows else "missing"

    store = await PostgresStore.open(postgres_url)
    calls = 0
    write_many = store.tables.db.write_many

    async def counted(writes: object) -> None:
        nonlocal calls
        calls += 1
        await write_many(writes)  # type: ignore[arg-type]

    store.tables.db.write_many = counted  # type: ignore[method-assign]
    try:
        assert writes_batches(store)
        executor = ParallelSwarmExecutor(
            create_backend(plan.backend, store), store, post_agent=[after]
        )
        result = await executor.run(plan)
        agents = await store.list_agents(result.run_id)
        sessions = await store.list_sessions(result.run_id)
    finally:
        await store.aclose()
    assert result.succeeded
    assert [a.agent_id for a in agents] == [f"a{i:02d}" for i in range(40)]
    assert all(a.status is AgentStatus.SUCCEEDED for a in agents) and len(sessions) == 41
    assert ended == {f"a{i:02d}": "committed" for i in range(40)}
    assert calls <= 3 * 40 + 15, calls


async def test_a_damaged_record_is_named_on_read(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    try:
        await store.save_run(RunRecord(run_id="r1", plan={}))
        _sql(postgres_url, "UPDATE runs SET data = replace(data, 'r1', 'r2') WHERE run_id = 'r1'")
        with pytest.raises(IntegrityError, match="runs record r1 does not match its checksum"):
            await store.get_run("r1")
    finally:
        await store.aclose()


async def test_a_new_database_gets_the_latest_schema_and_an_old_one_is_migrated(
    postgres_server: ThrowawayPostgres,
) -> None:
    fresh = postgres_server.create_database("schema_fresh")
    store = await PostgresStore.open(fresh)
    await store.aclose()
    assert _sql(fresh, "SELECT version FROM swarm_schema") == [(PG_SCHEMA_VERSION,)]

    old = postgres_server.create_database("schema_v1")
    with psycopg.connect(old, autocommit=True) as conn:  # a database a v1 swarm made
        for statement in PG_SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)  # type: ignore[call-overload]
        conn.execute("CREATE TABLE swarm_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO swarm_schema VALUES (1)")
    store = await PostgresStore.open(old)
    await store.aclose()
    assert _sql(old, "SELECT version FROM swarm_schema") == [(2,)]
    assert _sql(old, "SELECT to_regclass('runs_by_created') IS NOT NULL") == [(True,)]


async def test_a_newer_schema_is_refused_untouched(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    await store.aclose()
    _sql(postgres_url, "UPDATE swarm_schema SET version = 99")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        await PostgresStore.open(postgres_url)
    assert _sql(postgres_url, "SELECT version FROM swarm_schema") == [(99,)]


async def test_two_connections_racing_for_a_lease_never_both_win(postgres_url: str) -> None:
    """Two stores (as two machines) take the same new lease at once, many times: one wins."""
    first = await PostgresStore.open(postgres_url)
    second = await PostgresStore.open(postgres_url)
    try:
        for n in range(15):
            won: list[str] = []

            async def take(store: PostgresStore, owner: str, name: str, won: list[str]) -> None:
                lease = await store.acquire_lease(name, owner, 30.0, now=1000.0)
                if lease.owner == owner:
                    won.append(owner)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(take, first, "a", f"lease{n}", won)
                nursery.start_soon(take, second, "b", f"lease{n}", won)
            assert len(won) == 1, won
    finally:
        await first.aclose()
        await second.aclose()


async def test_verify_names_damage_and_repair_quarantines_it(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = await PostgresStore.open(postgres_url)
    try:
        await store.save_run(RunRecord(run_id="r1", plan={}))
        await store.save_session(SessionRecord(session_id="s1", backend="simulated", run_id="r1"))
        await store.append_messages(
            "s1",
            [Message(uuid=f"m{n}", session_id="s1", role="user", content="x") for n in range(3)],
        )
        await store.save_session(SessionRecord(session_id="s9", backend="simulated", run_id="gone"))
    finally:
        await store.aclose()
    _sql(postgres_url, "UPDATE messages SET data = data || ' ' WHERE uuid = 'm1'")
    code, out = cli(capsys, "store", "verify", "--store", postgres_url)
    assert code == 1, out
    assert "record: messages s1/2: checksum mismatch" in out
    assert "orphan: sessions s9: sessions of run gone, which is missing" in out

    code, out = cli(capsys, "store", "repair", "--store", postgres_url)
    assert code == 0, out
    assert "ok: the store verifies clean" in out
    assert verify_postgres(postgres_url).clean
    assert _sql(postgres_url, "SELECT uuid, problem IS NOT NULL FROM quarantine_messages") == [
        ("m1", True)
    ]
    store = await PostgresStore.open(postgres_url)
    try:
        assert [m.uuid for m in await store.get_messages("s1")] == ["m0", "m2"]
    finally:
        await store.aclose()
    code, out = cli(capsys, "store", "verify", "--store", postgres_url)
    assert code == 0 and "ok: every record verified" in out


async def test_a_server_restart_mid_run_is_waited_out_with_nothing_lost(
    postgres_server: ThrowawayPostgres,
) -> None:
    """Writes keep coming while the server restarts: each waits, then lands; none is lost."""
    url = postgres_server.create_database("restart")
    store = await PostgresStore.open(url)
    try:
        await store.save_session(SessionRecord(session_id="s", backend="simulated"))

        async def writer() -> None:
            for n in range(40):
                await store.append_messages(
                    "s", [Message(uuid=f"m{n}", session_id="s", role="user", content=str(n))]
                )
                await trio.sleep(0.01)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            await trio.sleep(0.1)
            await trio.to_thread.run_sync(postgres_server.restart)
        assert [m.uuid for m in await store.get_messages("s")] == [f"m{n}" for n in range(40)]
    finally:
        await store.aclose()


async def test_a_server_gone_for_good_fails_cleanly_once_retry_s_is_spent(
    postgres_server: ThrowawayPostgres,
) -> None:
    url = postgres_server.create_database("gone")
    store = await PostgresStore.open(url + "?retry_s=1")
    try:
        await trio.to_thread.run_sync(postgres_server.stop_server)
        with pytest.raises(StoreError, match=r"unreachable for 1s; nothing more was written"):
            await store.save_run(RunRecord(run_id="r", plan={}))
    finally:
        await trio.to_thread.run_sync(postgres_server.start_server)
        await store.aclose()


def test_postgres_urls_are_parsed_once_with_clear_errors() -> None:
    parsed = parse_store_url(
        "postgresql://u:secret@db.example:5433/swarm?pool_size=8&sslmode=require"
    )
    assert parsed.is_postgres and not parsed.is_memory and parsed.pool_size == 8
    assert parsed.conninfo == "postgresql://u:secret@db.example:5433/swarm?sslmode=require"
    for url, problem in [
        ("postgresql://u:hunter2@host/", "has no database name"),
        ("postgres://u:hunter2@host:99999/db", "port must be a number"),
        ("postgresql://u:hunter2@host/db?colour=red", "unknown option 'colour'"),
        ("postgresql://u:hunter2@host/db?retry_s=-1", "retry_s must be"),
    ]:
        with pytest.raises(StoreURLError, match=problem) as caught:
            parse_store_url(url)
        assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("command", [["runs", "list"], ["store", "verify"]])
def test_an_unreachable_server_is_one_error_line_without_the_password(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    url = "postgresql://swarm:Hunter-2-secret@127.0.0.1:1/swarm?retry_s=0"
    code, out = cli(capsys, *command, "--store", url)
    assert code == 1, out
    assert out.count("swarm: error:") == 1 and "127.0.0.1:1" in out, out
    assert "Hunter-2-secret" not in out


def test_a_wrong_database_is_one_error_line_naming_the_store(
    postgres_server: ThrowawayPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_server.database_url("no_such_db").replace("postgres@", "postgres:pw@")
    code, out = cli(capsys, "runs", "list", "--store", url)
    assert code == 1, out
    assert out.startswith("swarm: error:") and out.count("swarm: error:") == 1, out
    assert 'database "no_such_db" does not exist' in out
    assert ":pw@" not in out


def test_without_psycopg_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    code, out = cli(capsys, "runs", "list", "--store", "postgresql://u@127.0.0.1:1/db")
    assert code == 1, out
    assert out.count("swarm: error:") == 1
    assert "install the swarm[postgres] extra" in out


def test_a_host_that_does_not_resolve_is_refused_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A misspelt host is not a server restarting: it fails at once, not after retry_s."""
    code, out = cli(capsys, "runs", "list", "--store", "postgresql://u:pw@no-such-host.invalid/db")
    assert code == 1 and out.count("swarm: error:") == 1, out
    assert "failed to resolve host" in out and "unreachable for" not in out
