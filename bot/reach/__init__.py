"""Reach: who is reached and engaged where, the communities still missing, the digest, retention."""
