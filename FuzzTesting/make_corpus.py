#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target under Corpus/<Target>/ (small files, deterministic).

Run from anywhere: python3 FuzzTesting/make_corpus.py. The files are committed; re-running rewrites them.

Layouts (see each target's source):
- FuzzFrames:    [configuration byte, chunking byte] + a frame stream.
  Configuration byte: bits 0-1 limits, bit 2 permessage-deflate, bits 3-4 no_context_takeover
  (server, client), bits 5-7 window bits - 8.
- FuzzHandshake: [chunking/limit byte] + an HTTP head.
- FuzzDeflate:   [window/takeover/level/limit byte, chunk/cut byte] + payload.
"""
import hashlib
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus")


def frame(opcode, payload=b"", fin=True, rsv=0, key=None):
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if key is not None else 0
    n = len(payload)
    if n <= 125:
        header = bytes([first, mask_bit | n])
    elif n <= 0xFFFF:
        header = bytes([first, mask_bit | 126]) + struct.pack(">H", n)
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack(">Q", n)
    if key is None:
        return header + payload
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # RFC 6455 §5.7


def deflate_message(data, wbits=15):
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def streams():
    """(name, unmasked server-to-client stream) pairs; each also goes masked (client to server)."""
    hello = b"Hello"
    s = []
    # RFC 6455 §5.7 examples.
    s.append(("single-text", [(0x1, hello, True, 0)]))
    s.append(("fragmented-text", [(0x1, b"Hel", False, 0), (0x0, b"lo", True, 0)]))
    s.append(("ping-hello", [(0x9, hello, True, 0)]))
    s.append(("pong-hello", [(0xA, hello, True, 0)]))
    s.append(("binary-256", [(0x2, bytes(range(256)), True, 0)]))
    s.append(("binary-empty", [(0x2, b"", True, 0)]))
    s.append(("text-empty", [(0x1, b"", True, 0)]))
    s.append(("interleaved-ping", [(0x1, b"Hel", False, 0), (0x9, b"p", True, 0), (0x0, b"lo", True, 0)]))
    s.append(("three-fragments", [(0x2, b"ab", False, 0), (0x0, b"", False, 0), (0x0, b"cd", True, 0)]))
    s.append(("utf8-split", [(0x1, "κό".encode()[:3], False, 0), (0x0, "κό".encode()[3:], True, 0)]))
    s.append(("invalid-utf8", [(0x1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", True, 0)]))
    s.append(("close-1000", [(0x8, close_payload(1000, b"bye"), True, 0)]))
    s.append(("close-empty", [(0x8, b"", True, 0)]))
    s.append(("close-one-byte", [(0x8, b"\x03", True, 0)]))
    s.append(("close-1005", [(0x8, close_payload(1005), True, 0)]))
    s.append(("close-bad-reason", [(0x8, close_payload(1000, b"\xff"), True, 0)]))
    s.append(("text-then-close", [(0x1, hello, True, 0), (0x8, close_payload(1001), True, 0)]))
    s.append(("reserved-opcode", [(0x3, b"x", True, 0)]))
    s.append(("rsv2-set", [(0x1, hello, True, 0b010)]))
    s.append(("fragmented-ping", [(0x9, b"x", False, 0)]))
    s.append(("unexpected-continuation", [(0x0, b"x", True, 0)]))
    s.append(("expected-continuation", [(0x1, b"a", False, 0), (0x1, b"b", True, 0)]))
    s.append(("long-ping", [(0x9, b"p" * 126, True, 0)]))
    s.append(("text-300", [(0x1, b"a" * 300, True, 0)]))
    # RFC 7692 §7.2.3 compressed frames.
    s.append(("deflate-hello", [(0x1, bytes.fromhex("f248cdc9c90700"), True, 0b100)]))
    s.append(("deflate-hello-fragmented",
              [(0x1, bytes.fromhex("f248cd"), False, 0b100), (0x0, bytes.fromhex("c9c90700"), True, 0)]))
    s.append(("deflate-hello-twice-shared-window",
              [(0x1, bytes.fromhex("f248cdc9c90700"), True, 0b100), (0x1, bytes.fromhex("f200110000"), True, 0b100)]))
    s.append(("deflate-no-compression-block", [(0x1, bytes.fromhex("0005 00fa ff48 656c 6c6f 00".replace(" ", "")), True, 0b100)]))
    s.append(("deflate-bfinal", [(0x1, bytes.fromhex("f348cdc9c90700"), True, 0b100)]))
    s.append(("deflate-two-blocks", [(0x1, bytes.fromhex("f248050000ffffcac9c90700"), True, 0b100)]))
    s.append(("deflate-empty", [(0x1, b"\x00", True, 0b100)]))
    s.append(("deflate-binary-1k", [(0x2, deflate_message(bytes(range(256)) * 4), True, 0b100)]))
    s.append(("deflate-bomb", [(0x2, deflate_message(b"\x00" * 200000), True, 0b100)]))
    s.append(("deflate-corrupt", [(0x1, b"\xff\xff\xff\xff", True, 0b100)]))
    s.append(("deflate-window-8", [(0x1, deflate_message(b"abcdefgh" * 64, wbits=9), True, 0b100)]))
    s.append(("deflate-rsv1-continuation",
              [(0x1, bytes.fromhex("f248cd"), False, 0b100), (0x0, bytes.fromhex("c9c90700"), True, 0b100)]))
    s.append(("deflate-invalid-utf8", [(0x1, deflate_message(b"ok\xc3\x28"), True, 0b100)]))
    s.append(("deflate-ping-between",
              [(0x1, bytes.fromhex("f248cd"), False, 0b100), (0x9, b"", True, 0), (0x0, bytes.fromhex("c9c90700"), True, 0)]))
    return s


def frames_corpus():
    files = {}
    for name, parts in streams():
        compressed = any(rsv & 0b100 for _, _, _, rsv in parts)
        unmasked = b"".join(frame(op, p, fin, rsv) for op, p, fin, rsv in parts)
        masked = b"".join(frame(op, p, fin, rsv, KEY) for op, p, fin, rsv in parts)
        # Configuration bytes: roomy limits (3) or small ones (0, 1, 2); deflate on for compressed streams
        # (window 15 for both: bits 5-7 = 7), sometimes without context takeover.
        configs = [0b111 | 0b1110_0000, 0b100 | 0b1110_0000 | 0b1_1000, 0b101 | 0b1110_0000] if compressed else [0b11, 0b00, 0b10]
        # Masked frames are what a server engine reads, unmasked what a client reads; the target feeds
        # each input to both roles. Chunking 0x02 cuts at random sizes up to 200, 0x05 in pieces of 1-7.
        for config in configs[:2]:
            for chunking, stream in ((0x02, unmasked), (0x05, masked)):
                files[f"{name}-c{config:02x}-k{chunking:02x}-{'masked' if stream is masked else 'unmasked'}"] = (
                    bytes([config, chunking]) + stream)
        # The other role's view too (masked frames to a client are a violation, and the reverse).
        files[f"{name}-other-role"] = bytes([configs[0], 0x02]) + (unmasked + masked)
    return files


REQUEST = (b"GET /chat HTTP/1.1\r\n"
           b"Host: server.example.com\r\n"
           b"Upgrade: websocket\r\n"
           b"Connection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Origin: http://example.com\r\n"
           b"Sec-WebSocket-Protocol: chat, superchat\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")

RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            b"Sec-WebSocket-Protocol: chat\r\n\r\n")


def handshake_corpus():
    heads = {
        "rfc6455-1.3-request": REQUEST,
        "rfc6455-1.3-response": RESPONSE,
        "request-deflate-offer": REQUEST.replace(
            b"\r\n\r\n",
            b"\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, "
            b"permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n\r\n"),
        "request-deflate-quoted": REQUEST.replace(
            b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"12\"\r\n\r\n"),
        "response-deflate": RESPONSE.replace(
            b"\r\n\r\n",
            b"\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
            b"client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9\r\n\r\n"),
        "response-deflate-plain": RESPONSE.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
        "response-404": b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        "response-no-reason": b"HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        "request-leading-crlf": b"\r\n\r\n" + REQUEST,
        "request-pipelined-frame": REQUEST + frame(0x1, b"Hello", key=KEY),
        "request-obs-fold": REQUEST.replace(b"Origin:", b" Origin:"),
        "request-space-before-colon": REQUEST.replace(b"Origin:", b"Origin :"),
        "request-bare-lf": REQUEST.replace(b"\r\nOrigin", b"\nOrigin"),
        "request-http10": REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0"),
        "request-http2": REQUEST.replace(b"HTTP/1.1", b"HTTP/2.0"),
        "request-post": REQUEST.replace(b"GET", b"POST"),
        "request-version-8": REQUEST.replace(b"Version: 13", b"Version: 8"),
        "request-two-hosts": REQUEST.replace(b"Host:", b"Host: a\r\nHost:"),
        "request-body": REQUEST.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\n"),
        "request-bad-key": REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"short=="),
        "request-obs-text": REQUEST.replace(b"http://example.com", b"http://ex\xe4mple.com"),
        "request-connection-list": REQUEST.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade"),
        "extensions-only": b"permessage-deflate; a=\"b\\\"c\"; d, x-webkit-deflate-frame",
    }
    files = {}
    for name, head in heads.items():
        for seed in (0x00, 0x01, 0x85):
            files[f"{name}-s{seed:02x}"] = bytes([seed]) + head
    return files


def deflate_corpus():
    files = {}
    payloads = {
        "hello": bytes.fromhex("f248cdc9c90700"),
        "hello-bfinal": bytes.fromhex("f348cdc9c90700"),
        "stored": bytes.fromhex("000500faff48656c6c6f00"),
        "two-blocks": bytes.fromhex("f248050000ffffcac9c90700"),
        "empty": b"\x00",
        "text": deflate_message(b"The quick brown fox jumps over the lazy dog. " * 20),
        "bomb": deflate_message(b"\x00" * 300000),
        "corrupt": b"\xff\xfe\xfd\xfc\xfb",
        "plain-text": b"Hello, WebSocket! " * 10,
        "binary": bytes(range(256)),
    }
    for name, payload in payloads.items():
        for config in (0b0000_0111, 0b0101_1111, 0b1000_0111, 0b1111_0001, 0b0100_0111):
            files[f"{name}-c{config:02x}"] = bytes([config, 0x9F]) + payload
    return files


def write(target, files):
    directory = os.path.join(ROOT, target)
    os.makedirs(directory, exist_ok=True)
    for old in os.listdir(directory):
        os.remove(os.path.join(directory, old))
    for name, data in sorted(files.items()):
        assert len(data) < 4096, (name, len(data))
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(files)} files")


if __name__ == "__main__":
    write("FuzzFrames", frames_corpus())
    write("FuzzHandshake", handshake_corpus())
    write("FuzzDeflate", deflate_corpus())
