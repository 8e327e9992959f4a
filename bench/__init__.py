"""Benchmarks: each prints its figures (`python -m bench.NAME`)."""
