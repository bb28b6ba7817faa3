"""The object-store adapter against moto's real S3 server, through the minio client."""

from __future__ import annotations

import io

import pytest

from uise_common.objectstore import IntegrityError, ObjectStore
from uise_common.settings import Settings


@pytest.fixture
def store(s3_endpoint) -> ObjectStore:
    s = ObjectStore.from_settings(Settings(s3_endpoint=s3_endpoint, s3_bucket="commontest"))
    s.ensure_bucket()
    return s


def test_put_is_content_addressed_and_reads_back(store):
    obj = store.put(b'{"pupils_total": 10}', "documents", "application/json")
    assert obj.key.endswith(obj.sha256) and obj.key.startswith("documents/sha256/")
    assert store.get(obj) == b'{"pupils_total": 10}'
    assert store.put(b'{"pupils_total": 10}', "documents", "application/json") == obj


def test_the_same_bytes_are_never_rewritten(store):
    obj = store.put(b"first", "documents", "text/csv")
    etag = store.client.stat_object(store.bucket, obj.key).etag
    store.put(b"first", "documents", "text/csv")
    assert store.client.stat_object(store.bucket, obj.key).etag == etag


def test_tampered_object_is_refused_on_read(store):
    obj = store.put(b"genuine", "documents", "text/csv")
    store.client.put_object(store.bucket, obj.key, io.BytesIO(b"forged!"), 7)
    with pytest.raises(IntegrityError):
        store.get(obj)
