"""Tiny random-weight checkpoints built with the user's Amphion checkout (never with copied code), laid out as
the hub repositories lay them out, for end-to-end engine tests that run in seconds."""
