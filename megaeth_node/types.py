"""Chain data as frozen values with their RLP / EIP-2718 codecs (spec/stateless-validator.md §3.2, §3.3, §5.3).

Covers what MegaETH blocks carry: legacy (EIP-155), EIP-1559 (0x02), EIP-7702 (0x04) and OP deposit
(0x7e) transactions, Prague/Isthmus headers, OP receipts, and ordered-trie roots.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any

import rlp
from coincurve import PublicKey
from sha3 import keccak_256

DEPOSIT_TX_TYPE = 0x7E
SET_CODE_TX_TYPE = 0x04
DYNAMIC_FEE_TX_TYPE = 0x02
ACCESS_LIST_TX_TYPE = 0x01
LEGACY_TX_TYPE = 0x00
GAS_PRICE_TX_TYPES = (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE)  # priced by one gas price (no EIP-1559 caps)
SET_CODE_AUTH_MAGIC = b"\x05"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class ChainDataError(ValueError):
    """Chain data that cannot be decoded or does not hang together; the message says which field."""


def _int(v: Any) -> int:
    return int(v, 16) if isinstance(v, str) else int(v)


def _bytes(v: str | None) -> bytes:
    if v is None:
        return b""
    if not v.startswith("0x") or len(v) % 2:
        raise ChainDataError(f"not 0x-prefixed even-length hex: {v[:20]!r}")
    return bytes.fromhex(v[2:])


def keccak(data: bytes) -> bytes:
    """Keccak-256 in C (safe-pysha3): ~0.7 us a short input, against eth_hash's pycryptodome backend's ~6 us,
    which also releases the GIL three times a hash (a wait for the builder thread each time)."""
    return keccak_256(data).digest()


keccak256 = keccak
EMPTY_TRIE_ROOT = keccak(b"\x80")


def rlp_encode(item: bytes | int | list[Any] | tuple[Any, ...]) -> bytes:
    """RLP of bytes, non-negative ints and (nested) lists or tuples: what `rlp.encode` gives for them, without
    pyrlp's sedes inference (the transaction intake encodes every transaction twice)."""
    if isinstance(item, bytes):
        return _rlp_str(item)
    if isinstance(item, int):
        if item < 0:
            raise ChainDataError(f"RLP cannot encode the negative integer {item}")
        return _rlp_str(item.to_bytes((item.bit_length() + 7) // 8, "big")) if item else b"\x80"
    if not isinstance(item, (list, tuple)):
        raise ChainDataError(f"RLP cannot encode a {type(item).__name__}")
    payload = b"".join([rlp_encode(x) for x in item])
    return _rlp_len(len(payload), 0xC0) + payload


def _rlp_str(b: bytes) -> bytes:
    if len(b) == 1 and b[0] < 0x80:
        return b
    return _rlp_len(len(b), 0x80) + b


def _rlp_len(n: int, offset: int) -> bytes:
    if n < 56:
        return bytes([offset + n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size


def _hex_prefix(nibbles: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    nib = bytes([flag + 1]) + nibbles if len(nibbles) % 2 else bytes([flag, 0]) + nibbles
    return bytes(nib[i] << 4 | nib[i + 1] for i in range(0, len(nib), 2))


def _trie_node(items: list[tuple[bytes, bytes]], depth: int) -> bytes:
    """RLP of the Merkle-Patricia node over `items` ((key nibbles, value), sorted by key) below `depth`."""
    if len(items) == 1:
        key, value = items[0]
        payload = _rlp_str(_hex_prefix(key[depth:], True)) + _rlp_str(value)
        return _rlp_len(len(payload), 0xC0) + payload
    first, last = items[0][0], items[-1][0]
    end = depth
    while end < min(len(first), len(last)) and first[end] == last[end]:
        end += 1
    if end > depth:
        payload = _rlp_str(_hex_prefix(first[depth:end], False)) + _trie_ref(_trie_node(items, end))
        return _rlp_len(len(payload), 0xC0) + payload
    slots, value, i = [b"\x80"] * 16, b"\x80", 0
    while i < len(items):
        key = items[i][0]
        if len(key) == depth:
            value, i = _rlp_str(items[i][1]), i + 1
            continue
        j = i + 1
        while j < len(items) and items[j][0][depth] == key[depth]:
            j += 1
        slots[key[depth]] = _trie_ref(_trie_node(items[i:j], depth + 1))
        i = j
    payload = b"".join(slots) + value
    return _rlp_len(len(payload), 0xC0) + payload


def _trie_ref(node: bytes) -> bytes:
    return node if len(node) < 32 else b"\xa0" + keccak(node)


def ordered_trie_root(items: Iterable[bytes]) -> bytes:
    """Root of the Merkle-Patricia trie mapping rlp(index) → item (transactions / receipts roots), built in
    one pass (py-trie's HexaryTrie costs ~0.3 ms per item; this runs at every seal and every validation)."""
    values = list(items)
    keyed = sorted(zip(_index_keys(len(values)), values), key=itemgetter(0))
    return keccak(_trie_node(keyed, 0)) if keyed else EMPTY_TRIE_ROOT


_INDEX_KEYS: list[bytes] = []


def _index_keys(count: int) -> list[bytes]:
    """The trie keys (nibbles of rlp(i)) of indexes 0…count−1 at least, made once (a list swapped whole, so
    threads never see a partial one)."""
    global _INDEX_KEYS
    keys = _INDEX_KEYS
    if len(keys) < count:
        keys = _INDEX_KEYS = keys + [bytes(n for b in rlp_encode(i) for n in (b >> 4, b & 15))
                                     for i in range(len(keys), count)]
    return keys


@dataclass(frozen=True, slots=True)
class Header:
    """An Isthmus/Prague block header (21 fields; trailing optional ones are None when absent)."""

    parent_hash: bytes
    ommers_hash: bytes
    coinbase: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    logs_bloom: bytes
    difficulty: int
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: bytes
    mix_hash: bytes
    nonce: bytes
    base_fee_per_gas: int | None = None
    withdrawals_root: bytes | None = None
    blob_gas_used: int | None = None
    excess_blob_gas: int | None = None
    parent_beacon_block_root: bytes | None = None
    requests_hash: bytes | None = None

    def encode(self) -> bytes:
        fields_ = [self.parent_hash, self.ommers_hash, self.coinbase, self.state_root, self.transactions_root,
                   self.receipts_root, self.logs_bloom, self.difficulty, self.number, self.gas_limit,
                   self.gas_used, self.timestamp, self.extra_data, self.mix_hash, self.nonce]
        for opt in (self.base_fee_per_gas, self.withdrawals_root, self.blob_gas_used, self.excess_blob_gas,
                    self.parent_beacon_block_root, self.requests_hash):
            if opt is None:
                break
            fields_.append(opt)
        return rlp_encode(fields_)

    @property
    def hash(self) -> bytes:
        return keccak(self.encode())

    @classmethod
    def decode(cls, raw: bytes) -> Header:
        """Inverse of `encode` (storage format; trusted input)."""
        ints = {7, 8, 9, 10, 11, 15, 17, 18}
        return cls(*(int.from_bytes(x, "big") if i in ints else x for i, x in enumerate(rlp.decode(raw))))

    @classmethod
    def from_rpc(cls, d: Mapping[str, Any]) -> Header:
        """Parse the header part of an `eth_getBlockBy*` result."""
        def opt_int(k: str) -> int | None:
            return _int(d[k]) if d.get(k) is not None else None

        def opt_bytes(k: str) -> bytes | None:
            return _bytes(d[k]) if d.get(k) is not None else None

        return cls(
            parent_hash=_bytes(d["parentHash"]), ommers_hash=_bytes(d["sha3Uncles"]), coinbase=_bytes(d["miner"]),
            state_root=_bytes(d["stateRoot"]), transactions_root=_bytes(d["transactionsRoot"]),
            receipts_root=_bytes(d["receiptsRoot"]), logs_bloom=_bytes(d["logsBloom"]),
            difficulty=_int(d["difficulty"]), number=_int(d["number"]), gas_limit=_int(d["gasLimit"]),
            gas_used=_int(d["gasUsed"]), timestamp=_int(d["timestamp"]), extra_data=_bytes(d["extraData"]),
            mix_hash=_bytes(d["mixHash"]), nonce=_bytes(d["nonce"]),
            base_fee_per_gas=opt_int("baseFeePerGas"), withdrawals_root=opt_bytes("withdrawalsRoot"),
            blob_gas_used=opt_int("blobGasUsed"), excess_blob_gas=opt_int("excessBlobGas"),
            parent_beacon_block_root=opt_bytes("parentBeaconBlockRoot"), requests_hash=opt_bytes("requestsHash"),
        )


def recover_signed(msg_hash: bytes, y_parity: int, r: int, s: int) -> bytes:
    """Address that signed `msg_hash`; raise ChainDataError for an invalid signature."""
    return recover_address(_signature(y_parity, r, s), msg_hash)


def _signature(y_parity: int, r: int, s: int) -> bytes:
    """The 65-byte r || s || y-parity of a signature whose values are in range (else ChainDataError)."""
    if y_parity not in (0, 1) or not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise ChainDataError("invalid signature values")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([y_parity])


def recover_address(signature: bytes, msg_hash: bytes) -> bytes:
    """Address whose key made the 65-byte `signature` of `msg_hash`; ChainDataError when it does not
    recover."""
    try:
        pub = PublicKey.from_signature_and_message(signature, msg_hash, hasher=None)
    except Exception as e:  # coincurve raises a bare Exception for unrecoverable signatures
        raise ChainDataError(f"signature does not recover: {e}") from e
    return keccak(pub.format(compressed=False)[1:])[12:]


@dataclass(frozen=True, slots=True)
class Authorization:
    """An EIP-7702 authorization tuple."""

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int

    def fields(self) -> list[Any]:
        return [self.chain_id, self.address, self.nonce, self.y_parity, self.r, self.s]

    def authority(self) -> bytes | None:
        """The signer of the authorization, or None when it does not recover (EIP-7702: skipped, not fatal)."""
        if self.s > SECP256K1_N // 2:
            return None
        msg = keccak(SET_CODE_AUTH_MAGIC + rlp_encode([self.chain_id, self.address, self.nonce]))
        try:
            return recover_signed(msg, self.y_parity, self.r, self.s)
        except ChainDataError:
            return None


AccessList = tuple[tuple[bytes, tuple[bytes, ...]], ...]


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed transaction of any type MegaETH carries. For deposits `sender` is the `from` field."""

    type: int
    nonce: int
    gas: int
    to: bytes | None
    value: int
    data: bytes
    chain_id: int | None = None
    gas_price: int = 0
    max_priority_fee_per_gas: int = 0
    max_fee_per_gas: int = 0
    access_list: AccessList = ()
    authorization_list: tuple[Authorization, ...] = ()
    v: int = 0
    r: int = 0
    s: int = 0
    source_hash: bytes = b""
    mint: int = 0
    is_system_tx: bool = False
    deposit_sender: bytes = b""
    _hash: bytes = field(default=b"", compare=False, repr=False)
    _encoded: bytes = field(default=b"", init=False, compare=False, repr=False)  # `encode()`, once made

    def _access_list_rlp(self) -> list[Any]:
        return [[addr, list(keys)] for addr, keys in self.access_list]

    def _payload(self, signed: bool) -> list[Any]:
        to = self.to or b""
        if self.type == LEGACY_TX_TYPE:
            base = [self.nonce, self.gas_price, self.gas, to, self.value, self.data]
            if signed:
                return [*base, self.v, self.r, self.s]
            return [*base, self.chain_id, 0, 0] if self.chain_id is not None else base
        if self.type == ACCESS_LIST_TX_TYPE:
            base = [self.chain_id, self.nonce, self.gas_price, self.gas, to, self.value, self.data,
                    self._access_list_rlp()]
            return [*base, self.v, self.r, self.s] if signed else base
        if self.type in (DYNAMIC_FEE_TX_TYPE, SET_CODE_TX_TYPE):
            base = [self.chain_id, self.nonce, self.max_priority_fee_per_gas, self.max_fee_per_gas, self.gas, to,
                    self.value, self.data, self._access_list_rlp()]
            if self.type == SET_CODE_TX_TYPE:
                base.append([a.fields() for a in self.authorization_list])
            return [*base, self.v, self.r, self.s] if signed else base
        raise ChainDataError(f"unsupported transaction type {self.type:#x}")

    def encode(self) -> bytes:
        """EIP-2718 encoding (legacy: plain RLP), made once (the block checks and the replay both need it)."""
        if not self._encoded:
            object.__setattr__(self, "_encoded", self._encode())  # frozen: a cache, not a field change
        return self._encoded

    def _encode(self) -> bytes:
        if self.type == DEPOSIT_TX_TYPE:
            body = [self.source_hash, self.deposit_sender, self.to or b"", self.mint, self.value, self.gas,
                    self.is_system_tx, self.data]
            return bytes([DEPOSIT_TX_TYPE]) + rlp_encode(body)
        payload = rlp_encode(self._payload(signed=True))
        return payload if self.type == LEGACY_TX_TYPE else bytes([self.type]) + payload

    @property
    def hash(self) -> bytes:
        return self._hash or keccak(self.encode())

    def signing_hash(self) -> bytes:
        payload = rlp_encode(self._payload(signed=False))
        return keccak(payload if self.type == LEGACY_TX_TYPE else bytes([self.type]) + payload)

    def y_parity(self) -> int:
        if self.type != LEGACY_TX_TYPE:
            return self.v
        if self.v in (27, 28):
            return self.v - 27
        if self.chain_id is None or self.v not in (self.chain_id * 2 + 35, self.chain_id * 2 + 36):
            raise ChainDataError(f"legacy v={self.v} does not match chain id {self.chain_id}")
        return self.v - self.chain_id * 2 - 35

    def recover_sender(self, signing_hash: bytes | None = None) -> bytes:
        """The signer (EIP-2: high-s rejected); deposits return their declared sender. `signing_hash`, when
        given, is `self.signing_hash()` (`decode_signed` computes it in its pass)."""
        if self.type == DEPOSIT_TX_TYPE:
            return self.deposit_sender
        return recover_address(self.signature(), signing_hash or self.signing_hash())

    def signature(self) -> bytes:
        """The 65-byte signature `recover_address` takes; ChainDataError for a high s (EIP-2), a legacy v that
        does not match the chain id, or values out of range."""
        if self.s > SECP256K1_N // 2:
            raise ChainDataError("signature s value is in the upper half (EIP-2)")
        return _signature(self.y_parity(), self.r, self.s)

    @classmethod
    def decode(cls, raw: bytes) -> Transaction:
        """Parse an EIP-2718 encoding (legacy RLP list, 0x01, 0x02, 0x04 or 0x7e); raise ChainDataError when
        malformed."""
        if not raw:
            raise ChainDataError("empty transaction bytes")
        try:
            if raw[0] >= 0xC0:
                return _decode_legacy(rlp.decode(raw))
            body = rlp.decode(raw[1:])
        except rlp.exceptions.DecodingError as e:
            raise ChainDataError(f"transaction RLP: {e}") from e
        if not isinstance(body, list):
            raise ChainDataError("transaction payload is not an RLP list")
        return _decode_typed(raw[0], body)

    @classmethod
    def from_rpc(cls, d: Mapping[str, Any]) -> Transaction:
        """Parse one full transaction object of an `eth_getBlockBy*` result."""
        t = _int(d["type"])
        common: dict[str, Any] = dict(
            type=t, nonce=_int(d["nonce"]), gas=_int(d["gas"]), to=_bytes(d["to"]) if d.get("to") else None,
            value=_int(d["value"]), data=_bytes(d["input"]),
        )
        if t == DEPOSIT_TX_TYPE:
            tx = cls(**common, source_hash=_bytes(d["sourceHash"]), mint=_int(d.get("mint") or 0),
                     is_system_tx=bool(d.get("isSystemTx", False)), deposit_sender=_bytes(d["from"]))
        elif t == LEGACY_TX_TYPE:
            v = _int(d["v"])
            chain_id = _int(d["chainId"]) if d.get("chainId") is not None and v not in (27, 28) else None
            tx = cls(**common, chain_id=chain_id, gas_price=_int(d["gasPrice"]), v=v, r=_int(d["r"]), s=_int(d["s"]))
        elif t == ACCESS_LIST_TX_TYPE:
            tx = cls(**common, chain_id=_int(d["chainId"]), gas_price=_int(d["gasPrice"]),
                     access_list=_access_list_json(d.get("accessList", [])), v=_int(d.get("yParity", d.get("v"))),
                     r=_int(d["r"]), s=_int(d["s"]))
        elif t in (DYNAMIC_FEE_TX_TYPE, SET_CODE_TX_TYPE):
            access = _access_list_json(d.get("accessList", []))
            auths = tuple(Authorization(_int(a["chainId"]), _bytes(a["address"]), _int(a["nonce"]),
                                        _int(a["yParity"]), _int(a["r"]), _int(a["s"]))
                          for a in d.get("authorizationList", []))
            tx = cls(**common, chain_id=_int(d["chainId"]), max_priority_fee_per_gas=_int(d["maxPriorityFeePerGas"]),
                     max_fee_per_gas=_int(d["maxFeePerGas"]), access_list=access, authorization_list=auths,
                     v=_int(d.get("yParity", d.get("v"))), r=_int(d["r"]), s=_int(d["s"]))
        else:
            raise ChainDataError(f"unsupported transaction type {t:#x}")
        return tx


def _access_list_json(items: Any) -> AccessList:
    return tuple((_bytes(a["address"]), tuple(_bytes(k) for k in a["storageKeys"])) for a in items)


def _uint(b: Any, what: str) -> int:
    if not isinstance(b, bytes) or (len(b) > 1 and b[0] == 0) or len(b) > 32:
        raise ChainDataError(f"{what}: not a canonical integer")
    return int.from_bytes(b, "big")


def _blob(b: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(b, bytes) or (size is not None and len(b) != size):
        raise ChainDataError(f"{what}: expected {size if size is not None else 'a'}-byte string")
    return b


def _to(b: Any) -> bytes | None:
    return None if b == b"" else _blob(b, "to", 20)


def _decode_legacy(f: Any) -> Transaction:
    if not isinstance(f, list) or len(f) != 9:
        raise ChainDataError("legacy transaction must have 9 fields")
    v = _uint(f[6], "v")
    chain_id = None if v in (27, 28) else (v - 35) // 2
    return Transaction(type=LEGACY_TX_TYPE, nonce=_uint(f[0], "nonce"), gas_price=_uint(f[1], "gasPrice"),
                       gas=_uint(f[2], "gas"), to=_to(f[3]), value=_uint(f[4], "value"), data=_blob(f[5], "data"),
                       chain_id=chain_id, v=v, r=_uint(f[7], "r"), s=_uint(f[8], "s"))


def _access_list(items: Any) -> AccessList:
    if not isinstance(items, list):
        raise ChainDataError("accessList must be a list")
    out = []
    for item in items:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], list):
            raise ChainDataError("accessList entry must be [address, [keys]]")
        out.append((_blob(item[0], "accessList address", 20),
                    tuple(_blob(k, "accessList key", 32) for k in item[1])))
    return tuple(out)


def _decode_typed(kind: int, f: list[Any]) -> Transaction:
    if kind == DEPOSIT_TX_TYPE:
        if len(f) != 8:
            raise ChainDataError("deposit transaction must have 8 fields")
        return Transaction(type=kind, source_hash=_blob(f[0], "sourceHash", 32), deposit_sender=_blob(f[1], "from", 20),
                           to=_to(f[2]), mint=_uint(f[3], "mint"), value=_uint(f[4], "value"), gas=_uint(f[5], "gas"),
                           is_system_tx=bool(_uint(f[6], "isSystemTx")), data=_blob(f[7], "data"), nonce=0)
    if kind == ACCESS_LIST_TX_TYPE:  # EIP-2930
        if len(f) != 11:
            raise ChainDataError("type 0x1 transaction must have 11 fields")
        return Transaction(type=kind, chain_id=_uint(f[0], "chainId"), nonce=_uint(f[1], "nonce"),
                           gas_price=_uint(f[2], "gasPrice"), gas=_uint(f[3], "gas"), to=_to(f[4]),
                           value=_uint(f[5], "value"), data=_blob(f[6], "data"), access_list=_access_list(f[7]),
                           v=_uint(f[8], "yParity"), r=_uint(f[9], "r"), s=_uint(f[10], "s"))
    want = {DYNAMIC_FEE_TX_TYPE: 12, SET_CODE_TX_TYPE: 13}.get(kind)
    if want is None:
        raise ChainDataError(f"transaction type not supported: {kind:#x}")
    if len(f) != want:
        raise ChainDataError(f"type {kind:#x} transaction must have {want} fields")
    auths: tuple[Authorization, ...] = ()
    if kind == SET_CODE_TX_TYPE:
        if not isinstance(f[9], list) or any(not isinstance(a, list) or len(a) != 6 for a in f[9]):
            raise ChainDataError("authorizationList entries must have 6 fields")
        auths = tuple(Authorization(_uint(a[0], "auth chainId"), _blob(a[1], "auth address", 20),
                                    _uint(a[2], "auth nonce"), _uint(a[3], "auth yParity"),
                                    _uint(a[4], "auth r"), _uint(a[5], "auth s")) for a in f[9])
    v, r, s = f[-3:]
    return Transaction(type=kind, chain_id=_uint(f[0], "chainId"), nonce=_uint(f[1], "nonce"),
                       max_priority_fee_per_gas=_uint(f[2], "maxPriorityFeePerGas"),
                       max_fee_per_gas=_uint(f[3], "maxFeePerGas"), gas=_uint(f[4], "gas"), to=_to(f[5]),
                       value=_uint(f[6], "value"), data=_blob(f[7], "data"), access_list=_access_list(f[8]),
                       authorization_list=auths, v=_uint(v, "yParity"), r=_uint(r, "r"), s=_uint(s, "s"))


def _rlp_item(raw: bytes, pos: int, end: int) -> tuple[int, int, bool]:
    """(payload start, payload end, is a list) of the RLP item at `pos`, which must end by `end`; raise
    _NotFast unless its prefix is the canonical (shortest) one."""
    b = raw[pos]
    if b < 0x80:
        return pos, pos + 1, False
    if b <= 0xB7:
        stop = pos + 1 + b - 0x80
        if stop > end or (b == 0x81 and raw[pos + 1] < 0x80):
            raise _NotFast
        return pos + 1, stop, False
    if 0xC0 <= b <= 0xF7:
        stop = pos + 1 + b - 0xC0
        if stop > end:
            raise _NotFast
        return pos + 1, stop, True
    size = b - (0xB7 if b < 0xC0 else 0xF7)
    start = pos + 1 + size
    if start > end or raw[pos + 1] == 0:
        raise _NotFast
    n = int.from_bytes(raw[pos + 1:start], "big")
    if n < 56 or start + n > end:
        raise _NotFast
    return start, start + n, b >= 0xC0


class _NotFast(Exception):
    """`decode_signed` leaves this encoding to the general decoder."""


def _fast_uint(raw: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, next position) of a canonical RLP integer at `pos` (no leading zero byte, at most 32 bytes)."""
    start, stop, is_list = _rlp_item(raw, pos, end)
    if is_list or stop - start > 32 or (stop > start and raw[start] == 0):
        raise _NotFast
    return int.from_bytes(raw[start:stop], "big"), stop


def _fast_bytes(raw: bytes, pos: int, end: int) -> tuple[bytes, int]:
    start, stop, is_list = _rlp_item(raw, pos, end)
    if is_list:
        raise _NotFast
    return raw[start:stop], stop


def _fast_access_list(raw: bytes, pos: int, end: int) -> tuple[AccessList, int]:
    start, stop, is_list = _rlp_item(raw, pos, end)
    if not is_list:
        raise _NotFast
    out = []
    while start < stop:
        e_start, e_stop, e_list = _rlp_item(raw, start, stop)
        if not e_list:
            raise _NotFast
        addr, k = _fast_bytes(raw, e_start, e_stop)
        k_start, k_stop, k_list = _rlp_item(raw, k, e_stop) if k < e_stop else (0, 0, False)
        if len(addr) != 20 or not k_list or k_stop != e_stop:
            raise _NotFast
        keys = []
        while k_start < k_stop:
            key, k_start = _fast_bytes(raw, k_start, k_stop)
            if len(key) != 32:
                raise _NotFast
            keys.append(key)
        out.append((addr, tuple(keys)))
        start = e_stop
    return tuple(out), stop


def _fast_fields(raw: bytes) -> tuple[list[Any], bytes]:
    """Fields of a legacy or 0x02 transaction in `Transaction` order up to `s`, and its signing hash."""
    typed = raw[0] == DYNAMIC_FEE_TX_TYPE
    body = 1 if typed else 0
    start, end, is_list = _rlp_item(raw, body, len(raw))
    if not is_list or end != len(raw):
        raise _NotFast
    pos = start
    if typed:
        chain_id, pos = _fast_uint(raw, pos, end)
        nonce, pos = _fast_uint(raw, pos, end)
        tip, pos = _fast_uint(raw, pos, end)
        max_fee, pos = _fast_uint(raw, pos, end)
        gas_price = 0
    else:
        nonce, pos = _fast_uint(raw, pos, end)
        gas_price, pos = _fast_uint(raw, pos, end)
        tip = max_fee = 0
    gas, pos = _fast_uint(raw, pos, end)
    to, pos = _fast_bytes(raw, pos, end)
    value, pos = _fast_uint(raw, pos, end)
    data, pos = _fast_bytes(raw, pos, end)
    access: AccessList = ()
    if typed:
        access, pos = _fast_access_list(raw, pos, end)
    unsigned = raw[start:pos]
    v, pos = _fast_uint(raw, pos, end)
    r, pos = _fast_uint(raw, pos, end)
    s, pos = _fast_uint(raw, pos, end)
    if pos != end or len(to) not in (0, 20):
        raise _NotFast
    if typed:
        chain: int | None = chain_id
        signing = b"\x02" + _rlp_len(len(unsigned), 0xC0) + unsigned
    else:
        chain = None if v in (27, 28) else (v - 35) // 2
        if chain is not None:
            if chain < 0:
                raise _NotFast
            unsigned += rlp_encode(chain) + b"\x80\x80"
        signing = _rlp_len(len(unsigned), 0xC0) + unsigned
    return [raw[0] if typed else LEGACY_TX_TYPE, nonce, gas, to or None, value, data, chain, gas_price, tip,
            max_fee, access, (), v, r, s], keccak(signing)


def decode_signed(raw: bytes, /, **extra: Any) -> tuple[Transaction, bytes] | None:
    """A legacy or 0x02 transaction and its signing hash in one pass over `raw`, built as
    `Transaction(*fields, **extra)` with `raw` as its encoding; None unless `raw` is one of these in canonical
    RLP (so that re-encoding the result gives `raw` back): the caller then takes `Transaction.decode`, which
    accepts or rejects it. Whatever this accepts, `Transaction.decode` accepts with the same fields
    (tests/megaeth_node/test_types.py). ~6 us against ~22 for decode, signing hash and re-encoding, the
    intake's work for every submitted transaction."""
    if not raw or not (raw[0] == DYNAMIC_FEE_TX_TYPE or raw[0] >= 0xC0):
        return None
    try:
        values, signing_hash = _fast_fields(raw)
    except (_NotFast, IndexError):
        return None
    tx = Transaction(*values, **extra)
    object.__setattr__(tx, "_encoded", raw)  # canonical: what encode() would make
    return tx, signing_hash


@dataclass(frozen=True, slots=True)
class Log:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes

    def encode(self) -> bytes:
        """RLP of [address, [topics], data]."""
        topics = b"".join([_rlp_str(t) for t in self.topics])
        payload = _rlp_str(self.address) + _rlp_len(len(topics), 0xC0) + topics + _rlp_str(self.data)
        return _rlp_len(len(payload), 0xC0) + payload


@functools.lru_cache(maxsize=1 << 16)
def _bloom_bits(item: bytes) -> int:
    """The three bloom bits of one address or topic: the low 11 bits of the first three 16-bit words of
    its keccak256 (yellow paper §4.3.1). Cached: a block's logs repeat addresses and topics, and receipt,
    block and RPC blooms cover the same logs again."""
    h = keccak(item)
    return (1 << (((h[0] << 8) | h[1]) & 2047)) | (1 << (((h[2] << 8) | h[3]) & 2047)) \
        | (1 << (((h[4] << 8) | h[5]) & 2047))


def logs_bloom(logs: Iterable[Log]) -> bytes:
    """The 256-byte bloom of addresses and topics."""
    bits = 0
    for log in logs:
        bits |= _bloom_bits(log.address)
        for topic in log.topics:
            bits |= _bloom_bits(topic)
    return bits.to_bytes(256, "big")


@dataclass(frozen=True, slots=True)
class Receipt:
    """An OP-stack receipt; deposits also carry the depositor's pre-deposit nonce and receipt version."""

    tx_type: int
    status: int
    cumulative_gas_used: int
    logs: tuple[Log, ...]
    deposit_nonce: int | None = None
    deposit_receipt_version: int | None = None

    @property
    def bloom(self) -> bytes:
        return logs_bloom(self.logs)

    def encode(self) -> bytes:
        """EIP-2718 receipt encoding (spec/stateless-validator.md §5.3)."""
        logs = b"".join([lg.encode() for lg in self.logs])
        body = rlp_encode(self.status) + rlp_encode(self.cumulative_gas_used) + _rlp_str(self.bloom) \
            + _rlp_len(len(logs), 0xC0) + logs
        if self.tx_type == DEPOSIT_TX_TYPE and self.deposit_nonce is not None:
            body += rlp_encode(self.deposit_nonce)
            if self.deposit_receipt_version is not None:
                body += rlp_encode(self.deposit_receipt_version)
        payload = _rlp_len(len(body), 0xC0) + body
        return payload if self.tx_type == LEGACY_TX_TYPE else bytes([self.tx_type]) + payload


@dataclass(frozen=True, slots=True)
class Block:
    header: Header
    transactions: tuple[Transaction, ...]
    senders: tuple[bytes, ...]
    hash: bytes

    @classmethod
    def from_rpc(cls, d: Mapping[str, Any]) -> Block:
        """Parse a full `eth_getBlockBy*(…, true)` result, keeping the declared hashes and senders."""
        txs = []
        for t in d["transactions"]:
            if isinstance(t, str):
                raise ChainDataError("block has transaction hashes only; full transactions are required")
            txs.append(replace(Transaction.from_rpc(t), _hash=_bytes(t["hash"])))
        senders = tuple(_bytes(t["from"]) for t in d["transactions"])
        return cls(Header.from_rpc(d), tuple(txs), senders, _bytes(d["hash"]))

    def encode(self) -> bytes:
        """The block's RLP (`debug_getRawBlock`, devp2p): [header, transactions (a typed one as the byte string of
        its EIP-2718 encoding), ommers (none), and from Shanghai on withdrawals (none on the OP stack)]."""
        txs = b"".join([e if e[0] >= 0xC0 else _rlp_str(e) for e in (tx.encode() for tx in self.transactions)])
        body = self.header.encode() + _rlp_len(len(txs), 0xC0) + txs + b"\xc0"
        if self.header.withdrawals_root is not None:
            body += b"\xc0"
        return _rlp_len(len(body), 0xC0) + body


def verify_block_integrity(block: Block) -> None:
    """Header hash, every tx hash and signer, and the transactions root (spec/stateless-validator.md §2.2)."""
    if block.header.hash != block.hash:
        raise ChainDataError(f"header hash {block.header.hash.hex()} != declared {block.hash.hex()}")
    encodings = []
    for i, (tx, sender) in enumerate(zip(block.transactions, block.senders, strict=True)):
        enc = tx.encode()
        if keccak(enc) != tx.hash:
            raise ChainDataError(f"tx {i}: hash {keccak(enc).hex()} != declared {tx.hash.hex()}")
        signer = tx.recover_sender()
        if signer != sender:
            raise ChainDataError(f"tx {i}: signer {signer.hex()} != declared from {sender.hex()}")
        encodings.append(enc)
    root = ordered_trie_root(encodings)
    if root != block.header.transactions_root:
        raise ChainDataError(f"transactionsRoot {root.hex()} != header {block.header.transactions_root.hex()}")


def decode_receipt(raw: bytes) -> Receipt:
    """Inverse of `Receipt.encode` (storage format; trusted input)."""
    tx_type, payload = (LEGACY_TX_TYPE, raw) if raw[0] >= 0xC0 else (raw[0], raw[1:])
    f = rlp.decode(payload)
    logs = tuple(Log(a, tuple(t), d) for a, t, d in f[3])
    extra = [int.from_bytes(x, "big") for x in f[4:6]]
    return Receipt(tx_type, int.from_bytes(f[0], "big"), int.from_bytes(f[1], "big"), logs,
                   extra[0] if extra else None, extra[1] if len(extra) > 1 else None)


def receipts_root(receipts: Sequence[Receipt]) -> bytes:
    return ordered_trie_root(r.encode() for r in receipts)
