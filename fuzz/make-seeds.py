#!/usr/bin/env python3
"""Writes the hand-made seed corpus under corpus/<Fuzzer>/. Run from fuzz/; the output is committed."""
import os, struct

def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)

def write(fuzzer, name, data):
    os.makedirs(f"corpus/{fuzzer}", exist_ok=True)
    with open(f"corpus/{fuzzer}/{name}", "wb") as f:
        f.write(data)

def request(opcode, filename, mode, options=()):
    body = filename + b"\0" + mode + b"\0"
    for k, v in options:
        body += k + b"\0" + v + b"\0"
    return u16(opcode) + body

# PacketDecoderFuzzer: raw datagrams, one per kind.
P = "PacketDecoderFuzzer"
write(P, "rrq-octet", request(1, b"pxelinux.0", b"octet"))
write(P, "rrq-options", request(1, b"boot/grubx64.efi", b"octet",
      [(b"blksize", b"1468"), (b"tsize", b"0"), (b"timeout", b"3"), (b"windowsize", b"16")]))
write(P, "rrq-netascii-upper", request(1, b"README.txt", b"NetASCII", [(b"BLKSIZE", b"512")]) + b"\0\0")
write(P, "wrq-octet", request(2, b"upload.bin", b"octet"))
write(P, "data", u16(3) + u16(1) + b"hello, world\n" * 4)
write(P, "data-empty", u16(3) + u16(65535))
write(P, "ack", u16(4) + u16(7))
write(P, "error", u16(5) + u16(1) + b"File not found\0")
write(P, "error-no-nul", u16(5) + u16(8) + b"tsize probe")
write(P, "oack", u16(6) + b"blksize\0" + b"1428\0" + b"tsize\0" + b"1048576\0")

# NegotiationFuzzer: maxBlock(u32: v+100) maxWindow(u32: v+10) override?(u8, nonzero low nibble = no)
# cap?(u8 bool [u32: v+100]) sizeMode(u8: bit 1 = size unknown, no size follows; else bit 0 = u64) [size(u32 or u64)]
# then options: name(u8 selector, u16 case mask) value(...)
N = "NegotiationFuzzer"
def limits(block, window, cap=None, size=0):   # size None: not known up front (tsize is not acknowledged)
    out = u32(block + 100) + u32(window + 10) + u8(1)
    out += (u8(1) + u32(cap + 100)) if cap is not None else u8(0)
    return out + (u8(2) if size is None else u8(0) + u32(size))
def known(index, mask=0):   # selector % 8 == 0 -> known name, (selector / 8) % 4 picks it
    return u8(index * 8) + u16(mask)
def number16(v):            # value selector 1: decimal of a u16
    return u8(1) + u16(v)
BLK, TIMEOUT, TSIZE, WINDOW = range(4)
write(N, "pxe-typical", limits(65464, 64, size=123456) + known(BLK) + number16(1468) + known(TSIZE) + number16(0))
write(N, "uefi-window", limits(1468, 16, cap=1428, size=4 << 20) + known(BLK) + number16(65464)
      + known(WINDOW) + number16(64) + known(TIMEOUT) + number16(1) + known(TSIZE) + number16(0))
write(N, "repeated-mixed-case", limits(512, 1) + known(BLK, 0x7F) + number16(4) + known(BLK) + number16(1024)
      + known(TIMEOUT, 0x01) + number16(300))
write(N, "netascii-size-unknown", limits(1468, 64, size=None) + known(TSIZE) + number16(0) + known(BLK) + number16(1468))
write(N, "window-protocol-cap", limits(1468, 32767) + known(WINDOW) + number16(65535) + known(TSIZE) + number16(0))

