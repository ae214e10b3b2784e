"""Shards: gzip-compressed newline-delimited JSON, encoded deterministically.

Keys are sorted and the gzip header carries no timestamp or file name, so the same records
always give the same bytes and the same SHA-256: an unchanged shard of an incremental run is the
object the previous snapshot already stored.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def encode(records: Iterable[Any]) -> tuple[bytes, int]:
    """(gzip bytes, number of records)."""
    buffer = io.BytesIO()
    count = 0
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0, filename="") as gz:
        for record in records:
            gz.write(orjson.dumps(record, option=_OPTS))
            count += 1
    return buffer.getvalue(), count


def decode(data: bytes) -> list[Any]:
    return list(iter_lines(io.BytesIO(data)))


def iter_lines(fileobj: IO[bytes]) -> Iterator[Any]:
    """Records of a shard, streamed. Raises ``ShardError`` on corrupt data."""
    try:
        with gzip.GzipFile(fileobj=fileobj, mode="rb") as gz:
            for line in gz:
                if line.strip():
                    yield orjson.loads(line)
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        raise ShardError(str(exc)) from exc


class ShardError(Exception):
    """A shard that does not decompress or parse."""
