"""A raw peer of the core's socket protocol (src/ipc/proto.h), written from
the header's text: used where the tests must bypass the SDK and the CLI (a
function that publishes without the SDK's local check, a stolen or bogus
token, the control STATUS call when the CLI does not show it)."""
import os
import select
import socket
import struct
import time

HDR = struct.Struct("=IBBHQ")  # len, type, flags, nf, id: 16 bytes, host order
assert HDR.size == 16

T = dict(HELLO=1, WELCOME=2, ERROR=3, MSG=4, DONE=5, PUBLISH=6, NACK=7, INVOKE=8, RESULT=9,
         ACL=10, BYE=11, CTL_STATUS=32, CTL_DEPLOY=33, CTL_PUBLISH=34, CTL_SUBSCRIBE=35,
         CTL_INVOKE=36, CTL_REPLY=37)
NAMES = {v: k for k, v in T.items()}
F_INVOKE, F_REPLY, F_ERROR = 1, 2, 4


def b(x):
    return x if isinstance(x, bytes) else str(x).encode()


def encode(typ, fields, fid=0, flags=0):
    """One frame's bytes; typ is a number or a name of T."""
    body = b"".join(struct.pack("=I", len(b(f))) + b(f) for f in fields)
    return HDR.pack(len(body), T[typ] if isinstance(typ, str) else typ, flags, len(fields),
                    fid) + body


class Frame:
    def __init__(self, typ, flags, fid, fields):
        self.type, self.flags, self.id, self.fields = typ, flags, fid, fields

    @property
    def name(self):
        return NAMES.get(self.type, str(self.type))

    def text(self, i):
        return self.fields[i].decode("utf-8", "replace")

    def __repr__(self):
        return f"<{self.name} id={self.id} flags={self.flags} {self.fields!r}>"


class Conn:
    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, typ, fields, fid=0, flags=0):
        self.s.sendall(encode(typ, fields, fid, flags))

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                continue
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed by the core")
            self.buf += d

    def recv(self, timeout=10.0):
        """One frame, or TimeoutError / ConnectionError."""
        deadline = time.monotonic() + timeout
        self._fill(16, deadline)
        ln, typ, flags, nf, fid = HDR.unpack(self.buf[:16])
        if ln > (16 << 20):
            raise ValueError(f"frame body of {ln} bytes")
        self._fill(16 + ln, deadline)
        body, self.buf = self.buf[16:16 + ln], self.buf[16 + ln:]
        fields, off = [], 0
        for _ in range(nf):
            (fl,) = struct.unpack_from("=I", body, off)
            off += 4
            fields.append(body[off:off + fl])
            off += fl
        if off != ln:
            raise ValueError(f"{NAMES.get(typ, typ)}: fields do not fill the body")
        return Frame(typ, flags, fid, fields)


def ctl(sock_path, typ, fields, fid=1, flags=0, timeout=10.0):
    """One control request -> its first reply frame."""
    c = Conn(sock_path, timeout)
    try:
        c.send(typ, fields, fid, flags)
        return c.recv(timeout)
    finally:
        c.close()


def hello(sock_path, token, timeout=10.0):
    """Connects as a function with token: (conn, first frame or exception)."""
    c = Conn(sock_path, timeout)
    c.send("HELLO", [token, "1"])
    try:
        return c, c.recv(timeout)
    except (TimeoutError, ConnectionError, OSError, ValueError) as e:
        return c, e


def env_socket():
    return os.environ.get("EDGEML_CORE_SOCKET", "")