# TransferFuzzer: sizeMode(u8, %8>=2 small; bit 7 = size unknown, the model streams and reports the end)
# size(u16 % 4097) blockSizeMode(u8 nonzero) blockSize(u8: v+1) windowMode(u8 nonzero) window(u8: v+1) oack(u8)
# initial(u16: v+5) boundedMax(u8 1) max(u16: v+5) maxRetrans(u8: v+2) fixed(u8, odd = negotiated timeout)
# startTime(u32), then events: step(u8: <128 ms, <224 (v-128)*16 ms, else (v-224)*512 ms) op(u8):
# op % 10: 0-4 ACK (op/10 % 5: 0 = highest sent, 1 = acked+u8, 2 = acked-u8 (0: a duplicate), 3 = acked+u32, 4 = u16;
# bit 7 = via receive(_:now:)), then, if the ACK made the machine send, u8 (odd: the same ACK again at once);
# 5-6 timer; 7 ERROR; 8 stray packet; 9 start again, or with bit 7 endOfData(atBlock:) (kind u8: 0 block 0,
# 1 <= acked [u8], 2 another end [u8 once the end is known], 3 the real end).
T = "TransferFuzzer"
def machine(size, block, window, oack, retrans=3, initial=1000, maximum=8000, fixed=False, streaming=False):
    return (u8(0x82 if streaming else 2) + u16(size) + u8(1) + u8(block + 1) + u8(1) + u8(window + 1)
            + u8(1 if oack else 0) + u16(initial + 5) + u8(1) + u16(maximum + 5) + u8(retrans + 2)
            + u8(1 if fixed else 0) + u32(1_000_000))
