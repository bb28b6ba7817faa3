"""GOST 34.10-2015 (512-bit) verification speed beside OpenSSL's ECDSA P-521, in the same run.

    .venv/bin/python bench/signature.py [--rounds 7] [--batch 60] [--max-ratio 5]

The GOST signature is a real one made by NCA RK's own software: the test CA's signature on the
certificate inside ../shared/testdata/nca-test-pki/legal_ceo_valid.p12, checked with the
intermediate CA's public key (uise_common.pki.gost.verify, gmpy2). P-521 is cryptography's
ECDSA with SHA-512 over a prehashed digest, so both sides verify a digest and nothing else.
Rounds alternate between the two so that machine noise hits both alike. Exits 1 if GOST is more
than --max-ratio times slower than P-521.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import warnings

from asn1crypto import x509 as ax509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from uise_common.pki import gost, pkcs12
from uise_common.testing import nca_test_pki

PKI = nca_test_pki()

warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)


def gost_case():
    container = pkcs12.load(PKI / "legal_ceo_valid.p12", "Qwerty12")
    leaf = ax509.Certificate.load(container.certificate.public_bytes(serialization.Encoding.DER))
    ca = ax509.Certificate.load((PKI / "ca" / "nca_gost2022_test.cer").read_bytes())
    curve, point = gost.public_key_from_spki(ca["tbs_certificate"]["subject_public_key_info"].dump())
    digest = gost.streebog(leaf["tbs_certificate"].dump(), curve.size)
    signature = leaf["signature_value"].native
    if not gost.verify(curve, point, digest, signature):
        raise SystemExit("the NCA test certificate's signature does not verify")
    return lambda: gost.verify(curve, point, digest, signature)


def p521_case():
    key = ec.generate_private_key(ec.SECP521R1())
    digest = hashlib.sha512(b"UISE benchmark").digest()
    algorithm = ec.ECDSA(utils.Prehashed(hashes.SHA512()))
    signature = key.sign(digest, algorithm)
    public = key.public_key()
    return lambda: public.verify(signature, digest, algorithm)


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=60, help="verifications per algorithm per round")
    parser.add_argument("--max-ratio", type=float, default=5.0)
    args = parser.parse_args()
    if not (PKI / "legal_ceo_valid.p12").is_file():
        print(f"missing the NCA RK test PKI at {PKI}", file=sys.stderr)
        return 2

    g, p = gost_case(), p521_case()
    timed(g, 5), timed(p, 5)  # warm-up: the GOST base-point table is built on first use
    gost_time = p521_time = 0.0
    for r in range(args.rounds):
        # alternate which goes first, so neither always runs right after the other
        if r % 2:
            p521_time += timed(p, args.batch)
            gost_time += timed(g, args.batch)
        else:
            gost_time += timed(g, args.batch)
            p521_time += timed(p, args.batch)
    total = args.rounds * args.batch
    gost_rate, p521_rate = total / gost_time, total / p521_time
    ratio = p521_rate / gost_rate
    print(f"GOST 34.10-2015 512 verify (uise_common.pki.gost, gmpy2): {gost_rate:9.1f} /s")
    print(f"ECDSA P-521 verify (OpenSSL via cryptography):          {p521_rate:9.1f} /s")
    print(f"GOST is {ratio:.2f}x slower than P-521 (limit {args.max_ratio:g}x) "
          f"over {args.rounds} interleaved rounds of {args.batch}")
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
