"""The audit chain read from PostgreSQL with ``COPY ... TO STDOUT``, nearly ready to MAC.

Used by :mod:`wellbeing.core.audit_verify` on PostgreSQL. ``COPY`` streams: the server
produces rows while the verifier hashes the ones already received, instead of waiting on a
round trip per batch as a cursor does (on a machine of two cores, the server's formatting and
the verifier's hashing then run side by side). Memory stays that of one row.

The server also writes almost all of :func:`wellbeing.core.audit.canonical_values`: each row
comes as three text segments that the verifier joins with the row's two JSON columns (which
Python re-serialises canonically, cached by their stored text) and its sequence number::

    head + canonical(detail) + ',"fields":' + canonical(fields) + mid + str(seq) + tail

Text columns are ``to_json(column)`` (the server's JSON string escaping is byte for byte that
of Python's ``json.dumps(ensure_ascii=False)``), NULL is ``null``, UUIDs and the time are
formatted as the application writes them. Each segment is a one-to-one function of the columns
it covers (a JSON string ends at its first unescaped quote), so bytes that match the sealed MAC
mean the row holds what was sealed; a row whose bytes do not match is read again the slow,
reference way before it is called bad (see ``_walk``), so an unexpected form costs time only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import String, Text, cast, func, literal, literal_column, select
from sqlalchemy.engine import Dialect

from .audit import ENTRY_TABLE

_UUIDS = {"actor_user_id", "student_id", "school_id", "break_glass_id"}
_PG_TIME = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'  # = isoformat(timespec="microseconds") in UTC
# canonical_values() sorts its keys: the JSON columns and "seq" cut the document in three.
HEAD = ("action", "actor_role", "actor_scope", "actor_user_id", "actor_username",
        "break_glass_id")  # fmt: skip
MID = ("ip", "object_id", "object_type", "occurred_at", "outcome", "purpose", "request_id",
       "school_id")  # fmt: skip
TAIL = ("session_hash", "student_id", "user_agent")


def _json_text(name: str) -> Any:
    """The column as its JSON text, ``null`` for NULL, computed by the server."""
    col: Any = ENTRY_TABLE.c[name]
    text_: Any
    if name in _UUIDS:
        text_ = cast(col, Text)
    elif name == "occurred_at":
        text_ = func.to_char(func.timezone("UTC", col), _PG_TIME)
    else:
        return func.coalesce(cast(func.to_json(col), Text), "null")
    return func.coalesce(literal('"', String) + text_ + literal('"', String), "null")


def _segment(names: tuple[str, ...], before: str, after: str) -> Any:
    """``before "name1":value1,"name2":value2 ... after`` as one text expression."""
    parts: list[Any] = []
    for n, name in enumerate(names):
        parts.append(literal(f'{before if n == 0 else ","}"{name}":', String))
        parts.append(_json_text(name))
    parts.append(literal(after, String))
    expression = parts[0]
    for part in parts[1:]:
        expression = expression + part
    return expression


def segment_columns() -> list[Any]:
    """id, seq, mac (hex), head, detail, fields, mid, tail -- the columns :func:`payload` takes."""
    c = ENTRY_TABLE.c
    return [
        c.id, c.seq, func.encode(c.mac, literal_column("'hex'")),
        _segment(HEAD, "{", ',"detail":'), cast(c.detail, Text), cast(c.fields, Text),
        _segment(MID, ",", ',"seq":'), _segment(TAIL, ",", "}"),
    ]  # fmt: skip


def payload(row: Sequence[Any], seq: int, canonical_json: Any) -> bytes:
    """The canonical bytes of a row of :func:`segment_columns`; ``canonical_json`` maps a stored
    JSON text (or None) to its canonical form."""
    return (
        f'{row[3]}{canonical_json(row[4])},"fields":{canonical_json(row[5])}{row[6]}{seq}{row[7]}'
    ).encode()


# COPY's text format: a row per line, tab-separated, NULL as \N, and these escapes (the only
# ones it writes). A segment holds a backslash only where JSON escaped a character.
_ESCAPES = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
_ESCAPE = re.compile(r"\\(.)")


def _unescape(field: str) -> str | None:
    if field == "\\N":
        return None
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), field)


def iter_copy(driver: Any, dialect: Dialect, after: int) -> Iterator[tuple[Any, ...]]:
    """Sealed entries with ``seq > after`` in ``seq`` order as rows of :func:`segment_columns`
    (id and seq as int, the MAC as bytes or None), streamed by ``COPY`` on ``driver`` (a psycopg
    connection, inside the caller's transaction).

    One COPY row per entry: aggregating entries into fewer, larger rows on the server
    (string_agg over ranges of seq) was measured to cost the server twice the CPU it saves the
    client, and the server shares the machine's cores with the verifier."""
    seq = ENTRY_TABLE.c.seq
    query = select(*segment_columns()).where(seq > after).order_by(seq)
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    with driver.cursor() as cursor:
        # A walk that stops early cancels the COPY, which aborts the transaction: a savepoint
        # keeps the caller's transaction usable (it reads the row the slow way next).
        cursor.execute("SAVEPOINT wb_audit_copy")
        finished = False
        try:
            with cursor.copy(f"COPY ({sql}) TO STDOUT") as copy:
                for data in copy:
                    line = str(data, "utf-8")
                    f = line[:-1].split("\t")
                    if "\\" in line:
                        u = [_unescape(x) for x in f]
                        yield (int(u[0] or 0), int(u[1] or 0), _mac(u[2]), *u[3:])
                    else:
                        yield (int(f[0]), int(f[1]), bytes.fromhex(f[2]), *f[3:])
            finished = True
        finally:
            if not finished:
                cursor.execute("ROLLBACK TO SAVEPOINT wb_audit_copy")
            cursor.execute("RELEASE SAVEPOINT wb_audit_copy")


def _mac(hex_: str | None) -> bytes | None:
    return None if hex_ is None else bytes.fromhex(hex_)
