"""Senders of many transactions in one C call (`native/ecrecover.c`, built by `aot.cbuild`).

libsecp256k1's own functions, from the library coincurve bundles, run in a C loop that holds no GIL, so
a thread recovering a burst of signatures leaves the interpreter to the others. Where the helper cannot be
built, each tx is recovered through coincurve (`Transaction.recover_sender`); both give the same senders
and the same errors."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aot import cbuild

from megaeth_node.types import DEPOSIT_TX_TYPE, ChainDataError, Transaction, keccak

SOURCE = Path(__file__).resolve().with_name("native") / "ecrecover.c"
CDEF = """void recover_batch(const void *parse, const void *recover, const void *serialize, const void *ctx,
    unsigned int uncompressed_flag, size_t n, const unsigned char *sigs, const unsigned char *hashes,
    unsigned char *out, unsigned char *ok);"""


@functools.cache
def _batch() -> Any:
    """`recover_batch` bound to coincurve's functions and context, or None (decided once per process)."""
    built = cbuild.load(SOURCE, CDEF)
    if built is None:
        return None
    ffi, lib = built
    from coincurve._libsecp256k1 import ffi as cc_ffi
    from coincurve._libsecp256k1 import lib as cc_lib
    from coincurve.context import GLOBAL_CONTEXT

    def pointer(cdata: Any) -> Any:
        return ffi.cast("void *", int(cc_ffi.cast("uintptr_t", cdata)))

    fns = [pointer(cc_ffi.addressof(cc_lib, name)) for name in (
        "secp256k1_ecdsa_recoverable_signature_parse_compact", "secp256k1_ecdsa_recover",
        "secp256k1_ec_pubkey_serialize")]
    ctx, flag = pointer(GLOBAL_CONTEXT.ctx), cc_lib.SECP256K1_EC_UNCOMPRESSED

    def recover_batch(sigs: bytes, hashes: bytes, n: int) -> tuple[bytes, bytes]:
        out, ok = ffi.new("unsigned char[]", 64 * n), ffi.new("unsigned char[]", n)
        lib.recover_batch(*fns, ctx, flag, n, sigs, hashes, out, ok)
        return ffi.buffer(out)[:], ffi.buffer(ok)[:]

    return recover_batch


def recover_senders(txs: Sequence[tuple[Transaction, bytes | None]]) -> list[bytes | ChainDataError]:
    """For each `(tx, signing hash or None)`: `tx.recover_sender(signing_hash)`, or the ChainDataError it raises."""
    batch = _batch()
    results: list[bytes | ChainDataError] = []
    sigs, hashes, pending = [], [], []
    for tx, signing_hash in txs:
        try:
            if batch is None or tx.type == DEPOSIT_TX_TYPE:  # deposits declare their sender
                results.append(tx.recover_sender(signing_hash))
                continue
            sigs.append(tx.signature())
            hashes.append(signing_hash or tx.signing_hash())
            pending.append(len(results))
            results.append(b"")
        except ChainDataError as e:
            results.append(e)
    if pending:
        pubs, ok = batch(b"".join(sigs), b"".join(hashes), len(pending))
        for k, i in enumerate(pending):
            if ok[k]:
                results[i] = keccak(pubs[64 * k:64 * k + 64])[12:]
            else:  # coincurve says why
                try:
                    results[i] = txs[i][0].recover_sender(txs[i][1])
                except ChainDataError as e:
                    results[i] = e
    return results
