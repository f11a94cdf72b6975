"""Thumbnails of PNG uploads in pure Python (zlib only), so the example needs no imaging library.

Reads 8-bit, non-interlaced greyscale, grey+alpha, RGB and RGBA PNGs; scales them down (nearest neighbour) so the
longer side is at most ``size`` pixels; writes an RGB(A)/grey PNG. Anything else is refused with a clear reason.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO, Iterator

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4}  # PNG colour type -> samples per pixel


class NotAThumbnailableImage(ValueError):
    """The upload is not a PNG this module can read (the message says why)."""


def _chunks(stream: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    if stream.read(8) != SIGNATURE:
        raise NotAThumbnailableImage("not a PNG file")
    while True:
        head = stream.read(8)
        if len(head) < 8:
            raise NotAThumbnailableImage("truncated PNG")
        length, kind = struct.unpack(">I4s", head)
        data = stream.read(length)
        stream.read(4)  # CRC: zlib checks the image data itself
        yield kind, data
        if kind == b"IEND":
            return


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytearray]:
    stride = width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    pos = 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prev[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = prev[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
            elif kind != 0:
                raise NotAThumbnailableImage(f"unknown PNG filter {kind}")
        rows.append(line)
        prev = line
    return rows


def _png(width: int, height: int, colour: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    body = zlib.compress(b"".join(b"\x00" + row for row in rows), 9)
    return SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def thumbnail(stream: BinaryIO, size: int = 128) -> bytes:
    """A PNG at most ``size`` pixels on its longer side, from the PNG in ``stream`` (read as it streams)."""
    header: tuple[int, ...] | None = None
    idat: list[bytes] = []
    for kind, data in _chunks(stream):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat.append(data)
    if header is None:
        raise NotAThumbnailableImage("PNG without a header")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in CHANNELS or interlace:
        raise NotAThumbnailableImage(f"only 8-bit, non-interlaced grey/RGB(A) PNGs (got depth {depth}, colour type "
                                     f"{colour}, interlace {interlace})")
    bpp = CHANNELS[colour]
    rows = _unfilter(zlib.decompress(b"".join(idat)), width, height, bpp)
    scale = max(width, height) / size if max(width, height) > size else 1.0
    out_w, out_h = max(1, round(width / scale)), max(1, round(height / scale))
    picked: list[bytes] = []
    for y in range(out_h):
        src = rows[min(height - 1, int(y * scale))]
        line = bytearray()
        for x in range(out_w):
            i = min(width - 1, int(x * scale)) * bpp
            line += src[i:i + bpp]
        picked.append(bytes(line))
    return _png(out_w, out_h, colour, picked)


def size_of(png: bytes) -> tuple[int, int]:
    """(width, height) of a PNG."""
    width, height = struct.unpack(">II", png[16:24])
    return width, height
