"""Routing: hierarchy checks and the recipient's inbox (clause 9)."""
