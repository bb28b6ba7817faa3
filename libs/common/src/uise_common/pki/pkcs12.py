"""Loading key containers (.p12) as NCA RK issues them.

The NCA test (and production) containers are legacy PKCS#12 (RFC 7292): a SHA-1 HMAC over the
authenticated safe, the private key in a shrouded key bag under pbeWithSHA1And3-KeyTripleDES-CBC
and the certificates in an encrypted bag under pbeWithSHA1And40BitRC2-CBC. The key itself is a
GOST 34.10-2015 key that neither OpenSSL nor `cryptography` can load, so this module does the
container by hand: asn1crypto for the structure, the PKCS#12 key derivation (RFC 7292 appendix B)
in Python, 3DES from `cryptography`, and RC2 in Python because `cryptography` only offers RC2
with 128-bit keys and these bags use 40-bit RC2.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import core, keys
from asn1crypto import pkcs12 as ap12
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.serialization import pkcs12 as cpkcs12

from uise_common.pki import gost
from uise_common.pki.gost import GOST_KEY_ALGORITHMS, KeyParameters


class PKCS12Error(Exception):
    """The container cannot be opened: unreadable, unsupported, or a wrong password."""


class WrongPassword(PKCS12Error):
    pass


class _UnsupportedEncryption(PKCS12Error):
    pass


@dataclass
class KeyContainer:
    """The private key (GOST scalar with its curve, or RSA) and the certificates of a .p12.
    `certificate` is the one that matches the key; `certificates` are all of them."""

    key: gost.PrivateKey | rsa.RSAPrivateKey
    certificate: x509.Certificate
    certificates: list[x509.Certificate] = field(default_factory=list)


# --- PKCS#12 key derivation (RFC 7292 appendix B.2) -----------------------------------------

KDF_KEY, KDF_IV, KDF_MAC = 1, 2, 3


def _bmp_password(password: str) -> bytes:
    # B.1: the password is a BMPString (UTF-16 big-endian) with a two-byte zero terminator.
    return password.encode("utf-16-be") + b"\x00\x00"


def pkcs12_kdf(password: str, salt: bytes, purpose: int, iterations: int, length: int,
               hash_name: str = "sha1") -> bytes:
    u = hashlib.new(hash_name).digest_size
    v = hashlib.new(hash_name).block_size  # 64 for SHA-1 and SHA-256

    def stretch(data: bytes) -> bytes:  # repeat to the next multiple of v bytes
        if not data:
            return b""
        n = v * ((len(data) + v - 1) // v)
        return (data * (n // len(data) + 1))[:n]

    d = bytes([purpose]) * v
    i = bytearray(stretch(salt) + stretch(_bmp_password(password)))
    out = b""
    while len(out) < length:
        a = d + bytes(i)
        for _ in range(iterations):
            a = hashlib.new(hash_name, a).digest()
        out += a
        # I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block, B being A repeated to v bytes.
        b = int.from_bytes((a * (v // u + 1))[:v], "big") + 1
        for j in range(0, len(i), v):
            block = (int.from_bytes(i[j:j + v], "big") + b) % (1 << (8 * v))
            i[j:j + v] = block.to_bytes(v, "big")
    return out[:length]


# --- RC2 (RFC 2268), decryption in CBC mode -------------------------------------------------

# RFC 2268 section 2: the key-expansion permutation, "based on the digits of pi".
_PITABLE = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)


def _rc2_key_schedule(key: bytes, effective_bits: int) -> list[int]:
    """RFC 2268 section 2: expand the key into 64 16-bit words, limited to `effective_bits`."""
    t = len(key)
    if not 1 <= t <= 128:
        raise ValueError("RC2 keys are 1 to 128 bytes")
    lk = bytearray(key) + bytearray(128 - t)
    for i in range(t, 128):
        lk[i] = _PITABLE[(lk[i - 1] + lk[i - t]) & 0xFF]
    t8 = (effective_bits + 7) // 8
    tm = 0xFF >> (8 * t8 - effective_bits)  # = 255 mod 2^(8 + T1 - 8*T8)
    lk[128 - t8] = _PITABLE[lk[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        lk[i] = _PITABLE[lk[i + 1] ^ lk[i + t8]]
    # Words are little-endian pairs of key bytes.
    return [lk[2 * i] | (lk[2 * i + 1] << 8) for i in range(64)]


def _rc2_decrypt_block(k: list[int], block: bytes) -> bytes:
    """RFC 2268 section 4: five r-mixing rounds, r-mashing, six r-mixing, r-mashing, five r-mixing
    (the inverse of encryption's order); the block is four little-endian 16-bit words."""
    r = [int.from_bytes(block[i:i + 2], "little") for i in range(0, 8, 2)]
    shifts = (1, 2, 3, 5)
    j = 63
    for rnd in range(16):
        for i in (3, 2, 1, 0):
            # rotate right by s[i], then subtract what the mixing round added
            r[i] = ((r[i] >> shifts[i]) | (r[i] << (16 - shifts[i]))) & 0xFFFF
            r[i] = (r[i] - k[j] - (r[i - 1] & r[i - 2]) - ((~r[i - 1]) & r[i - 3])) & 0xFFFF
            j -= 1
        if rnd in (4, 10):  # after 5 and after 11 r-mixing rounds
            for i in (3, 2, 1, 0):
                r[i] = (r[i] - k[r[i - 1] & 63]) & 0xFFFF
    return b"".join(w.to_bytes(2, "little") for w in r)


def rc2_cbc_decrypt(key: bytes, iv: bytes, data: bytes, effective_bits: int | None = None) -> bytes:
    """RC2-CBC decryption without unpadding. `effective_bits` defaults to the key length."""
    if len(data) % 8 or len(iv) != 8:
        raise ValueError("RC2-CBC works on 8-byte blocks")
    schedule = _rc2_key_schedule(key, effective_bits or 8 * len(key))
    out = bytearray()
    prev = iv
    for i in range(0, len(data), 8):
        block = data[i:i + 8]
        out += bytes(a ^ b for a, b in zip(_rc2_decrypt_block(schedule, block), prev, strict=True))
        prev = block
    return bytes(out)


def _unpad(data: bytes, block: int = 8) -> bytes:
    n = data[-1] if data else 0
    if not 1 <= n <= block or data[-n:] != bytes([n]) * n:
        # With the MAC already checked this means a wrong password for a bag (some tools
        # encrypt bags under a different password than the MAC) or a corrupt container.
        raise WrongPassword("cannot decrypt the container: wrong password")
    return data[:-n]


# --- PKCS#12 password-based encryption schemes (RFC 7292 appendix C) ------------------------

# algorithm OID -> (cipher, key length, effective key bits for RC2)
_PBE = {
    "1.2.840.113549.1.12.1.3": ("3des", 24, None),  # pbeWithSHAAnd3-KeyTripleDES-CBC
    "1.2.840.113549.1.12.1.4": ("3des", 16, None),  # pbeWithSHAAnd2-KeyTripleDES-CBC
    "1.2.840.113549.1.12.1.5": ("rc2", 16, 128),  # pbeWithSHAAnd128BitRC2-CBC
    "1.2.840.113549.1.12.1.6": ("rc2", 5, 40),  # pbeWithSHAAnd40BitRC2-CBC
}


class _PBEParameters(core.Sequence):
    _fields = [("salt", core.OctetString), ("iterations", core.Integer)]


def _pbe_decrypt(algorithm: core.Sequence, password: str, data: bytes) -> bytes:
    oid = algorithm["algorithm"].dotted
    if oid not in _PBE:
        raise _UnsupportedEncryption(f"unsupported PKCS#12 encryption {oid}")
    cipher, key_len, bits = _PBE[oid]
    params = _PBEParameters.load(algorithm["parameters"].dump())
    salt, iterations = params["salt"].native, params["iterations"].native
    key = pkcs12_kdf(password, salt, KDF_KEY, iterations, key_len)
    iv = pkcs12_kdf(password, salt, KDF_IV, iterations, 8)
    if not data or len(data) % 8:
        raise PKCS12Error("encrypted data is not a whole number of blocks")
    if cipher == "3des":
        if key_len == 16:
            key += key[:8]
        decryptor = Cipher(TripleDES(key), modes.CBC(iv)).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
    else:
        plain = rc2_cbc_decrypt(key, iv, data, bits)
    return _unpad(plain)


# --- The container ----------------------------------------------------------------------------

def _check_mac(pfx: ap12.Pfx, password: str) -> None:
    mac_data = pfx["mac_data"]
    if not mac_data.native:
        return  # integrity mode absent: a wrong password shows up as bad padding instead
    algorithm = mac_data["mac"]["digest_algorithm"]["algorithm"].native
    hash_name = {"sha1": "sha1", "sha256": "sha256", "sha512": "sha512"}.get(algorithm)
    if hash_name is None:
        raise PKCS12Error(f"unsupported PKCS#12 MAC digest {algorithm}")
    salt = mac_data["mac_salt"].native
    iterations = mac_data["iterations"].native or 1
    key = pkcs12_kdf(password, salt, KDF_MAC, iterations, hashlib.new(hash_name).digest_size, hash_name)
    # The MAC covers the content octets of the authSafe's OCTET STRING exactly as stored.
    content = pfx["auth_safe"]["content"].native
    expected = hmac.new(key, content, hash_name).digest()
    if not hmac.compare_digest(expected, mac_data["mac"]["digest"].native):
        raise WrongPassword("wrong password for the key container (MAC check failed)")


class _Attributes(core.SetOf):
    _child_spec = core.Any


class _PrivateKeyInfo(core.Sequence):
    """PKCS#8 PrivateKeyInfo, kept generic: asn1crypto's own refuses unknown (GOST) algorithms."""

    _fields = [
        ("version", core.Integer),
        ("private_key_algorithm", gost._AlgorithmIdentifier),
        ("private_key", core.OctetString),
        ("attributes", _Attributes, {"implicit": 0, "optional": True}),
    ]


def _load_private_key(der: bytes) -> gost.PrivateKey | rsa.RSAPrivateKey:
    info = _PrivateKeyInfo.load(der)
    algorithm = info["private_key_algorithm"]["algorithm"].dotted
    if algorithm in GOST_KEY_ALGORITHMS:
        params = KeyParameters.load(info["private_key_algorithm"]["parameters"].dump())
        curve = gost.curve_by_oid(params["public_key_param_set"].dotted)
        raw = info["private_key"].native
        # NCA wraps the scalar in a further OCTET STRING, little-endian (like RFC 4491's
        # GostR3410-2001-PrivateKey); some tools store an INTEGER (big-endian) or bare bytes.
        if raw[:1] == b"\x04":
            d = gost.kz_private_key_decode(core.OctetString.load(raw).native)
        elif raw[:1] == b"\x02":
            d = core.Integer.load(raw).native
        else:
            d = gost.kz_private_key_decode(raw)
        if not 0 < d < curve.q:
            raise PKCS12Error("the GOST private key is out of range")
        return gost.PrivateKey(curve, d)
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PKCS12Error(f"unsupported private key algorithm {algorithm}")
    return key


def _key_matches(key, cert: x509.Certificate) -> bool:
    if isinstance(key, gost.PrivateKey):
        try:
            curve, point = gost.public_key_from_spki(_spki_of(cert))
        except ValueError:
            return False
        return curve is key.curve and point == key.public_point()
    try:
        return cert.public_key().public_numbers() == key.public_key().public_numbers()
    except Exception:  # noqa: BLE001 - a GOST certificate has no public_key() in cryptography
        return False


def _spki_of(cert: x509.Certificate) -> bytes:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))[
        "tbs_certificate"]["subject_public_key_info"].dump()


