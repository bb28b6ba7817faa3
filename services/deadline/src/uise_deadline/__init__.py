"""Deadline: effective deadlines and timeliness (clauses 10, 11)."""
