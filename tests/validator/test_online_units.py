"""Online-validator pieces that need no block replay: checkpoint, RPC client, refusals and fatal cases."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fixture_server.py lives next to the tests
from fixture_server import (
    FixtureChain, FixtureServer, Run, chain, forked_block, free_port, metric, settings, wait_for,
)

from megaeth_node.cli import main
from megaeth_node.types import Header
from validator.checkpoint import Checkpoint, CheckpointError
from validator.online import EXIT_FATAL, EXIT_INVALID, EXIT_USAGE, CodeCache
from validator.pool import WorkerPool
from validator.rpc_client import Backoff, RpcCallError, RpcClient, RpcDataError, RpcUnavailable, retrying


def _headers(testdata: Path, numbers: range) -> list[Header]:
    ch = chain(testdata, tip=0)
    return [Header.from_rpc(ch.blocks[n]) for n in numbers]


def test_checkpoint_chain_rules(testdata: Path, tmp_path: Path) -> None:
    h = _headers(testdata, range(1139, 1144))
    with Checkpoint(tmp_path) as cp:
        assert cp.tip() is None and cp.anchor() is None
        cp.reset_anchor(h[0])
        for x in h[1:]:
            cp.append(x)
        with pytest.raises(CheckpointError):
            cp.append(h[2])  # does not extend the tip
        assert cp.tip().number == 1143 and cp.get(1141).header == h[2]  # type: ignore[union-attr]
        assert cp.tip().state_root == h[4].state_root  # type: ignore[union-attr]
        assert cp.rollback_to(1141) == 2
        assert cp.tip().hash == h[2].hash  # type: ignore[union-attr]
        with pytest.raises(CheckpointError):
            cp.rollback_to(1138)
        cp.append(h[3])
        assert cp.prune(keep=1) == 1  # tip 1142: 1141 is kept, 1140 goes, the anchor 1139 stays
        assert cp.get(1139) is not None and cp.get(1140) is None and cp.get(1141) is not None
        cp.put_codes({b"\x01" * 32: b"code"})
        assert cp.codes([b"\x01" * 32, b"\x02" * 32]) == {b"\x01" * 32: b"code"}
    with Checkpoint(tmp_path) as cp:  # persisted
        assert cp.anchor() == (1139, h[0].hash) and cp.tip().number == 1142  # type: ignore[union-attr]


def test_rpc_client_errors_and_backoff(testdata: Path) -> None:
    ch = chain(testdata, tip=1141)
    down = RpcClient(f"http://127.0.0.1:{free_port()}/", timeout=2)
    with pytest.raises(RpcUnavailable):
        down.block_number()
    down.close()
    b = Backoff(0.5, 30)
    assert [b.next() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    slept: list[float] = []
    attempts = iter([RpcUnavailable("x"), RpcUnavailable("y"), 7])

    def flaky() -> int:
        a = next(attempts)
        if isinstance(a, Exception):
            raise a
        return a

    assert retrying(flaky, Backoff(0.1, 1), lambda e, d: None, sleep=slept.append) == 7
    assert slept == [0.1, 0.2]
    ch.codes = {k: v + b"\x00" for k, v in ch.codes.items()}  # a lying sequencer
    with FixtureServer(ch) as server:
        c = RpcClient(server.url)
        assert c.block_number() == 1141
        assert c.block_by_number(1142) is None
        with pytest.raises(RpcDataError, match="hashes to"):
            c.code_by_hash(next(iter(ch.codes)))
        with pytest.raises(RpcCallError):
            c.call("no_such_method", [])
        h = bytes.fromhex(ch.blocks[1140]["hash"][2:])
        salt, mpt = c.block_witness(1140, h)
        assert salt.kvs and mpt.state
        old = c.call("mega_getBlockWitness", ["1140", ch.blocks[1140]["hash"]])  # old positional form
        assert isinstance(old, str) and old.startswith("v0:")
        c.close()


@pytest.fixture(scope="module")
def inline_pool() -> WorkerPool:
    return WorkerPool(1)


def test_needs_an_anchor_the_first_time(tmp_path: Path) -> None:
    status = main(["validate", "--rpc", f"http://127.0.0.1:{free_port()}/", "--data-dir", str(tmp_path),
                   "--workers", "1"])
    assert status == EXIT_USAGE


def test_invalid_block_stops_with_status_1(testdata: Path, tmp_path: Path, inline_pool: WorkerPool) -> None:
    ch = chain(testdata, tip=1140)
    bad = dict(ch.blocks[1140], transactionsRoot="0x" + "11" * 32)
    bad = forked_block(bad, tag=0)  # recompute the header hash: only the transactions root is wrong
    ch.fork[1140] = bad
    ch.witnesses[bytes.fromhex(bad["hash"][2:])] = ch.witnesses[bytes.fromhex(ch.blocks[1140]["hash"][2:])]
    with FixtureServer(ch) as server:
        run = Run(settings(server.url, tmp_path, start_block="1139", workers=1), inline_pool)
        assert run.join(60) == EXIT_INVALID
    assert metric(run.metrics, "stateless_validator_blocks_invalid_total") == 1
    assert ch.last_validated is None
    with Checkpoint(tmp_path) as cp:
        assert cp.tip().number == 1139  # type: ignore[union-attr]
        r = cp.result(1140, bytes.fromhex(bad["hash"][2:]))
        assert r is not None and not r.valid and r.field == "block integrity"


def test_catastrophic_reorg_of_the_anchor(testdata: Path, tmp_path: Path, inline_pool: WorkerPool) -> None:
    ch = chain(testdata, tip=1139)
    with FixtureServer(ch) as server:
        with Checkpoint(tmp_path) as cp:
            cp.reset_anchor(Header.from_rpc(ch.blocks[1139]))
        ch.fork[1139] = forked_block(ch.blocks[1139])
        run = Run(settings(server.url, tmp_path, workers=1), inline_pool)
        assert run.join(60) == EXIT_FATAL


def test_stored_pending_result_is_reused(testdata: Path, tmp_path: Path, inline_pool: WorkerPool) -> None:
    """A block validated ahead of the tip before a restart (a stored pending result for exactly that hash)
    is not validated again; a stored result for another hash at that height is ignored."""
    from validator.checks import Verdict

    ch = chain(testdata, tip=1141)
    h1140, h1141 = (bytes.fromhex(ch.blocks[n]["hash"][2:]) for n in (1140, 1141))
    with Checkpoint(tmp_path) as cp:
        cp.reset_anchor(Header.from_rpc(ch.blocks[1139]))
        cp.put_result(Verdict(1140, h1140, True, ms=1.0))
        cp.put_result(Verdict(1141, b"\x99" * 32, True, ms=1.0))
        assert cp.result(1141, h1141) is None
    with FixtureServer(ch) as server:
        run = Run(settings(server.url, tmp_path, workers=1, until_block=1140), inline_pool)
        assert run.join(60) == 0
    assert run.validator.validated_count == 0
    assert ch.calls.get("mega_getBlockWitness", 0) == 0
    with Checkpoint(tmp_path) as cp:
        assert cp.tip().hash == h1140  # type: ignore[union-attr]
        assert cp.result(1140, h1140) is None  # consumed when the block joined the chain


def _bad_tx_nonce(block: dict[str, Any]) -> dict[str, Any]:
    first, *rest = block["transactions"]
    return dict(block, transactions=[dict(first, nonce="0xzz"), *rest])


def _rehashed_parent(block: dict[str, Any]) -> dict[str, Any]:
    """The block with another parentHash and its hash recomputed: a block that links to nothing we know."""
    return forked_block(dict(block, parentHash="0x" + "22" * 32), tag=0)


@pytest.mark.parametrize("malformed", [
    lambda b: dict(b, mixHash="0x123"), lambda b: dict(b, mixHash=123), _bad_tx_nonce,
    lambda b: dict(b, gasUsed=hex(int(b["gasUsed"], 16) + 1)), _rehashed_parent,
], ids=["odd-hex", "not-a-string", "transaction-field", "header-not-its-hash", "parent-not-the-sequencers"])
def test_malformed_block_is_retried(testdata: Path, tmp_path: Path, inline_pool: WorkerPool,
                                    malformed: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A block the sequencer serves malformed (header or transaction), not hashing to its declared hash, or not
    linking to the sequencer's own block below it (which is still ours: no reorg) is a bad reply, retried with
    back-off: not a crash, nor status 1 (an invalid block), nor a reorg. Once it is served intact the validator
    goes on. Retries are WARNINGs until the back-off reaches its cap, ERRORs from then on."""
    ch = chain(testdata, tip=1140)
    ch.fork[1140] = malformed(ch.blocks[1140])
    with FixtureServer(ch) as server:
        s = settings(server.url, tmp_path, start_block="1139", workers=1, until_block=1140)
        run = Run(s, inline_pool)
        wait_for(lambda: metric(run.metrics, "stateless_validator_rpc_errors_total", method="fetch",
                                kind="bad reply") >= 4, 30, "retries of the malformed block")  # 0.05, 0.1, 0.2 s cap
        levels = [r.levelname for r in caplog.records if "rpc_retry" in r.getMessage()]
        assert levels[:2] == ["WARNING", "WARNING"] and "ERROR" in levels[2:]
        del ch.fork[1140]
        assert run.join(60) == 0
    with Checkpoint(tmp_path) as cp:
        assert cp.tip().number == 1140  # type: ignore[union-attr]
    assert metric(run.metrics, "stateless_validator_reorgs_total") == 0


