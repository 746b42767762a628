"""What the aioquic peers and their tests share: the byte pattern of an
upload or a download (pseudo-random, so that reordering or a lost chunk
shows in the hash), and chargen's lines (RFC 864, as `strata serve --app
chargen` writes them)."""
import hashlib

BLOCK = 64 * 1024


def pattern_block(i):
    """The i-th 64 KiB block of the pattern."""
    return hashlib.sha256(i.to_bytes(8, "big")).digest() * (BLOCK // 32)


def pattern(size):
    """The pattern's first `size` bytes, as blocks."""
    i = 0
    while size > 0:
        b = pattern_block(i)[:size]
        yield b
        size -= len(b)
        i += 1


def pattern_sha256(size):
    h = hashlib.sha256()
    for b in pattern(size):
        h.update(b)
    return h.hexdigest()


def chargen_sha256(size):
    """SHA-256 of chargen's first `size` bytes: line n holds the 72
    printable characters that start n + 1 places after the space, then CRLF."""
    h = hashlib.sha256()
    lines = [bytes(32 + (n + 1 + j) % 95 for j in range(72)) + b"\r\n" for n in range(95)]
    cycle = b"".join(lines)
    while size > 0:
        part = cycle[:size]
        h.update(part)
        size -= len(part)
    return h.hexdigest()
