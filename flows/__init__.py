"""Prefect flows for bluegreen: they order the engine's steps and gate them, nothing more.

Deployments are declared in ``prefect.yaml``; ``flows.serve`` serves all of them from one
process, and ``flows.alerts`` creates the failure notification automation.
"""
