"""`debug_traceCall` against a real `megaeth-node run` process, with Anvil (npm @foundry-rs/anvil) as the reference
for geth's `callTracer` layout: the same requests over the same code (put in place by `stateOverrides`) must give the
same frames on both, but for gas, which MegaETH meters its own way. Without the npm packages the Anvil comparisons
skip, except under CI=true, where they fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from evm_asm import assemble, deploying
from node_process import require_js_deps, running_anvil, running_node


def _at(n: int) -> str:
    return "0x" + n.to_bytes(20, "big").hex()


SEVEN, NO, PANIC, EMPTY, LOOP, TOP, SENDER = (_at(0xA1), _at(0xA2), _at(0xA3), _at(0xA4), _at(0xA5), _at(0xC0),
                                               _at(0x5E4D))
INNER, STATIC_TOP, LOGGER, LOGS_THEN_REVERTS, LOGS = _at(0xB1), _at(0xC1), _at(0xB2), _at(0xB3), _at(0xB4)
SELF_VIEW, FACTORY, DELEGATE, EOA, DELEGATOR = _at(0xB5), _at(0xB6), _at(0xB7), _at(0xE0A), _at(0xB9)
MEMORY_HOG, POOR, ENDS, POOR_CREATOR, TWICE = _at(0xBA), _at(0xBB), _at(0xBC), _at(0xBD), _at(0xBE)


def _returns_seven() -> bytes:
    return assemble(("PUSH", 7), ("PUSH", 0), "MSTORE", ("PUSH", 32), ("PUSH", 0), "RETURN")


def _reverts_no() -> bytes:
    """revert(Error("no"))"""
    return assemble(("PUSH", 0x08C379A0), ("PUSH", 224), "SHL", ("PUSH", 0), "MSTORE", ("PUSH", 32), ("PUSH", 4),
                    "MSTORE", ("PUSH", 2), ("PUSH", 36), "MSTORE", ("PUSH", int.from_bytes(b"no", "big") << 240),
                    ("PUSH", 68), "MSTORE", ("PUSH", 100), ("PUSH", 0), "REVERT")


def _panics() -> bytes:
    """revert(Panic(0x11))"""
    return assemble(("PUSH", 0x4E487B71), ("PUSH", 224), "SHL", ("PUSH", 0), "MSTORE", ("PUSH", 0x11), ("PUSH", 4),
                    "MSTORE", ("PUSH", 36), ("PUSH", 0), "REVERT")


def _loops() -> bytes:
    return assemble(("LABEL", "top"), ("PUSHLABEL", "top"), "JUMP")


def _call(op: str, to: str, gas: int = 100_000, in_size: int = 0) -> list[object]:
    """`op` to `to` with `in_size` bytes of input from memory 0, 32 bytes of output at memory 0, its success flag
    dropped."""
    value = [] if op in ("STATICCALL", "DELEGATECALL") else [("PUSH", 0)]
    return [("PUSH", 32), ("PUSH", 0), ("PUSH", in_size), ("PUSH", 0), *value, ("PUSH", int(to, 16)), ("PUSH", gas),
            op, "POP"]


def _top() -> bytes:
    """Calls each kind of callee, each way, then returns the 32 bytes the last successful call left in memory."""
    return assemble(*_call("CALL", SEVEN), *_call("STATICCALL", SEVEN), *_call("DELEGATECALL", SEVEN),
                    *_call("CALL", NO), *_call("CALL", PANIC), *_call("CALL", EMPTY), *_call("CALL", LOOP, 5_000),
                    *_call("CALL", SEVEN), ("PUSH", 32), ("PUSH", 0), "RETURN")


def _inner() -> bytes:
    """Each call kind that a static frame allows, to SEVEN."""
    return assemble(*_call("CALL", SEVEN), *_call("DELEGATECALL", SEVEN), *_call("STATICCALL", SEVEN),
                    ("PUSH", 32), ("PUSH", 0), "RETURN")


def _log(topics: int) -> list[object]:
    """LOG`topics` of the first 32 bytes of memory, topics ..., 0x12, 0x11 (the last pushed is the first)."""
    return [*(("PUSH", 0x11 + t) for t in range(topics)), ("PUSH", 32), ("PUSH", 0), f"LOG{topics}"]


def _logger() -> bytes:
    """Logs around its calls: one before any, one after the first, one after a child that logged and reverted and a
    child that logged; the reverted child's log is not reported."""
    return assemble(*_log(1), *_call("CALL", SEVEN), *_log(0), *_call("CALL", LOGS_THEN_REVERTS),
                    *_call("CALL", LOGS), *_log(2), "STOP")


