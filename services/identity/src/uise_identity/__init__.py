"""UISE identity: who is signing in, for which organization, in which role (DESIGN.md §10)."""
