"""Attachment bytes, generated on download from the attachment id: real formats (a PNG image,
a PDF header, JSON, text, zip magic) of exactly the advertised size, never stored."""

from __future__ import annotations

import random
import struct
import zlib

from sandbox.generator import WORDS, rng_for


def _png(rng: random.Random) -> bytes:
    """A real (small, noisy) PNG image."""
    width = height = rng.choice((8, 16, 32))
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def attachment_bytes(seed: str, att_id: int, mime: str, size: int) -> bytes:
    """Deterministic content of exactly `size` bytes whose format matches `mime`."""
    rng = rng_for(seed, "attachment", att_id)
    if mime == "text/plain":
        line = (" ".join(rng.choice(WORDS) for _ in range(12)) + "\n").encode()
        body = line * (size // len(line) + 1)
    elif mime == "application/json":
        head = b'{"generated": true, "filler": "'
        body = head + b"x" * max(0, size - len(head) - 2) + b'"}'
    elif mime == "image/png":
        # Trailing bytes after IEND are ignored by decoders; they give the file its size.
        png = _png(rng)
        body = png + rng.randbytes(max(0, size - len(png)))
    elif mime == "application/pdf":
        body = b"%PDF-1.4\n" + rng.randbytes(max(0, size - 16)) + b"\n%%EOF\n"
    else:
        body = b"PK\x03\x04" + rng.randbytes(max(0, size - 4))
    return body[:size]
