"""Streebog (GOST R 34.11-2012 / GOST 34.11-2015, RFC 6986) as a small C extension.

`streebog512(data)` and `streebog256(data)` take any bytes-like object and return the digest in
the standard output byte order (the one gostcrypto, OpenSSL's GOST engine, Kalkan and
uise_common.pki.gost.streebog produce). The GIL is released while hashing long inputs.
"""

from uise_streebog._streebog import streebog256, streebog512

__all__ = ["streebog256", "streebog512"]