def _self_view() -> bytes:
    """STATICCALLs itself with one more byte of input, until the input has 2 bytes (a view calling `this`)."""
    return assemble("CALLDATASIZE", ("PUSH", 2), "EQ", ("PUSHLABEL", "end"), "JUMPI", ("PUSH", 0), ("PUSH", 0),
                    ("PUSH", 1), "CALLDATASIZE", "ADD", ("PUSH", 0), "ADDRESS", "GAS", "STATICCALL", "POP",
                    ("LABEL", "end"), "STOP")


def _factory() -> bytes:
    """CREATE2 (salt 0x42) of an init code that deploys `_returns_seven()`."""
    init = deploying(_returns_seven())
    return assemble(("PUSH", init), ("PUSH", 0), "MSTORE", ("PUSH", 0x42), ("PUSH", len(init)),
                    ("PUSH", 32 - len(init)), ("PUSH", 0), "CREATE2", "POP", "STOP")


def _create2_twice() -> bytes:
    """`_factory()`'s CREATE2, twice: the second collides with the first."""
    init = deploying(_returns_seven())
    once = [("PUSH", 0x42), ("PUSH", len(init)), ("PUSH", 32 - len(init)), ("PUSH", 0), "CREATE2", "POP"]
    return assemble(("PUSH", init), ("PUSH", 0), "MSTORE", *once, *once, "STOP")


def _delegate() -> bytes:
    """The code an EIP-7702 account delegates to: with no input, it CALLs its own address with one byte."""
    return assemble("CALLDATASIZE", ("PUSHLABEL", "end"), "JUMPI", ("PUSH", 0), ("PUSH", 0), ("PUSH", 1), ("PUSH", 0),
                    ("PUSH", 0), "ADDRESS", "GAS", "CALL", "POP", ("LABEL", "end"), "STOP")


CODES = {SEVEN: _returns_seven(), NO: _reverts_no(), PANIC: _panics(), EMPTY: b"\x00", LOOP: _loops(), TOP: _top(),
         INNER: _inner(), STATIC_TOP: assemble(*_call("STATICCALL", INNER), "STOP"), LOGGER: _logger(),
         LOGS_THEN_REVERTS: assemble(*_log(3), ("PUSH", 0), ("PUSH", 0), "REVERT"), LOGS: assemble(*_log(4), "STOP"),
         SELF_VIEW: _self_view(), FACTORY: _factory(), DELEGATE: _delegate(),
         EOA: bytes.fromhex("ef0100") + bytes.fromhex(DELEGATE[2:]),
         DELEGATOR: assemble(*_call("DELEGATECALL", EOA, in_size=1), *_call("CALLCODE", SEVEN), "STOP"),
         POOR: assemble(*_log(0), ("PUSH", 0), ("PUSH", 0), ("PUSH", 0), ("PUSH", 0), ("PUSH", 1),  # 1 wei it lacks
                        ("PUSH", int(SEVEN, 16)), ("PUSH", 50_000), "CALL", "POP", *_call("CALL", SEVEN), *_log(1),
                        "STOP"),
         ENDS: assemble(("PUSH", 0xBEEF), "SELFDESTRUCT"),
         POOR_CREATOR: assemble(("PUSH", 0), ("PUSH", 0), ("PUSH", 1), "CREATE", "POP", *_call("CALL", SEVEN), "STOP"),
         TWICE: _create2_twice(),
         MEMORY_HOG: assemble(("PUSH", 1), ("PUSH", 1 << 20), "MSTORE", ("LABEL", "top"),
                              ("PUSHLABEL", "top"), "JUMP")}
