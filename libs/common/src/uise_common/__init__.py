"""Shared plumbing for UISE services. Nothing here knows about any one service's domain."""
