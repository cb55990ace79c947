"""Triton's BYTES tensor serialization, as KServe v2 clients send and expect it: each
element a little-endian uint32 length followed by its bytes."""

from __future__ import annotations

import struct

import grpc


class KServeError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode_bytes_tensor(raw: bytes) -> list[bytes]:
    """Triton's BYTES serialization: each element is a little-endian uint32 length + bytes."""
    items, pos = [], 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise KServeError(grpc.StatusCode.INVALID_ARGUMENT, "BYTES tensor ends inside a length prefix")
        (length,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + length > len(raw):
            raise KServeError(grpc.StatusCode.INVALID_ARGUMENT, "BYTES tensor element runs past the end")
        items.append(raw[pos : pos + length])
        pos += length
    return items


def bytes_elements(request) -> list[bytes]:
    """The elements of a request's first (BYTES) input, sent raw or as bytes_contents."""
    if request.raw_input_contents:
        return decode_bytes_tensor(request.raw_input_contents[0])
    return list(request.inputs[0].contents.bytes_contents)


def encode_bytes_tensor(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


__all__ = ["KServeError", "bytes_elements", "decode_bytes_tensor", "encode_bytes_tensor"]
