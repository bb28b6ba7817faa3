"""The project's own test CA: NCA-shaped certificates (subject serialNumber=IIN…, OU=BIN…,
extended key usage naming the role) for the demo hierarchy and the tests. RSA in this version;
issue 4 adds GOST 34.10-2015."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from uise_signature.oids import EKU_FIRST_HEAD, EKU_LEGAL_ENTITY


class TestCA:
    __test__ = False  # not a pytest class

    def __init__(self, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert
        self.revoked: dict[int, datetime] = {}

    @classmethod
    def create(cls, name: str = "UISE TEST ROOT CA") -> TestCA:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                             x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> TestCA:
        key_path, cert_path = directory / "test-ca.key", directory / "test-ca.pem"
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        ca = cls.create()
        directory.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        cert_path.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
        return ca

    def issue(self, *, iin: str, name: str, bin_: str | None, org: str | None = None,
              eku: tuple[str, ...] = (EKU_LEGAL_ENTITY, EKU_FIRST_HEAD),
              valid_days: int = 365, valid_from: datetime | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name),
                 x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"),
                 x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")]
        if bin_ is not None:
            attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org or f"Organization {bin_}"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{bin_}")]
        start = valid_from or datetime.now(UTC) - timedelta(days=1)
        cert = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + timedelta(days=valid_days))
                .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in eku]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return key, cert

    def revoke(self, cert: x509.Certificate, when: datetime | None = None) -> None:
        self.revoked[cert.serial_number] = when or datetime.now(UTC)

    def crl(self, next_update_days: int = 7) -> bytes:
        """A CRL (DER) listing what this CA revoked, signed by it."""
        now = datetime.now(UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now - timedelta(minutes=1)).next_update(now + timedelta(days=next_update_days)))
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def publish_crl(self, directory: Path) -> Path:
        """Write the CRL where the signature service reads its revocation lists."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "uise-test-ca.crl"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(self.crl())
        tmp.replace(path)  # atomic: a reader never sees half a CRL
        return path

