"""Reporting: consolidation per node and the final report (clauses 13, 14)."""