def test_transactions_served_wrong_are_fetched_again(testdata: Path, tmp_path: Path,
                                                     inline_pool: WorkerPool) -> None:
    """A block served with transactions that are not its header's (here: in reverse order) may be a bad reply
    (§2.2 (3)-(4), fetch-time checks upstream): fetched again with a growing back-off, not status 1 at once,
    and valid once it is served right. (Served wrong every time, it is invalid: the test above.)"""
    ch = chain(testdata, tip=1140)
    ch.fork[1140] = dict(ch.blocks[1140], transactions=ch.blocks[1140]["transactions"][::-1])
    with FixtureServer(ch) as server:
        s = settings(server.url, tmp_path, start_block="1139", workers=1, until_block=1140)
        run = Run(s, inline_pool)
        wait_for(lambda: metric(run.metrics, "stateless_validator_rpc_errors_total", method="fetch",
                                kind="bad reply") >= 1, 30, "a fetch again of the block")
        del ch.fork[1140]
        assert run.join(60) == 0
    assert metric(run.metrics, "stateless_validator_blocks_invalid_total") == 0
    with Checkpoint(tmp_path) as cp:
        assert cp.tip().number == 1140  # type: ignore[union-attr]


def test_unusable_rpc_url_or_data_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Set-up failures are not "invalid block" (status 1): a URL without a scheme is a usage error (2), a
    data directory that cannot hold the checkpoint a fatal one (3), each said in one line."""
    assert main(["validate", "--rpc", "localhost:8545", "--data-dir", str(tmp_path), "--workers", "1",
                 "--start-block", "1"]) == EXIT_USAGE
    assert "unsupported RPC URL 'localhost:8545'" in capsys.readouterr().err
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert main(["validate", "--rpc", f"http://127.0.0.1:{free_port()}/", "--data-dir", str(not_a_dir),
                 "--workers", "1", "--start-block", "1"]) == EXIT_FATAL
    assert "cannot open the checkpoint" in capsys.readouterr().err


def test_workers_fork_with_aot_set_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`validate --rpc`'s worker processes are forked once AOT is configured, so they run hot contracts
    natively too (a fork before it left them interpreting)."""
    from megaeth_node.executor import native
    from validator import online

    seen: list[object] = []

    class Recorder:
        def __init__(self, settings: online.OnlineSettings, **_: Any) -> None:
            pass

        @property
        def pool(self) -> None:
            seen.append(native._config)

        def run(self) -> int:
            return 0

    monkeypatch.setattr(online, "OnlineValidator", Recorder)
    assert main(["validate", "--rpc", f"http://127.0.0.1:{free_port()}/", "--data-dir", str(tmp_path),
                 "--workers", "2", "--aot", "always"]) == 0
    assert seen == [("always", tmp_path / "aot", 30.0)]


