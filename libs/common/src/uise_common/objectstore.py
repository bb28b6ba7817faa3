"""Object store on the minio client: documents are addressed by their SHA-256, written before
any event names them, never overwritten, and checked against their hash when read."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from minio import Minio
from minio.error import S3Error

from uise_common.settings import Settings
from uise_contracts.events import StoredObject


class IntegrityError(Exception):
    """The bytes read back do not hash to the address they were stored under."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_key(kind: str, digest: str) -> str:
    return f"{kind}/sha256/{digest[:2]}/{digest}"


def address(data: bytes, kind: str, media_type: str) -> StoredObject:
    """Where `data` is (or would be) stored: its key follows from its hash."""
    digest = sha256_hex(data)
    return StoredObject(key=content_key(kind, digest), sha256=digest, size=len(data), media_type=media_type)


class ObjectStore:
    def __init__(self, client: Minio, bucket: str, link_client: Minio | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.link_client = link_client or client  # presigns for the address callers reach

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
        link_client = None
        if settings.s3_public_endpoint:
            link_client = Minio(settings.s3_public_endpoint, access_key=settings.s3_access_key,
                                secret_key=settings.s3_secret_key, secure=settings.s3_public_secure,
                                region=settings.s3_region)
        return cls(client, settings.s3_bucket, link_client)

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            self.client.make_bucket(self.bucket)

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise

    def put(self, data: bytes, kind: str, media_type: str) -> StoredObject:
        """Store `data` under its hash; storing the same bytes again writes nothing."""
        obj = address(data, kind, media_type)
        if not self.exists(obj.key):
            self.client.put_object(
                self.bucket, obj.key, io.BytesIO(data), len(data), content_type=media_type,
                metadata={"sha256": obj.sha256},
            )
        return obj

    def get(self, obj: StoredObject) -> bytes:
        resp = self.client.get_object(self.bucket, obj.key)
        try:
            data = resp.read()
        finally:
            resp.close()
            resp.release_conn()
        if sha256_hex(data) != obj.sha256:
            raise IntegrityError(f"{obj.key}: content does not match sha256 {obj.sha256}")
        return data

    def presigned_get(self, key: str, expires: timedelta) -> str:
        """A link that reads one object for `expires`, signed with this service's credentials:
        the bucket itself stays private. Computed locally (the region is known)."""
        return self.link_client.presigned_get_object(self.bucket, key, expires=expires)

    def ping(self) -> bool:
        return self.client.bucket_exists(self.bucket)
