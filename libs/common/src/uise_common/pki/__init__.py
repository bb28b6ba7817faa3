"""Kazakh PKI: GOST 34.10-2015 and Streebog, NCA RK key containers, CMS signing and verification,
CRLs, and a test CA. Shared by the signature service (submissions) and identity (sign-in)."""
