"""Raw edgeml socket protocol (src/ipc/proto.h) for test peers: frames are a
16-byte header (len u32, type u8, flags u8, nf u16, id u64; host order) then
nf fields of (u32 length, bytes)."""
import socket
import struct

HELLO, WELCOME, ERROR, MSG, DONE, PUBLISH, NACK, INVOKE, RESULT, ACL, BYE = range(1, 12)
CTL_STATUS, CTL_DEPLOY, CTL_PUBLISH, CTL_SUBSCRIBE, CTL_INVOKE, CTL_REPLY = range(32, 38)
F_INVOKE, F_REPLY, F_ERROR = 1, 2, 4
HDR = struct.Struct("=IBBHQ")


def encode(typ, fields, flags=0, ident=0):
    body = b"".join(struct.pack("=I", len(f)) + f for f in fields)
    return HDR.pack(len(body), typ, flags, len(fields), ident) + body


class Conn:
    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, typ, fields, flags=0, ident=0):
        self.s.sendall(encode(typ, [f if isinstance(f, bytes) else f.encode() for f in fields],
                              flags, ident))

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("core closed the connection")
            self.buf += d

    def recv(self):
        """(type, flags, id, [fields as bytes])"""
        self._need(16)
        ln, typ, flags, nf, ident = HDR.unpack(self.buf[:16])
        self._need(16 + ln)
        body, self.buf = self.buf[16:16 + ln], self.buf[16 + ln:]
        fields, o = [], 0
        for _ in range(nf):
            (n,) = struct.unpack("=I", body[o:o + 4])
            fields.append(body[o + 4:o + 4 + n])
            o += 4 + n
        return typ, flags, ident, fields

    def request(self, typ, fields, flags=0, ident=1):
        self.send(typ, fields, flags, ident)
        return self.recv()

    def close(self):
        self.s.close()
