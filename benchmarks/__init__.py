"""Benchmarks of fraudlite against the approach it replaces (see docs/benchmarks.md).

Entry points: ``python -m benchmarks`` (everything, as ``make bench``), ``benchmarks.load``,
``benchmarks.cold_start`` and ``benchmarks.latency``. Nothing here is imported by the service.
"""
