"""Shared core: settings, database, schema, strings and locale, screens, logging."""
