"""The cache's store keys, computed for a million numbers at once (cache layout 3).

A store key is a keyed pseudo-random function of the number, so the cache holds no
number in clear and a copied cache cannot be probed without its secret: two
SipHash-2-4 (Aumasson & Bernstein, a MAC designed for short inputs; 128-bit keys)
of the E.164 number as an integer (8 bytes, little-endian), with two independent keys
derived from the cache's 32-byte secret, give the 16-byte key digest. Written with
numpy on whole arrays: ~0.1 µs a number, where an HMAC-SHA256 per number through
``hashlib`` took 0.75 µs and was most of a warm ``check`` of a million numbers.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

#: numbers hashed per step (the four state arrays stay in the CPU cache)
CHUNK = 1 << 15
_C = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)
_LAST = np.uint64(8 << 56)  # the final block of an 8-byte message: its length, no bytes
_MASK = (1 << 64) - 1


def derive_keys(secret: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two SipHash keys (each two 64-bit words) from the cache secret."""
    material = hmac.digest(secret, b"rcsqualify store keys, layout 3", "sha256")
    words = np.frombuffer(material, dtype="<u8").tolist()
    return (words[0], words[1]), (words[2], words[3])


def _rotl(x: np.ndarray, r: int, tmp: np.ndarray) -> None:
    np.left_shift(x, np.uint64(r), out=tmp)
    np.right_shift(x, np.uint64(64 - r), out=x)
    np.bitwise_or(x, tmp, out=x)


def _rounds(v0: np.ndarray, v1: np.ndarray, v2: np.ndarray, v3: np.ndarray,
            tmp: np.ndarray, n: int) -> None:
    for _ in range(n):
        v0 += v1
        _rotl(v1, 13, tmp)
        v1 ^= v0
        _rotl(v0, 32, tmp)
        v2 += v3
        _rotl(v3, 16, tmp)
        v3 ^= v2
        v0 += v3
        _rotl(v3, 21, tmp)
        v3 ^= v0
        v2 += v1
        _rotl(v1, 17, tmp)
        v1 ^= v2
        _rotl(v2, 32, tmp)


def _siphash24_one(key: tuple[int, int], m: int) -> int:
    """The same function on one message with Python integers: a stream asks one number
    at a time, and a hundred numpy calls on one-element arrays took ~0.25 ms a key."""
    k0, k1 = key
    v0, v1, v2, v3 = k0 ^ _C[0], k1 ^ _C[1], k0 ^ _C[2], k1 ^ _C[3]

    def rounds(v0: int, v1: int, v2: int, v3: int, n: int) -> tuple[int, int, int, int]:
        for _ in range(n):
            v0 = (v0 + v1) & _MASK
            v1 = ((v1 << 13) | (v1 >> 51)) & _MASK ^ v0
            v0 = ((v0 << 32) | (v0 >> 32)) & _MASK
            v2 = (v2 + v3) & _MASK
            v3 = ((v3 << 16) | (v3 >> 48)) & _MASK ^ v2
            v0 = (v0 + v3) & _MASK
            v3 = ((v3 << 21) | (v3 >> 43)) & _MASK ^ v0
            v2 = (v2 + v1) & _MASK
            v1 = ((v1 << 17) | (v1 >> 47)) & _MASK ^ v2
            v2 = ((v2 << 32) | (v2 >> 32)) & _MASK
        return v0, v1, v2, v3

    last = int(_LAST)
    v3 ^= m
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
    v0 ^= m
    v3 ^= last
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
    v0 ^= last
    v2 ^= 0xFF
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


#: below this many numbers, keys are computed one by one with Python integers
SCALAR_BELOW = 16


def siphash24(key: tuple[int, int], m: np.ndarray) -> np.ndarray:
    """SipHash-2-4 (64-bit output) of each 8-byte little-endian message ``m`` (uint64)."""
    k0, k1 = key
    m = np.ascontiguousarray(m, dtype=np.uint64)
    if len(m) < SCALAR_BELOW:
        return np.array([_siphash24_one(key, x) for x in m.tolist()], dtype=np.uint64)
    out = np.empty(len(m), dtype=np.uint64)
    for lo in range(0, len(m), CHUNK):
        mm = m[lo:lo + CHUNK]
        size = len(mm)
        v0 = np.full(size, k0 ^ _C[0], np.uint64)
        v1 = np.full(size, k1 ^ _C[1], np.uint64)
        v2 = np.full(size, k0 ^ _C[2], np.uint64)
        v3 = np.full(size, k1 ^ _C[3], np.uint64)
        tmp = np.empty(size, np.uint64)
        v3 ^= mm
        _rounds(v0, v1, v2, v3, tmp, 2)
        v0 ^= mm
        v3 ^= _LAST
        _rounds(v0, v1, v2, v3, tmp, 2)
        v0 ^= _LAST
        v2 ^= np.uint64(0xFF)
        _rounds(v0, v1, v2, v3, tmp, 4)
        v0 ^= v1
        v2 ^= v3
        np.bitwise_xor(v0, v2, out=out[lo:lo + size])
    return out


class KeyMaker:
    """The 16-byte store keys of E.164 numbers under one cache secret."""

    def __init__(self, secret: bytes) -> None:
        self._a, self._b = derive_keys(secret)

    def digests(self, e164: np.ndarray) -> np.ndarray:
        """``(n, 2)`` uint64: the key digest of each number (E.164 as an integer)."""
        m = np.asarray(e164).astype(np.uint64, copy=False)
        out = np.empty((len(m), 2), dtype="<u8")
        out[:, 0] = siphash24(self._a, m)
        out[:, 1] = siphash24(self._b, m)
        return out


class E164Numbers(Sequence[str]):
    """E.164 numbers held as their integer keys: a warm run of a million numbers makes
    no string for the numbers the cache answers (``"+" + digits`` only when asked)."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.asarray(keys, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> E164Numbers: ...

    def __getitem__(self, i: int | slice) -> str | E164Numbers:
        if isinstance(i, slice):
            return E164Numbers(self.keys[i])
        return f"+{int(self.keys[i])}"

    def __iter__(self) -> Iterator[str]:
        return (f"+{k}" for k in self.keys.tolist())


def e164_keys(numbers: Sequence[str]) -> np.ndarray:
    """The integer keys of E.164 numbers (``+33612345678`` → 33612345678)."""
    if isinstance(numbers, E164Numbers):
        return numbers.keys
    return np.fromiter((int(n) for n in numbers), dtype=np.int64, count=len(numbers))
