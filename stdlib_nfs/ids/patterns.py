"""IDS rule patterns as Hyperscan expressions, and their check by Hyperscan itself.

Every `content` becomes an expression of `\\xHH` escapes (so any byte is safe),
with Hyperscan's extended parameters for offset and depth: a content of L
bytes with offset o and depth d must end between o + L and o + d bytes into
the stream, exactly Snort's "starts at or after o, lies within d bytes of o".
Every expression is compiled with HS_FLAG_SINGLEMATCH: the IDS only needs to
know that a pattern occurred, once per stream.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

from .rules import Content, Pcre

HS_FLAG_CASELESS = 1
HS_FLAG_DOTALL = 2
HS_FLAG_MULTILINE = 4
HS_FLAG_SINGLEMATCH = 8
HS_EXT_FLAG_MIN_OFFSET = 1
HS_EXT_FLAG_MAX_OFFSET = 2


@dataclass(frozen=True)
class HsExpression:
    expression: bytes
    flags: int
    min_offset: int  # 0: none
    max_offset: int  # 0: none

    @property
    def ext_flags(self) -> int:
        return ((HS_EXT_FLAG_MIN_OFFSET if self.min_offset else 0)
                | (HS_EXT_FLAG_MAX_OFFSET if self.max_offset else 0))


def hs_expression(p: Content | Pcre) -> HsExpression:
    if isinstance(p, Content):
        expr = "".join(f"\\x{b:02x}" for b in p.pattern).encode("ascii")
        flags = HS_FLAG_SINGLEMATCH | (HS_FLAG_CASELESS if p.nocase else 0)
        constrained = p.offset is not None or p.depth is not None
        start = p.offset or 0
        return HsExpression(expr, flags, start + len(p.pattern) if constrained else 0,
                            start + p.depth if p.depth is not None else 0)
    flags = (HS_FLAG_SINGLEMATCH | (HS_FLAG_CASELESS if "i" in p.flags else 0)
             | (HS_FLAG_DOTALL if "s" in p.flags else 0) | (HS_FLAG_MULTILINE if "m" in p.flags else 0))
    return HsExpression(p.source.encode("utf-8"), flags, 0, 0)


class _ExprExt(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_ulonglong), ("min_offset", ctypes.c_ulonglong),
                ("max_offset", ctypes.c_ulonglong), ("min_length", ctypes.c_ulonglong),
                ("edit_distance", ctypes.c_uint), ("hamming_distance", ctypes.c_uint)]


class _CompileError(ctypes.Structure):
    _fields_ = [("message", ctypes.c_char_p), ("expression", ctypes.c_int)]


_LIB: list = []


def _libhs():
    """libhs through ctypes, or None where Hyperscan is not installed."""
    if not _LIB:
        name = ctypes.util.find_library("hs")
        lib = None
        if name:
            try:
                lib = ctypes.CDLL(name)
                lib.hs_expression_ext_info.argtypes = [
                    ctypes.c_char_p, ctypes.c_uint, ctypes.POINTER(_ExprExt),
                    ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.POINTER(_CompileError))]
                lib.hs_free_compile_error.argtypes = [ctypes.POINTER(_CompileError)]
            except (OSError, AttributeError):
                lib = None
        _LIB.append(lib)
    return _LIB[0]


def hyperscan_error(p: Content | Pcre) -> str | None:
    """Hyperscan's objection to a pattern, or None (also where Hyperscan is missing:
    the native build then reports it)."""
    lib = _libhs()
    if lib is None:
        return None
    e = hs_expression(p)
    ext = _ExprExt(e.ext_flags, e.min_offset, e.max_offset, 0, 0, 0)
    info = ctypes.c_void_p()
    err = ctypes.POINTER(_CompileError)()
    rc = lib.hs_expression_ext_info(e.expression, e.flags, ctypes.byref(ext), ctypes.byref(info),
                                    ctypes.byref(err))
    if rc == 0:
        ctypes.CDLL(None).free(info)
        return None
    message = err.contents.message.decode("utf-8", "replace") if err else f"error {rc}"
    if err:
        lib.hs_free_compile_error(err)
    return message