def test_sequencer_behind_us_is_not_a_reorg(testdata: Path, tmp_path: Path, inline_pool: WorkerPool) -> None:
    """The sequencer answering null for our tip (restarting, a lagging replica) is waited out: the validated
    chain is kept, and no "catastrophic reorg" when our tip is the anchor."""
    ch = chain(testdata, tip=1139)
    with FixtureServer(ch) as server:
        s = settings(server.url, tmp_path, start_block="1139", workers=1, until_block=1140)
        run = Run(s, inline_pool)
        wait_for(lambda: ch.calls.get("eth_blockNumber", 0) >= 1, 30, "the validator to start following")
        ch.tip = 1138  # the sequencer no longer serves our tip
        wait_for(lambda: metric(run.metrics, "stateless_validator_rpc_errors_total", method="fetch",
                                kind="bad reply") >= 2, 30, "the validator to wait for the sequencer")
        assert run.thread.is_alive()
        ch.tip = 1140
        assert run.join(60) == 0
    assert metric(run.metrics, "stateless_validator_reorgs_total") == 0


def test_refusal_before_anything_was_validated_upstream(testdata: Path) -> None:
    """`lastValidatedBlock: null` (our sequencer before any report) is a refusal with no last block."""
    class NothingValidated(FixtureChain):
        def methods(self) -> dict[str, Any]:
            async def refuse(params: list[Any]) -> Any:
                return {"accepted": False, "lastValidatedBlock": None}
            return {**super().methods(), "mega_setValidatedBlocks": refuse}

    ch = chain(testdata, tip=1140)
    with FixtureServer(NothingValidated(ch.blocks, ch.witnesses, ch.codes, ch.tip)) as server:
        r = RpcClient(server.url).set_validated_blocks((1139, b"\x01" * 32), (1140, b"\x02" * 32))
    assert (r.accepted, r.last_number, r.last_hash) == (False, None, None)


