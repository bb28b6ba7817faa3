"""The compiled Streebog against the standard's examples (GOST R 34.11-2012 / RFC 6986 §10) and
against the two pure-Python implementations (ours in uise_common.pki.gost, and gostcrypto's)."""

import os
import random
import threading

import pytest
from gostcrypto.gosthash import new as gostcrypto_hash

from uise_common.pki import gost
from uise_streebog import streebog256, streebog512

# RFC 6986 §10 prints messages and digests as big-endian numbers; as byte strings (the order
# every implementation hashes and outputs, and ours) both are the reverse of that display.
M1 = b"012345678901234567890123456789012345678901234567890123456789012"  # 63 bytes
M2 = "Се ветри, Стрибожи внуци, веютъ с моря стрелами на храбрыя плъкы Игоревы".encode("cp1251")
VECTORS = [
    (M1, 64, "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
             "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"),
    (M1, 32, "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"),
    (M2, 64, "1e88e62226bfca6f9994f1f2d51569e0daf8475a3b0fe61a5300eee46d961376"
             "035fe83549ada2b8620fcd7c496ce5b33f0cb9dddc2b6460143b03dabac9fb28"),
    (M2, 32, "9dd2fe4e90409e5da87f53976d7405b0c0cac628fc669a741d50063c557e8f50"),
]
COMPILED = {64: streebog512, 32: streebog256}


def test_the_messages_are_the_standards():
    assert len(M1) == 63 and len(M2) == 72
    # M2 in CP1251, as the examples of the standard hash it
    assert bytes.fromhex(
        "d1e520e2e5f2f0e82c20d1f2f0e8e1eee6e820e2edf3f6e82c20e2e5fef2fa20"
        "f120eceef0ff20f1f2f0e5ebe0ece820ede020f5f0e0e1f0fbff20efebfaeafb20c8e3eef0e5e2fb") == M2


@pytest.mark.parametrize(("message", "size", "digest"), VECTORS)
def test_the_standards_examples(message, size, digest):
    assert COMPILED[size](message).hex() == digest
    assert gost.streebog_python(message, size).hex() == digest
    assert gost.streebog(message, size).hex() == digest


LENGTHS = [*range(0, 201), 255, 256, 257, 511, 512, 513, 4095, 4096, 4097, 8191, 8192, 8193, 100_003]


def test_compiled_matches_pure_python_at_every_length():
    rng = random.Random(6986)
    for n in LENGTHS:
        data = rng.randbytes(n)
        for size in (64, 32):
            assert COMPILED[size](data) == gost.streebog_python(data, size), (n, size)


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 127, 128, 129, 1000])
def test_compiled_matches_gostcrypto(n):
    data = os.urandom(n)
    assert streebog512(data) == bytes(gostcrypto_hash("streebog512", data=data).digest())
    assert streebog256(data) == bytes(gostcrypto_hash("streebog256", data=data).digest())


def test_a_few_megabytes_match_pure_python():
    data = random.Random(3411).randbytes(3 * 1024 * 1024 + 17)
    assert streebog512(data) == gost.streebog_python(data, 64)


def test_carries_in_sigma_and_all_ones_blocks():
    # blocks of 0xff make the 512-bit sum Σ carry through every word
    for n in (64, 128, 192, 64 * 9 + 5):
        data = b"\xff" * n
        assert streebog512(data) == gost.streebog_python(data, 64)
        assert streebog256(data) == gost.streebog_python(data, 32)


def test_any_bytes_like_object_and_nothing_else():
    data = bytes(range(256)) * 40
    assert streebog512(bytearray(data)) == streebog512(memoryview(data)) == streebog512(data)
    assert streebog256(memoryview(data)[100:300]) == streebog256(data[100:300])
    with pytest.raises(TypeError):
        streebog512("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        streebog256(None)  # type: ignore[arg-type]


def test_threads_hash_long_inputs_concurrently_and_correctly():
    """Long inputs run without the GIL; several threads at once still get their own digests."""
    inputs = [random.Random(i).randbytes(512 * 1024 + i) for i in range(4)]
    expected = [streebog512(d) for d in inputs]
    results: list[bytes | None] = [None] * len(inputs)

    def work(i: int) -> None:
        results[i] = streebog512(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected
