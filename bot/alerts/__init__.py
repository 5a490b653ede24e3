"""Public-service alerts: composing, targeting, queueing, progress and "got it"."""
