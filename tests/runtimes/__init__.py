"""Isolated runtimes in tests and benchmarks: building them (cached), tiny checkpoints made inside them."""
