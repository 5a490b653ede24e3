"""Residents: who they are, their conversation with Sabai, their events and their data."""
