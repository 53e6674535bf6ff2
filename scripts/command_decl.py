#!/usr/bin/env python3
"""Print ``@command(...)`` declarations for commands, read from a live redis-server's COMMAND.

A developer's aid: the arity, flags, ACL categories, tips and key specs of a command
are interface facts that must match Redis 7.0 exactly (clients route from them), so we
read them from the oracle instead of retyping them. Summaries are left for us to write.

    python scripts/command_decl.py --port 6379 get set client|setname
"""

from __future__ import annotations

import argparse
import socket

import hiredis


def implicit_acl(flags: list[str]) -> set[str]:
    """The ACL categories the command table derives from the flags (so they are not declared).

    Only those: FLUSHALL's @dangerous or LASTSAVE's @admin are explicit and must be kept.
    """
    derived = {"@slow"} if "fast" not in flags else {"@fast"}
    for flag, category in (("write", "@write"), ("readonly", "@read"), ("pubsub", "@pubsub"), ("blocking", "@blocking")):
        if flag in flags:
            derived.add(category)
    if "admin" in flags:
        derived |= {"@admin", "@dangerous"}
    return derived


def query(port: int, *args: str) -> object:
    sock = socket.create_connection(("127.0.0.1", port))
    payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)
    sock.sendall(payload)
    reader = hiredis.Reader()
    while (reply := reader.gets()) is False:
        reader.feed(sock.recv(1 << 20))
    sock.close()
    return reply


def decode(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def keyspec_source(spec: list) -> str:
    fields = dict(zip(spec[::2], spec[1::2]))
    parts = [repr(" ".join(fields["flags"]))]
    bs = dict(zip(fields["begin_search"][::2], fields["begin_search"][1::2]))
    bs_spec = dict(zip(bs["spec"][::2], bs["spec"][1::2])) if bs["spec"] else {}
    if bs["type"] == "index":
        parts.append(f"index={bs_spec['index']}")
    elif bs["type"] == "keyword":
        parts.append(f"keyword={bs_spec['keyword']!r}")
        parts.append(f"startfrom={bs_spec['startfrom']}")
    else:
        parts.append("unknown=True")
    fk = dict(zip(fields["find_keys"][::2], fields["find_keys"][1::2]))
    fk_spec = dict(zip(fk["spec"][::2], fk["spec"][1::2])) if fk["spec"] else {}
    if fk["type"] == "range":
        if fk_spec["lastkey"] != 0:
            parts.append(f"lastkey={fk_spec['lastkey']}")
        if fk_spec["keystep"] != 1:
            parts.append(f"keystep={fk_spec['keystep']}")
        if fk_spec["limit"] != 0:
            parts.append(f"limit={fk_spec['limit']}")
    elif fk["type"] == "keynum":
        parts.append(f"keynum=({fk_spec['keynumidx']}, {fk_spec['firstkey']}, {fk_spec['keystep']})")
    if "notes" in fields:
        parts.append(f"notes={fields['notes']!r}")
    return "KeySpec(" + ", ".join(parts) + ")"


def declaration(entry: list, docs: dict) -> str:
    name, arity, flags, _first, _last, _step, acl, tips, keyspecs, _subs = entry
    flags = [f for f in flags if f != "movablekeys"]
    acl = [a for a in acl if a not in implicit_acl(flags)]
    lines = [f'@command("{name}", {arity}, "{" ".join(flags)}", "{" ".join(acl)}"']
    if keyspecs:
        lines.append("    keys=[" + ", ".join(keyspec_source(ks) for ks in keyspecs) + "]")
    doc = docs.get(name, {})
    lines.append(f'    group="{doc.get("group", "generic")}", since="{doc.get("since", "1.0.0")}"')
    if tips:
        lines.append(f'    tips="{" ".join(tips)}"')
    return ",\n".join(lines) + ",\n    summary=\"\",\n)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("names", nargs="+")
    opts = parser.parse_args()
    for name in opts.names:
        container, _, sub = name.partition("|")
        info = decode(query(opts.port, "COMMAND", "INFO", container))[0]
        docs_raw = decode(query(opts.port, "COMMAND", "DOCS", container))
        docs_top = dict(zip(docs_raw[::2], docs_raw[1::2]))
        docs = {}
        for cname, d in docs_top.items():
            fields = dict(zip(d[::2], d[1::2]))
            docs[cname] = fields
            subs = fields.get("subcommands") or []
            for sname, sd in zip(subs[::2], subs[1::2]):
                docs[sname] = dict(zip(sd[::2], sd[1::2]))
        if sub:
            entry = next(e for e in info[9] if e[0] == name)
        else:
            entry = info
        print(declaration(entry, docs))
        print()


if __name__ == "__main__":
    main()