OVERRIDES = {a: {"code": "0x" + c.hex()} for a, c in CODES.items()} | {SENDER: {"balance": hex(10**20)}}
OVERRIDES[ENDS]["balance"] = "0x5"

REQUESTS = {  # name: (call request, what the call tracer must show at the top)
    "nested calls": ({"to": TOP}, {"output": "0x" + (7).to_bytes(32, "big").hex()}),
    "calls inside a static frame": ({"to": STATIC_TOP}, {"to": STATIC_TOP}),
    "a view calling itself twice": ({"to": SELF_VIEW}, {"to": SELF_VIEW}),
    "CREATE2": ({"to": FACTORY}, {"to": FACTORY}),
    "a value call above the balance": ({"to": POOR}, {"to": POOR}),
    "SELFDESTRUCT": ({"to": ENDS}, {"to": ENDS}),
    "a value create above the balance": ({"to": POOR_CREATOR}, {"to": POOR_CREATOR}),
    "a create that collides": ({"to": TWICE}, {"to": TWICE}),
    "an EIP-7702 account calling itself": ({"to": EOA}, {"to": EOA}),
    "DELEGATECALL to an EIP-7702 account, CALLCODE": ({"to": DELEGATOR}, {"to": DELEGATOR}),
    "revert with a reason": ({"to": NO}, {"error": "execution reverted", "revertReason": "no"}),
    "panic": ({"to": PANIC}, {"revertReason": "arithmetic underflow or overflow"}),
    "no output": ({"to": EMPTY, "value": "0x5"}, {"value": "0x5"}),
    "creation": ({"input": "0x" + deploying(_returns_seven()).hex()}, {"type": "CREATE"}),
    "failed creation": ({"input": "0xfe"}, {"error": "invalid opcode: INVALID"}),
    "reverted creation": ({"input": "0x" + _reverts_no().hex()}, {"revertReason": "no"}),
}


def _rpc(url: str, method: str, *params: Any) -> Any:
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                          timeout=60).json()
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply["result"]


CALL_TRACER = {"tracer": "callTracer"}
WITH_LOG = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}
TOP_ONLY = {"tracer": "callTracer", "tracerConfig": {"withLog": True, "onlyTopCall": True}}


def _trace(url: str, request: dict[str, Any], options: dict[str, Any] = CALL_TRACER) -> Any:
    """debug_traceCall of `request` from SENDER with 10^6 gas, over CODES, with the tracer `options` name."""
    config = {**options, "stateOverrides": OVERRIDES}
    return _rpc(url, "debug_traceCall", {"from": SENDER, "gas": hex(1_000_000), **request}, "latest", config)


def _without_gas(frame: dict[str, Any], log_keys: tuple[str, ...] = ("address", "topics", "data", "position")
                 ) -> dict[str, Any]:
    """The frame with gas figures replaced by their presence (MegaETH meters gas its own way), its logs with only
    `log_keys` (geth's; Anvil adds an `index`)."""
    out = {k: v for k, v in frame.items() if k not in ("gas", "gasUsed", "calls", "logs")}
    out["gas?"], out["gasUsed?"] = "gas" in frame, "gasUsed" in frame
    if "logs" in frame:
        out["logs"] = [{k: log[k] for k in log_keys} for log in frame["logs"]]
    if "calls" in frame:
        out["calls"] = [_without_gas(c, log_keys) for c in frame["calls"]]
    return out


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "200") as (url, _):
        yield url


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_js_deps("the Anvil comparisons")
    with running_anvil(tmp_path_factory.mktemp("anvil")) as url:
        yield url


ANVIL_ERRORS = {"CreateCollision": "contract address collision"}  # revm's name; geth's words (core/vm/errors.go)


