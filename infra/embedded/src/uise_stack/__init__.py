"""The embedded UISE stack: everything on one machine with no Docker."""
