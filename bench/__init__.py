"""Benchmarks, run on demand with ``python -m bench`` (each ``bench_*.py`` module has a ``main()``)."""
