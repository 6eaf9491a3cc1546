"""Prefect tasks for bluegreen: thin wrappers over the engine that add retries, logs, artifacts.

Every database task is declared with ``cache_policy=NO_CACHE`` and ``persist_result=False``:
a database step must run every time it is asked to, and its results (windows, connections)
are neither serializable nor worth keeping.
"""
