"""Redis's way of quoting bytes for humans (``sdscatrepr``), used by MONITOR and CONFIG REWRITE."""

from __future__ import annotations

_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t",
            ord("\a"): "\\a", ord("\b"): "\\b"}  # fmt: skip


def sds_repr(data: bytes) -> str:
    """``data`` in double quotes, with C escapes and ``\\xHH`` for other non-printable bytes."""
    out = ['"']
    for byte in data:
        escaped = _ESCAPES.get(byte)
        if escaped is not None:
            out.append(escaped)
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append("\\x%02x" % byte)
    out.append('"')
    return "".join(out)
