"""Registry: participants' hierarchy and the annual list of forms (Rules, clauses 4, 6, 7)."""
