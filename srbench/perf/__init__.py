"""Fast inference plans used by the throughput pass (see :mod:`srbench.perf.fused`)."""