def _in_geths_words(frame: dict[str, Any]) -> dict[str, Any]:
    """An Anvil frame with its errors worded as geth words them."""
    out = {**frame, "calls": [_in_geths_words(c) for c in frame.get("calls", [])]}
    if "error" in frame:
        out["error"] = ANVIL_ERRORS.get(frame["error"], frame["error"])
    return out if out["calls"] else {k: v for k, v in out.items() if k != "calls"}


@pytest.mark.parametrize("name", REQUESTS)
def test_call_tracer_frames_match_anvil(ours: str, anvil: str, name: str) -> None:
    request, expected = REQUESTS[name]
    mine, theirs = _trace(ours, request), _in_geths_words(_trace(anvil, request))
    assert _without_gas(mine) == _without_gas(theirs)
    assert expected.items() <= mine.items()


@pytest.mark.parametrize("options", [WITH_LOG, TOP_ONLY], ids=["withLog", "onlyTopCall"])
@pytest.mark.parametrize("to", [LOGGER, TOP, POOR, TWICE])
def test_call_tracer_config_matches_anvil(ours: str, anvil: str, options: dict[str, Any], to: str) -> None:
    """With onlyTopCall, geth counts no calls, so every log's `position` is 0 (eth/tracers/native/call.go: OnEnter
    returns before recording a nested call); Anvil counts them, so positions are compared in the withLog case only."""
    keys = ("address", "topics", "data") if options is TOP_ONLY else ("address", "topics", "data", "position")
    mine, theirs = _trace(ours, {"to": to}, options), _in_geths_words(_trace(anvil, {"to": to}, options))
    assert _without_gas(mine, keys) == _without_gas(theirs, keys)


def test_logs_and_their_positions(ours: str) -> None:
    """withLog: each frame's own logs, each after the calls it follows; a reverted frame's logs are left out."""
    top = _trace(ours, {"to": LOGGER}, WITH_LOG)
    assert [(len(log["topics"]), log["position"]) for log in top["logs"]] == [(1, "0x0"), (0, "0x1"), (2, "0x3")]
    assert [("logs" in c, c.get("error")) for c in top["calls"]] == [
        (False, None), (False, "execution reverted"), (True, None)]
    topics = ["0x" + f"{t:064x}" for t in (0x14, 0x13, 0x12, 0x11)]
    assert top["calls"][2]["logs"] == [{"address": LOGS, "topics": topics, "data": "0x" + "00" * 32, "position": "0x0"}]
    only = _trace(ours, {"to": LOGGER}, TOP_ONLY)
    assert "calls" not in only and [log["position"] for log in only["logs"]] == ["0x0"] * 3
    assert "logs" not in _trace(ours, {"to": LOGGER})


def test_nested_frames(ours: str) -> None:
    """Each kind of frame once: STATICCALL without a value, a reverted child with its data and reason, a child that
    ran out of gas without output, an empty output left out."""
    top = _trace(ours, {"to": TOP})
    kinds = [(c["type"], c["to"], c.get("error"), c.get("revertReason"), "output" in c, "value" in c)
             for c in top["calls"]]
    assert kinds == [
        ("CALL", SEVEN, None, None, True, True), ("STATICCALL", SEVEN, None, None, True, False),
        ("DELEGATECALL", SEVEN, None, None, True, True), ("CALL", NO, "execution reverted", "no", True, True),
        ("CALL", PANIC, "execution reverted", "arithmetic underflow or overflow", True, True),
        ("CALL", EMPTY, None, None, False, True), ("CALL", LOOP, "out of gas", None, False, True),
        ("CALL", SEVEN, None, None, True, True)]
    assert int(top["gas"], 16) == 1_000_000 and 0 < int(top["gasUsed"], 16) < 1_000_000


