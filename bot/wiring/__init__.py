"""Wiring: the engine, the app, the runner and the work that runs beside the dispatcher."""
