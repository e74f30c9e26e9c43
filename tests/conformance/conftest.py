"""Conformance cases for ethereum/tests, listed at collection time (fixture root as in tests/shared_data.py)."""