def test_gas_used_agrees_with_the_estimate(ours: str) -> None:
    """The top frame's gasUsed is what the call uses: no more than eth_estimateGas's lowest limit that succeeds,
    and the same whatever limit the call is given above that."""
    traced = int(_trace(ours, {"to": TOP})["gasUsed"], 16)
    estimate = int(_rpc(ours, "eth_estimateGas", {"from": SENDER, "to": TOP}, "latest", OVERRIDES), 16)
    at_estimate = _trace(ours, {"to": TOP, "gas": hex(estimate)})
    assert traced <= estimate and "error" not in at_estimate and int(at_estimate["gasUsed"], 16) == traced


def test_struct_logger_steps_match_anvil(ours: str, anvil: str) -> None:
    """geth's default tracer: the same opcodes, positions, depths, stacks and memory as Anvil's (gas aside)."""
    options = {"enableMemory": True}
    request = {"to": NO}  # no GAS opcode, so that the stacks do not depend on the gas schedule
    mine, theirs = _trace(ours, request, options), _trace(anvil, request, options)
    assert mine["failed"] and theirs["failed"] and mine["returnValue"] == theirs["returnValue"].removeprefix("0x")

    def steps(result: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Memory words as geth writes them (`%x`, no 0x; Anvil adds one)."""
        return [(s["pc"], s["op"], s["depth"], s.get("stack"), [w.removeprefix("0x") for w in s.get("memory", [])])
                for s in result["structLogs"]]

    assert steps(mine) == steps(theirs) and len(steps(mine)) > 10


@pytest.mark.parametrize("to, options, gas, message", [
    (LOOP, {"timeout": "50ms"}, 10**6, "execution timeout"),
    (MEMORY_HOG, {"enableMemory": True}, 10**7, "trace too large"),
])
def test_struct_logger_budget(ours: str, to: str, options: dict[str, Any], gas: int, message: str) -> None:
    """A traced run that passes its time (geth's `timeout`) or size budget is abandoned with -32000; the node goes
    on serving, its state untouched."""
    reply = requests.post(ours, json={"jsonrpc": "2.0", "id": 1, "method": "debug_traceCall", "params": [
        {"from": SENDER, "to": to, "gas": hex(gas)}, "latest", {**options, "stateOverrides": OVERRIDES}]},
        timeout=120).json()
    assert reply["error"]["code"] == -32000 and message in reply["error"]["message"], reply
    assert _rpc(ours, "eth_getCode", to, "latest") == "0x"
    assert _trace(ours, {"to": SEVEN})["output"] == "0x" + (7).to_bytes(32, "big").hex()


def test_state_is_left_as_it_was(ours: str) -> None:
    """A traced call that writes nothing lasting: the overrides and the call's effects are undone."""
    _trace(ours, {"to": TOP})
    assert _rpc(ours, "eth_getCode", TOP, "latest") == "0x"
    assert _rpc(ours, "eth_getBalance", SENDER, "latest") == "0x0"


@pytest.mark.parametrize("params, code", [
    ([], -32602),
    (["0x12"], -32602),
    ([{"to": TOP}, "latest", {"tracer": "prestateTracer"}], -32602),
    ([{"to": TOP}, "latest", {"tracer": "callTracer", "tracerConfig": {"withLog": 1}}], -32602),
    ([{"to": TOP}, "latest", {"tracer": "callTracer", "tracerConfig": []}], -32602),
    ([{"to": TOP}, "latest", {"enableMemory": "yes"}], -32602),
    ([{"to": TOP}, "latest", {"timeout": "5"}], -32602),
    ([{"to": TOP}, "latest", {"timeout": "2h"}], -32602),
    ([{"to": TOP}, "latest", {"blockOverrides": {"number": "0x1"}}], -32602),
    ([{"to": TOP}, "latest", {"stateOverrides": {TOP: {"state": {}, "stateDiff": {}}}}], -32602),
    ([{"to": TOP}, "0x99999"], -32000),
])
def test_bad_requests_are_refused(ours: str, params: list[Any], code: int) -> None:
    reply = requests.post(ours, json={"jsonrpc": "2.0", "id": 1, "method": "debug_traceCall", "params": params},
                          timeout=30).json()
    assert reply["error"]["code"] == code, reply
