"""Benchmarks: scripts run by hand (see README.md); nothing here runs at import time."""
