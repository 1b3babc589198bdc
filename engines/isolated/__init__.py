"""Isolated runtimes: engines whose packages pin versions the studio cannot share run in a worker process
with its own environment (and the machine's torch), speaking the engine contract over a pipe.

runtime.py builds and checks the environments, worker.py is the loop inside them (standard library only),
client.py the studio's side of the pipe, engine.py the base class of such engines, adapters/ the code that
runs inside each runtime.
"""