def _load_with_cryptography(data: bytes, password: str) -> KeyContainer:
    try:
        key, cert, others = cpkcs12.load_key_and_certificates(data, password.encode())
    except ValueError as exc:
        raise PKCS12Error(f"unreadable PKCS#12 container: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or cert is None:
        raise PKCS12Error("the container holds no RSA key with its certificate")
    return KeyContainer(key=key, certificate=cert, certificates=[cert, *others])


def load(data: bytes | Path, password: str) -> KeyContainer:
    """Open a .p12: check the MAC, decrypt the key and certificate bags. Raises WrongPassword for a
    wrong password and PKCS12Error for anything unreadable or unsupported."""
    if isinstance(data, Path):
        data = data.read_bytes()
    try:
        pfx = ap12.Pfx.load(data)
        pfx.native  # noqa: B018 - parse eagerly so that garbage fails here, not halfway
    except Exception as exc:
        raise PKCS12Error(f"not a PKCS#12 container: {exc}") from exc
    _check_mac(pfx, password)

    keys_found: list = []
    certs: list[x509.Certificate] = []

    def read_bags(safe_contents_der: bytes) -> None:
        for bag in ap12.SafeContents.load(safe_contents_der):
            bag_id = bag["bag_id"].native
            value = bag["bag_value"]
            if bag_id == "pkcs8_shrouded_key_bag":
                # bag_value is [0] EXPLICIT: drop the tag before reparsing the inner structure.
                encrypted = keys.EncryptedPrivateKeyInfo.load(value.untag().dump())
                algorithm = gost._AlgorithmIdentifier.load(encrypted["encryption_algorithm"].dump())
                keys_found.append(_load_private_key(
                    _pbe_decrypt(algorithm, password, encrypted["encrypted_data"].native)))
            elif bag_id == "key_bag":
                keys_found.append(_load_private_key(value.untag().dump()))
            elif bag_id == "cert_bag" and value["cert_id"].native == "x509":
                # the raw octets: parsing them natively would choke on a GOST public key
                certs.append(x509.load_der_x509_certificate(bytes(value["cert_value"])))

    try:
        for content_info in pfx.authenticated_safe:
            kind = content_info["content_type"].native
            if kind == "data":
                read_bags(content_info["content"].native)
            elif kind == "encrypted_data":
                eci = content_info["content"]["encrypted_content_info"]
                algorithm = gost._AlgorithmIdentifier.load(eci["content_encryption_algorithm"].dump())
                read_bags(_pbe_decrypt(algorithm, password, eci["encrypted_content"].native))
            else:
                raise PKCS12Error(f"unsupported PKCS#12 safe {kind}")
    except _UnsupportedEncryption:
        # Modern containers (PBES2 with AES) hold RSA or EC keys that cryptography reads itself.
        return _load_with_cryptography(data, password)
    except PKCS12Error:
        raise
    except Exception as exc:
        raise PKCS12Error(f"unreadable PKCS#12 container: {exc}") from exc

    if not keys_found:
        raise PKCS12Error("the container holds no private key")
    if not certs:
        raise PKCS12Error("the container holds no certificate")
    key = keys_found[0]
    cert = next((c for c in certs if _key_matches(key, c)), None)
    if cert is None:
        raise PKCS12Error("no certificate in the container matches its private key")
    return KeyContainer(key=key, certificate=cert, certificates=certs)
