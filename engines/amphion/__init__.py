"""Amphion adapters and their runtime: the user's checkout (never vendored), its traps fixed, precise readiness.

runtime.py finds and activates the checkout and holds the developer note for adapters; base.py has
AmphionEngine and the readiness checks; traps.py the environment fixes; deps.py the declarations adapters
compose. Adapter modules (one per model family) live next to them.
"""
