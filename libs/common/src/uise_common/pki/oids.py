"""Kazakh PKI object identifiers (DESIGN.md §7)."""

EKU_INDIVIDUAL = "1.2.398.3.3.4.1.1"
EKU_LEGAL_ENTITY = "1.2.398.3.3.4.1.2"
EKU_FIRST_HEAD = "1.2.398.3.3.4.1.2.1"
EKU_RIGHT_TO_SIGN = "1.2.398.3.3.4.1.2.2"
EKU_INFORMATION_SYSTEM = "1.2.398.3.3.4.1.2.6"

# GOST 34.10-2015 in the Kazakh arc (NCA RK, Kalkan): keys, curves, signatures, Streebog.
GOST_KZ_KEY_256 = "1.2.398.3.10.1.1.2.1"
GOST_KZ_KEY_512 = "1.2.398.3.10.1.1.2.2"
CURVE_KZ_256_A = "1.2.398.3.10.1.1.2.1.1"  # = tc26 256 paramSetA
CURVE_KZ_512_A = "1.2.398.3.10.1.1.2.2.1"  # = tc26 512 paramSetA
GOST_KZ_SIG_256 = "1.2.398.3.10.1.1.2.3.1"  # GOST 34.10-2015 256 with Streebog-256
GOST_KZ_SIG_512 = "1.2.398.3.10.1.1.2.3.2"  # GOST 34.10-2015 512 with Streebog-512
STREEBOG_256_KZ = "1.2.398.3.10.1.3.2"
STREEBOG_512_KZ = "1.2.398.3.10.1.3.3"

# The same algorithms in the tc26 arc (RFC 9215 / RFC 7836).
GOST_TC26_KEY_256 = "1.2.643.7.1.1.1.1"
GOST_TC26_KEY_512 = "1.2.643.7.1.1.1.2"
STREEBOG_256 = "1.2.643.7.1.1.2.2"
STREEBOG_512 = "1.2.643.7.1.1.2.3"
GOST_TC26_SIG_256 = "1.2.643.7.1.1.3.2"
GOST_TC26_SIG_512 = "1.2.643.7.1.1.3.3"
CURVE_TC26_256_A = "1.2.643.7.1.2.1.1.1"
CURVE_TC26_256_B = "1.2.643.7.1.2.1.1.2"
CURVE_TC26_256_C = "1.2.643.7.1.2.1.1.3"
CURVE_TC26_256_D = "1.2.643.7.1.2.1.1.4"
CURVE_TC26_512_A = "1.2.643.7.1.2.1.2.1"
CURVE_TC26_512_B = "1.2.643.7.1.2.1.2.2"
CURVE_TC26_512_C = "1.2.643.7.1.2.1.2.3"
# GOST R 34.10-2001 CryptoPro parameter sets (the same curves as tc26 256 B, C, D).
CURVE_CRYPTOPRO_A = "1.2.643.2.2.35.1"
CURVE_CRYPTOPRO_B = "1.2.643.2.2.35.2"
CURVE_CRYPTOPRO_C = "1.2.643.2.2.35.3"
CURVE_CRYPTOPRO_XCH_A = "1.2.643.2.2.36.0"
CURVE_CRYPTOPRO_XCH_B = "1.2.643.2.2.36.1"

# RSA and SHA-256.
SHA256 = "2.16.840.1.101.3.4.2.1"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"

# RFC 3161 timestamps (NCA RK's TSP service issues them): the TSA's extended key usage, the
# token's content type, and the unsigned attribute that carries a token in a SignerInfo.
EKU_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"
AA_SIGNATURE_TIMESTAMP_TOKEN = "1.2.840.113549.1.9.16.2.14"
SHA1 = "1.3.14.3.2.26"  # only to read an ESS signingCertificate (v1) hash