def test_sequencer_without_the_report_method(testdata: Path, tmp_path: Path, inline_pool: WorkerPool) -> None:
    """A sequencer without `mega_setValidatedBlocks` (a public RPC node) is told once, not on every block, and
    validation goes on to the end."""
    class NoReports(FixtureChain):
        def methods(self) -> dict[str, Any]:
            return {k: v for k, v in super().methods().items() if k != "mega_setValidatedBlocks"}

    ch = chain(testdata, tip=1142)
    served = NoReports(ch.blocks, ch.witnesses, ch.codes, ch.tip)
    with FixtureServer(served) as server:
        run = Run(settings(server.url, tmp_path, start_block="1139", workers=1, until_block=1142, lookahead=1),
                  inline_pool)
        assert run.join(120) == 0
    assert metric(run.metrics, "stateless_validator_reports_total", outcome="error") == 1
    with Checkpoint(tmp_path) as cp:
        assert cp.tip().number == 1142  # type: ignore[union-attr]


def test_failed_reports_back_off_and_the_last_one_is_sent(testdata: Path, tmp_path: Path,
                                                         inline_pool: WorkerPool) -> None:
    """Reports that fail are tried again after a back-off of their own, not on every pass of the loop; the
    report of the final tip, before stopping, is sent whatever the back-off."""
    from rpc.errors import RpcError

    class Flaky(FixtureChain):
        def methods(self) -> dict[str, Any]:
            table = super().methods()
            report = table["mega_setValidatedBlocks"]

            async def flaky(params: list[Any]) -> Any:
                if not self.calls.get("failures"):
                    self.calls["failures"] = self.calls.get("failures", 0) + 1
                    raise RpcError(-32000, "busy")
                return await report(params)
            return {**table, "mega_setValidatedBlocks": flaky}

    ch = chain(testdata, tip=1143)
    served = Flaky(ch.blocks, ch.witnesses, ch.codes, ch.tip)
    with FixtureServer(served) as server:
        s = settings(server.url, tmp_path, start_block="1139", workers=1, until_block=1143, lookahead=1,
                     backoff_first_s=30.0, backoff_cap_s=30.0)
        run = Run(s, inline_pool)
        assert run.join(120) == 0
    assert served.calls["failures"] == 1
    assert served.calls["mega_setValidatedBlocks"] == 1  # the 30 s back-off: none until the last one
    assert served.last_validated == (1143, ch.blocks[1143]["hash"])


def test_code_cache_drops_the_least_recently_used_beyond_its_budget() -> None:
    cache = CodeCache(max_bytes=10)
    cache.put_many({b"a": b"1234", b"b": b"1234"})
    assert cache.get_many([b"a"]) == {b"a": b"1234"}  # a is now the most recently used
    cache.put_many({b"c": b"1234"})  # 12 bytes: b goes
    assert cache.get_many([b"a", b"b", b"c"]) == {b"a": b"1234", b"c": b"1234"}
    assert (len(cache), cache.size) == (2, 8)
    cache.put_many({b"big": b"x" * 11})  # larger than the budget on its own: nothing is kept
    assert (len(cache), cache.size) == (0, 0)


class _BigReplies:
    """An HTTP server whose replies are `size` bytes of JSON, with a Content-Length or without (read to the
    close); `size` small enough is a valid `eth_blockNumber` reply."""

    def __init__(self) -> None:
        import http.server
        import threading

        outer = self
        self.size, self.declare = 0, True

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                body = b'{"jsonrpc":"2.0","id":1,"result":"0x1"' + b" " * max(0, outer.size - 40) + b"}"
                self.send_response(200)
                if outer.declare:
                    self.send_header("Content-Length", str(len(body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "read-to-close"])
def test_rpc_client_refuses_a_reply_over_its_cap(declare: bool) -> None:
    server = _BigReplies()
    server.declare = declare
    try:
        c = RpcClient(server.url, max_reply_bytes=1 << 20)
        server.size = 3 << 20
        with pytest.raises(RpcDataError, match="longer than 1048576 bytes"):
            c.block_number()
        server.size = 1 << 20  # at the cap: read, on a new connection
        assert c.block_number() == 1
        c.close()
    finally:
        server.close()
