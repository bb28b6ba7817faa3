"""Kazakh PKI: GOST 34.10-2015 and Streebog (gost), NCA RK key containers (pkcs12), CMS signing,
co-signing and verification at the trusted time (cms, signed_data, algorithms), RFC 3161
timestamps (timestamp), trust stores and CRLs (trust, crl), and a test CA and TSA (testca).
Shared by the signature service (submissions) and identity (sign-in)."""

import warnings

# NCA certificates have common names longer than X.520's 64-character upper bound (the CA names
# alone are ~70 characters); cryptography warns on every access to such a name. Not a defect here.
warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)
