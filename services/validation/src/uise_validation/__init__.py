"""Validation: parse a document against its form and run the form's rules (clause 11)."""
