"""GOST 34.10-2015 (512-bit) verification speed beside OpenSSL's ECDSA P-521, and Streebog-512
hashing beside OpenSSL's SHA-512, in the same run.

    .venv/bin/python bench/signature.py [--rounds 7] [--batch 60] [--max-ratio 5]
                                        [--doc-mb 20] [--min-hash-ratio 0.10]

The GOST signature is a real one made by NCA RK's own software: the test CA's signature on the
certificate inside ../shared/testdata/nca-test-pki/legal_ceo_valid.p12, checked with the
intermediate CA's public key (uise_common.pki.gost.verify, gmpy2). P-521 is cryptography's
ECDSA with SHA-512 over a prehashed digest, so both sides verify a digest and nothing else.
Rounds alternate between the two so that machine noise hits both alike. Exits 1 if GOST is more
than --max-ratio times slower than P-521.

Hashing: Streebog-512 compiled (uise_streebog) and in pure Python (uise_common.pki.gost's
fallback, on 250 kB) against hashlib's SHA-512 (OpenSSL), best of nine interleaved runs, then the full CMS
verification (uise_common.pki.cms.verify: digest, signed attributes, chain) of a --doc-mb signed
document from a GOST test CA, as the signature service does it. Exits 1 if the compiled Streebog
runs below --min-hash-ratio of SHA-512's speed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import warnings
from datetime import UTC, datetime

from asn1crypto import x509 as ax509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from uise_common.pki import cms, gost, pkcs12
from uise_common.pki.testca import GostTestCA
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


def hashing(rounds: int = 9) -> tuple[float, float, float]:
    """(compiled Streebog-512, pure-Python Streebog-512, OpenSSL SHA-512) in MB/s: the best of
    `rounds` interleaved runs over 4 MB (the pure-Python one: best of three over 250 kB), so that a busy
    machine slows both sides of the ratio alike and the best run shows the code's own speed."""
    from uise_streebog import streebog512

    data = os.urandom(4_000_000)
    compiled = sha512 = float("inf")
    for _ in range(rounds):
        compiled = min(compiled, timed(lambda: streebog512(data), 1))
        sha512 = min(sha512, timed(lambda: hashlib.sha512(data).digest(), 1))
    piece = data[:250_000]
    pure = min(timed(lambda: gost.streebog_python(piece, 64), 1) for _ in range(3))
    return len(data) / compiled / 1e6, len(piece) / pure / 1e6, len(data) / sha512 / 1e6


def document_verification(doc_mb: int) -> float:
    """Seconds to verify a detached GOST-512 CMS over a doc_mb document, chain included."""
    ca = GostTestCA.create()
    key, cert = ca.issue(iin="800101300011", name="Bench head", bin_="220440000013")
    document = os.urandom(doc_mb * 1_000_000)
    at = datetime.now(UTC)
    signature = cms.sign(document, key, cert, signing_time=at)
    start = time.perf_counter()
    info = cms.verify(signature, document, cms.TrustStore([ca.cert]), at=at)
    elapsed = time.perf_counter() - start
    assert info.iin == "800101300011"
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=60, help="verifications per algorithm per round")
    parser.add_argument("--max-ratio", type=float, default=5.0)
    parser.add_argument("--doc-mb", type=int, default=20, help="size of the hashed and verified document")
    parser.add_argument("--min-hash-ratio", type=float, default=0.10,
                        help="least acceptable compiled Streebog-512 speed as a fraction of SHA-512's")
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

    compiled, pure, sha512 = hashing()
    hash_ratio = compiled / sha512
    print(f"Streebog-512 compiled (uise_streebog):     {compiled:9.1f} MB/s")
    print(f"Streebog-512 pure Python (fallback):      {pure:9.2f} MB/s")
    print(f"SHA-512 (OpenSSL via hashlib):            {sha512:9.1f} MB/s")
    print(f"compiled Streebog runs at {hash_ratio:.0%} of SHA-512 (floor {args.min_hash_ratio:.0%}), "
          f"{compiled / pure:.0f}x the pure-Python one")
    seconds = document_verification(args.doc_mb)
    print(f"full CMS verification of a {args.doc_mb} MB GOST-512 signed document: {seconds:.2f} s "
          f"(pure-Python Streebog would need ~{args.doc_mb / pure:.0f} s for the digest alone)")
    return 0 if ratio <= args.max_ratio and hash_ratio >= args.min_hash_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
