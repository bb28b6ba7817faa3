"""The portal's pages, one module per audience."""
