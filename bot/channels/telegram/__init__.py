"""Telegram: the aiogram Bot client and the outbox transport that sends through it."""
