"""Prometheus metrics of the validator (spec/stateless-validator.md §8.2), prefixed `stateless_validator_`,
served on 127.0.0.1:`--metrics-port` (0 = off). One registry per `Metrics`, so tests can run several."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from validator.core import STAGES

_P = "stateless_validator_"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.validated = Counter(_P + "blocks_validated", "Blocks validated (valid or not)", registry=r)
        self.invalid = Counter(_P + "blocks_invalid", "Blocks found invalid", registry=r)
        self.transactions = Counter(_P + "transactions", "Transactions in validated blocks", registry=r)
        self.gas = Counter(_P + "gas", "Gas used by validated blocks", registry=r)
        self.local_height = Gauge(_P + "local_chain_height", "Canonical (validated) tip", registry=r)
        self.remote_height = Gauge(_P + "remote_chain_height", "Sequencer tip (eth_blockNumber)", registry=r)
        self.lag = Gauge(_P + "lag_blocks", "Sequencer tip minus validated tip", registry=r)
        self.reorgs = Counter(_P + "reorgs", "Reorgs handled", registry=r)
        self.reorg_depth = Gauge(_P + "reorg_depth", "Blocks rolled back by the last reorg", registry=r)
        self.block_time = Histogram(_P + "block_validation_seconds", "validate_block wall time", registry=r,
                                    buckets=_BUCKETS)
        self.stage_time = Histogram(_P + "stage_seconds", "Per-stage wall time", ["stage"], registry=r,
                                    buckets=_BUCKETS)
        self.fetch_time = Histogram(_P + "fetch_seconds", "Block + witness + code fetch time", registry=r,
                                    buckets=_BUCKETS)
        self.rpc_errors = Counter(_P + "rpc_errors", "RPC failures by method and kind", ["method", "kind"],
                                  registry=r)
        self.code_cache = Counter(_P + "contract_cache", "Contract code lookups", ["result"], registry=r)
        self.reports = Counter(_P + "reports", "mega_setValidatedBlocks calls by outcome", ["outcome"],
                               registry=r)
        for s in STAGES:
            self.stage_time.labels(s)
        self._server: Any = None

    def observe_block(self, seconds: float, timings: Mapping[str, float], txs: int, gas: int) -> None:
        self.validated.inc()
        self.transactions.inc(txs)
        self.gas.inc(gas)
        self.block_time.observe(seconds)
        for stage, t in timings.items():
            self.stage_time.labels(stage).observe(t)

    def heights(self, local: int, remote: int | None) -> None:
        self.local_height.set(local)
        if remote is not None:
            self.remote_height.set(remote)
            self.lag.set(max(0, remote - local))

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Start the exporter (a daemon thread); returns the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def text(self) -> str:
        return generate_latest(self.registry).decode()
