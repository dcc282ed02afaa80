"""The router tests' view of the raw protocol peer (tests/common/ipcraw.py):
names as constants, recv() returning (type, flags, id, [fields as bytes]) and
raising EOFError once the core closed the connection."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import ipcraw  # noqa: E402

HDR = ipcraw.HDR
HELLO, WELCOME, ERROR, MSG, DONE, PUBLISH, NACK, INVOKE, RESULT, ACL, BYE = range(1, 12)
CTL_STATUS, CTL_DEPLOY, CTL_PUBLISH, CTL_SUBSCRIBE, CTL_INVOKE, CTL_REPLY = range(32, 38)
F_INVOKE, F_REPLY, F_ERROR = ipcraw.F_INVOKE, ipcraw.F_REPLY, ipcraw.F_ERROR


def encode(typ, fields, flags=0, ident=0):
    return ipcraw.encode(typ, fields, ident, flags)


class Conn(ipcraw.Conn):
    def __init__(self, path, timeout=10.0):
        super().__init__(path, timeout)
        self.timeout = timeout

    def send(self, typ, fields, flags=0, ident=0):
        super().send(typ, fields, ident, flags)

    def recv(self):
        """(type, flags, id, [fields as bytes])"""
        try:
            f = super().recv(self.timeout)
        except ConnectionError as e:
            raise EOFError(str(e)) from None
        return f.type, f.flags, f.id, f.fields

    def request(self, typ, fields, flags=0, ident=1):
        self.send(typ, fields, flags, ident)
        return self.recv()