def ms(v):                  # the step byte for v milliseconds
    if v < 128: return u8(v)
    if v % 16 == 0 and v // 16 < 96: return u8(128 + v // 16)
    assert v % 512 == 0 and v // 512 < 32, v
    return u8(224 + v // 512)
def at(step, event): return ms(step) + event
ACK_NEXT = u8(0) + u8(0)                # ACK for the highest block sent (acted on; no repeat)
ACK_NEXT_TWICE = u8(150) + u8(1)        # the same via receive(.acknowledgement) (150: % 10 = 0, / 10 % 5 = 0, bit 7), then again at once
def ACK_AHEAD(n): return u8(10) + u8(n) + u8(0)   # ACK for acked + n, inside the window (acted on)
DUP_IGNORED = u8(20) + u8(0)            # a duplicate of the highest ACK, within a timeout period of the last send
DUP_RESEND = u8(20) + u8(0) + u8(0)     # the same once a timeout period has passed: it re-sends
TIMER = u8(5)
def END_OF_DATA(kind, extra=b""): return u8(139) + u8(kind) + extra
write(T, "lockstep", machine(100, 16, 1, False) + at(1, ACK_NEXT) * 8)
write(T, "oack-window", machine(1000, 32, 4, True) + at(2, ACK_NEXT) + at(1, ACK_NEXT_TWICE) * 6 + at(1024, TIMER)
      + at(3, ACK_NEXT) * 4)
write(T, "timeouts", machine(64, 8, 2, False, retrans=2) + at(1024, TIMER) + at(2048, TIMER) + at(4096, TIMER))
write(T, "size-probe", machine(4096, 64, 8, True) + at(1, u8(7) + u8(1) + u8(0)))
# 16 MiB in 8-byte blocks, window 65535 (capped to 32767): ACK 1, then a stale ACK 0 that must not pass for block 65536.
write(T, "stale-ack-window-65535", u8(1) + u32(0x01000000) + u8(1) + u8(9) + u8(0) + u32(65538) + u8(0)
      + u16(1005) + u8(1) + u16(8005) + u8(5) + u8(0) + u32(1_000_000)
      + at(1, u8(41) + u16(1) + u8(0)) + at(1, u8(0) + u8(0)) + at(1, u8(21) + u8(1)))
# Timing: a lost DATA recovered by the client's duplicate ACK once a timeout period (50 ms) has passed, not before.
write(T, "duplicate-ack-after-timeout", machine(2000, 16, 1, False) + at(1, ACK_NEXT) * 6 + at(10, DUP_IGNORED)
      + at(39, DUP_IGNORED) + at(5, DUP_RESEND) + at(1, DUP_IGNORED) + at(60, DUP_RESEND) + at(1, ACK_NEXT) * 4)
# A client that keeps re-sending its ACK while our DATA never arrives stays alive far past the retry limit,
# then silence ends it (after 700 ms of timeouts: 100 + 200 + 400).
write(T, "duplicates-keep-alive", machine(4000, 32, 2, True, retrans=2, initial=100, maximum=400) + at(1, ACK_NEXT)
      + (at(400, TIMER) + at(1, DUP_IGNORED)) * 10 + at(400, TIMER) * 4)
# A negotiated timeout: fixed, whatever the round trip.
write(T, "fixed-timeout", machine(3000, 64, 4, True, initial=3000, fixed=True) + at(1, ACK_NEXT) * 3
      + at(3072, TIMER) + at(3, DUP_IGNORED) + at(3072, DUP_RESEND) + at(1, ACK_NEXT) * 3)
# Round trips from sub-millisecond to seconds: the timeout follows them between the 50 ms floor and the ceiling.
write(T, "varying-round-trips", machine(4096, 8, 1, True) + at(0, ACK_NEXT) * 4 + at(120, ACK_NEXT) + at(1024, ACK_NEXT)
      + at(5120, ACK_NEXT) + at(15872, ACK_NEXT) + at(0, ACK_NEXT) * 8 + at(64, TIMER) + at(7, ACK_NEXT))
# A loss inside a window: the ACK inside it, its copies, then the re-sent rest lost again.
write(T, "window-loss", machine(4096, 32, 8, False) + at(1, ACK_NEXT) + at(1, ACK_AHEAD(3)) + at(1, DUP_IGNORED) * 4
      + at(64, DUP_RESEND) + at(1, DUP_IGNORED) + at(100, TIMER) + at(1, ACK_NEXT) * 6)
# Unknown sizes (netascii converted while sending).
write(T, "streaming-lockstep", machine(100, 16, 1, False, streaming=True) + at(1, ACK_NEXT) * 8)
write(T, "streaming-empty-last-block", machine(256, 64, 8, False, streaming=True) + at(1024, TIMER)
      + at(1, ACK_AHEAD(2)) + at(1, ACK_NEXT) * 3)
write(T, "streaming-end-mid-window", machine(1000, 64, 3, True, streaming=True) + at(1, ACK_NEXT)
      + at(2, ACK_NEXT_TWICE) * 6 + at(60, DUP_RESEND) + at(1, ACK_NEXT) * 2)
write(T, "streaming-nonsense-end", machine(3000, 32, 4, False, streaming=True) + at(1, END_OF_DATA(0))
      + at(1, ACK_NEXT) + at(1, END_OF_DATA(1, u8(3))) + at(1, END_OF_DATA(2)) + at(1, END_OF_DATA(3))
      + at(1, END_OF_DATA(2, u8(1))) + at(1, ACK_NEXT) * 3 + at(1024, TIMER) + at(1, ACK_NEXT) * 2 + at(1, END_OF_DATA(3)))
# 799997 bytes in 8-byte blocks, window 32767: the streamed end lies past the 16-bit roll-over.
write(T, "streaming-rollover-window-32767", u8(0x81) + u32(799_997) + u8(1) + u8(9) + u8(0) + u32(32770) + u8(0)
      + u16(1005) + u8(1) + u16(8005) + u8(5) + u8(0) + u32(1_000_000)
      + at(1, ACK_NEXT) * 2 + at(2, u8(21) + u8(4)) + at(1, ACK_NEXT) * 8)

# NetasciiFuzzer: seed(u64) blockSizeMode(u8, odd = fixed) [blockSize u8] then the text.
A = "NetasciiFuzzer"
write(A, "unix-text", u64(1) + u8(0) + b"line one\nline two\n\nend")
write(A, "crlf-and-bare-cr", u64(2) + u8(1) + u8(3) + b"dos\r\nmac\rmixed\n\r\n\r\0\r")
write(A, "binary", u64(3) + u8(0) + bytes(range(256)))

# PathFuzzer and StoreFuzzer: the input is the file name's bytes. Hostile names, the fixture's traps
# (see the fixture in Sources/PathFuzzer/PathFuzzer.swift) and plain ones.
HOSTILE = {
    "dotdot": b"../x", "dotdot-secret": b"../secret", "absolute-etc-passwd": b"/etc/passwd", "absolute-in-root": b"/a.bin",
    "dotdot-middle": b"a/../../x", "dotdot-trailing": b"sub/..", "backslash-dotdot": b"..\\..\\secret",
    "backslash-path": b"sub\\b.bin", "backslash-leading": b"\\a.bin", "percent-dots": b"%2e%2e", "percent-dots-path": b"%2e%2e/secret",
    "nul-inside": b"a.bin\0.txt", "invalid-utf8": b"caf\xe9", "invalid-utf8-overlong-dot": b"\xc0\xae\xc0\xae/secret",
    "dot": b".", "dot-slash": b"./a.bin", "dots-inside": b"sub/./deeper/./c.bin", "three-dots": b"...",
    "double-slash": b"//", "double-slash-path": b"sub//b.bin", "trailing-slash": b"sub/", "slash": b"/", "empty": b"",
    "long-component": b"a" * 300, "long-component-255": b"b" * 255, "long-path": b"sub/" * 1100 + b"a.bin",
    "link-in": b"link-in", "link-out": b"link-out", "link-abs": b"link-abs", "link-abs-inside": b"link-abs-inside",
    "link-outdir": b"link-outdir/file", "link-parent": b"link-parent/secret", "dirlink": b"dirlink/b.bin",
    "deeplink-back": b"deeplink/back", "self-self": b"self/self/a.bin", "sub-up": b"sub/up", "sub-escape": b"sub/escape",
    "loop": b"loop", "loop-pair": b"loop-a", "dangling": b"dangling", "dangling-out": b"dangling-out", "dangling-in": b"dangling-in",
    "fifo": b"fifo", "link-fifo": b"link-fifo", "private": b"private.bin", "link-private": b"link-private",
    "file-as-directory": b"a.bin/x", "emptydir": b"emptydir", "new-directory": b"new/dir/file.bin",
    "upload-temporary": b".volley-upload-0123abcd", "spaces": b"name with spaces", "hidden": b".hidden",
    "pxe": b"pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", "uefi": b"\\EFI\\BOOT\\grubx64.efi",
}
for name, data in HOSTILE.items():
    write("PathFuzzer", name, data)
    write("StoreFuzzer", name, data)

# ConfigurationFuzzer: volley.yaml text.
C = "ConfigurationFuzzer"
with open("../packaging/volley.yaml", "rb") as f:
    write(C, "packaged-volley-yaml", f.read())
write(C, "readme-example", b'root_dir: /srv/tftp\nhost: "0.0.0.0"\nport: 69\nmax_block_size: 1468\nmax_window_size: 16\nretransmit_timeout_ms: 500\n')
write(C, "every-kind", b"root_dir: 42\nhost: ~\nmtu_clamp: off\nsingle_port: yes\nlog_level: DEBUG\nlog_format: json\n"
      b"retransmit_timeout_ms: 20000\nmax_retransmit_timeout_ms: 100\nmax_retries: 0x10\ndrain_timeout_ms: -1\n")
write(C, "empty", b"")
write(C, "comment-only", b"# nothing set\n")
write(C, "typo", b"max_blocksize: 1468\n")
write(C, "unknown-far", b"completely_unrelated: 1\n")
write(C, "wrong-kind", b"port: sixty-nine\n")
write(C, "float", b"max_block_size: 1468.5\n")
write(C, "huge-integer", b"port: 99999999999999999999999\n")
write(C, "not-a-mapping", b"- root_dir: /srv\n- port: 69\n")
write(C, "scalar", b"just a string\n")
write(C, "broken-indent", b"root_dir: /srv\n  port: 69\n")
write(C, "unclosed-quote", b'host: "0.0.0.0\n')
write(C, "tab-indent", b"root_dir:\n\t/srv\n")
write(C, "duplicate-key", b"port: 69\nport: 70\n")
write(C, "anchors", b"base: &b 69\nport: *b\n")
write(C, "alias-bomb", b'a: &a ["x","x","x"]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\nport: *c\n')
write(C, "two-documents", b"port: 69\n---\nport: 70\n")
write(C, "flow-mapping", b"{root_dir: /srv, port: 0, mtu_clamp: false}\n")
write(C, "quoted-key-newline", b'"root\\ndir": /srv\n')
write(C, "escaped-key", b'"\\x72oot_dir": /srv\n')
write(C, "complex-key", b"? [a, b]\n: 1\n")
write(C, "integer-key", b"69: port\n")
write(C, "log-level-newline", b'log_level: "info\\nFAKE critical line"\n')
write(C, "tags", b"port: !!str 69\nmax_retries: !!int '3'\n")
write(C, "bom-crlf", b"\xef\xbb\xbfport: 69\r\nhost: ''\r\n")
# Known issues (README.md): reader errors quote the offending line raw, CR LF and control characters included.
write(C, "crlf-control-character", b"port: 69\r\nhost: a\x01b\r\n")
write(C, "form-feed-control-character", b"log_level: \x0c\x01info\n")
write(C, "nested-non-scalar-key", b"host: {? {a: 1}\n : 2}\n")
