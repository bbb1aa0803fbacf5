"""Checkpoints and verification of the audit chain (see :mod:`wellbeing.core.audit`).

A checkpoint is the chain head (sequence, MAC) signed with the Ed25519 audit signing key and
written to ``WELLBEING_AUDIT_CHECKPOINT_DIR``; verification walks the sealed entries in order,
recomputes every MAC and compares the head with a checkpoint, naming the first bad entry.

Two modes. ``full`` walks the chain from its first entry. ``checkpoint`` (the default of
``audit verify``) starts from the newest signed checkpoint inside the range an earlier
successful verification covered (the range each run covered is recorded with an HMAC tag under
the audit key, so a row forged in ``audit_verification`` is ignored): every entry is thus
verified at least once after it is sealed, and each run only reads what is new. An entry edited
*after* a run covered it is only found by ``--full``; run it periodically.

Both modes stream in ``seq`` order without holding the trail in memory (``COPY ... TO
STDOUT`` on PostgreSQL, where the server also writes most of the canonical bytes, see
:mod:`.audit_copy`; keyset chunks on SQLite) and select the chained columns as text, so that
no ORM object, UUID or datetime is built per row: :class:`_Canonical` builds exactly the
bytes of :func:`wellbeing.core.audit.canonical_values` from that text (a test compares them),
and a row whose text is not in the form the application writes is read again the slow way
(the stream is then ended and a new one continues after that row).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from sqlalchemy import String, Text, cast, select, type_coerce
from sqlalchemy.orm import Session

from ..db import Database, utcnow
from . import audit_copy, crypto
from .audit import (
    ENTRY_COLUMNS,
    ENTRY_TABLE,
    GENESIS,
    AuditAction,
    Outcome,
    canonical_values,
    chain_head,
    count_unsealed,
    lock_chain,
    record,
    seal_batch,
    seal_pending,
)
from .audit_models import AuditCheckpoint, AuditVerification


@dataclass
class Checkpoint:
    seq: int
    head_mac: str
    created: str
    public_key: str
    signature: str = ""

    def payload(self) -> bytes:
        return f"wellbeing-audit-checkpoint|{self.seq}|{self.head_mac}|{self.created}".encode()

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def sign_head(session: Session, now: dt.datetime | None = None) -> Checkpoint:
    """A signed statement of the current chain head (sealed entries only)."""
    keyring = crypto.current_keyring()
    seq, mac = chain_head(session)
    now = now or utcnow()
    cp = Checkpoint(seq, mac.hex(), now.isoformat(), keyring.public_key_pem())
    cp.signature = base64.b64encode(keyring.sign(cp.payload())).decode()
    return cp


def write_checkpoint(db: Database, directory: Path, now: dt.datetime | None = None) -> Checkpoint:
    """Seal everything committed, then sign the chain head into ``directory``."""
    seal_pending(db)
    now = now or utcnow()
    with db.session() as session:
        lock_chain(session)
        cp = sign_head(session, now)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"checkpoint-{cp.seq:012d}-{now:%Y%m%dT%H%M%S%f}.json"
        path.write_text(json.dumps(asdict(cp), indent=2), encoding="utf-8")
        session.add(
            AuditCheckpoint(
                seq=cp.seq, head_mac=cp.head_mac, signature=cp.signature, path=str(path)
            )
        )
        record(
            session, AuditAction.AUDIT_CHECKPOINT, object_type="checkpoint", detail={"seq": cp.seq}
        )
    return cp


def checkpoint_files(directory: Path) -> list[Path]:
    """Checkpoint files oldest first (their names start with the zero-padded sequence)."""
    return sorted(directory.glob("checkpoint-*.json")) if directory.is_dir() else []


def latest_checkpoint_file(directory: Path) -> Path | None:
    files = checkpoint_files(directory)
    return files[-1] if files else None


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    unsealed: int
    first_bad_seq: int | None = None
    message: str = "intact"
    mode: str = "full"
    from_seq: int | None = None  # the range of sequence numbers walked
    to_seq: int | None = None
    head_mac: str | None = None  # the MAC at ``to_seq``
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.checked / self.seconds if self.seconds > 0 else 0.0


# --------------------------------------------------------------------------- reading the chain

# canonical() sorts its keys ("seq" falls between two of these)
_KEYS = sorted(column.name for column in ENTRY_COLUMNS[3:])
_UUIDS = {"actor_user_id", "student_id", "school_id", "break_glass_id"}
_JSONS = {"fields", "detail"}
_PG_TIME = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'  # = isoformat(timespec="microseconds") in UTC


class _Unusual(Exception):
    """A value is not in the form the application writes: canonicalise that row the slow way."""


def _fragment(name: str) -> Any:
    """The database's text for one chained column (SQLite)."""
    col: Any = ENTRY_TABLE.c[name]
    if name in _JSONS:
        return cast(col, Text)
    if name in _UUIDS or name == "occurred_at":
        return type_coerce(col, String)
    return col


def _text_columns(dialect: str) -> list[Any]:
    """id, seq, mac and the chained columns in ``_KEYS`` order (see _fragment); on PostgreSQL
    the server writes most of the canonical bytes (see :mod:`.audit_copy`)."""
    if dialect == "postgresql":
        return audit_copy.segment_columns()
    c = ENTRY_TABLE.c
    return [c.id, c.seq, c.mac, *(_fragment(name) for name in _KEYS)]


def _sqlite_uuid(raw: str | None) -> str:
    """SQLite keeps a UUID as 32 lower-case hex digits (anything else: the slow way)."""
    if raw is None:
        return "null"
    if len(raw) != 32:
        raise _Unusual
    return f'"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"'


def _sqlite_time(raw: str | None) -> str:
    """SQLite keeps a time as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC."""
    if raw is None:
        return "null"
    if len(raw) != 26 or raw[10] != " ":
        raise _Unusual
    return f'"{raw[:10]}T{raw[11:]}+00:00"'


class _Canonical:
    """:func:`canonical_values` from the text columns, with the JSON columns' canonical form
    cached by their stored text (bounded: the cache never grows with the trail).

    Each mapping from stored text to canonical bytes is one-to-one on the forms it accepts, so
    a row it accepts holds exactly the text that was sealed; a row whose MAC does not match is
    tried again the slow way (:func:`_slow_canonical`) before it is called bad."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        self.json: dict[str, str] = {}

    def _json(self, raw: str | None) -> str:
        if raw is None:
            return "null"
        done = self.json.get(raw)
        if done is None:
            if len(self.json) > 4096:
                self.json.clear()
            done = json.dumps(
                json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            self.json[raw] = done
        return done

    def __call__(self, r: Sequence[Any], seq: int) -> bytes:
        if not self.sqlite:
            return audit_copy.payload(r, seq, self._json)
        u, t = _sqlite_uuid, _sqlite_time
        return self._build(r, u(r[6]), u(r[8]), t(r[14]), u(r[18]), u(r[20]), seq)

    def _build(self, r: Sequence[Any], user: str, grant: str, time_: str, school: str,
               student: str, seq: int) -> bytes:  # fmt: skip
        e, j = encode_basestring, self._json
        return (
            f'{{"action":{"null" if r[3] is None else e(r[3])},'
            f'"actor_role":{"null" if r[4] is None else e(r[4])},'
            f'"actor_scope":{"null" if r[5] is None else e(r[5])},'
            f'"actor_user_id":{user},'
            f'"actor_username":{"null" if r[7] is None else e(r[7])},'
            f'"break_glass_id":{grant},"detail":{j(r[9])},"fields":{j(r[10])},'
            f'"ip":{"null" if r[11] is None else e(r[11])},'
            f'"object_id":{"null" if r[12] is None else e(r[12])},'
            f'"object_type":{"null" if r[13] is None else e(r[13])},'
            f'"occurred_at":{time_},'
            f'"outcome":{"null" if r[15] is None else e(r[15])},'
            f'"purpose":{"null" if r[16] is None else e(r[16])},'
            f'"request_id":{"null" if r[17] is None else e(r[17])},'
            f'"school_id":{school},"seq":{seq},'
            f'"session_hash":{"null" if r[19] is None else e(r[19])},'
            f'"student_id":{student},'
            f'"user_agent":{"null" if r[21] is None else e(r[21])}}}'
        ).encode()


# _Canonical._build names each key at a fixed position: fail at import if the fields drift.
_LAYOUT = """action actor_role actor_scope actor_user_id actor_username break_glass_id detail fields
ip object_id object_type occurred_at outcome purpose request_id school_id session_hash
student_id user_agent"""
if _LAYOUT.split() != _KEYS:  # pragma: no cover - a new chained field needs a new layout
    raise RuntimeError("audit chain fields changed: update _Canonical")


class _Mac:
    """HMAC-SHA256 under one key, keyed once (RFC 2104 with the padded key's two hash states
    precomputed): per entry two state copies and three updates, all in C, about a third faster
    than ``hmac.HMAC.copy()``. A test compares it with :func:`hmac.digest`."""

    def __init__(self, key: bytes) -> None:
        block = hashlib.sha256().block_size
        padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def next(self, previous: bytes, payload: bytes | None) -> bytes | None:
        """The MAC of ``previous || payload`` (None without a payload)."""
        if payload is None:
            return None
        inner = self.inner.copy()
        inner.update(previous)
        inner.update(payload)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _slow_canonical(session: Session, entry_id: int, seq: int) -> bytes | None:
    """The reference canonical bytes of one row read through the model's types (None when
    they cannot even be read: such a row never matches)."""
    try:
        row = session.execute(select(*ENTRY_COLUMNS).where(ENTRY_TABLE.c.id == entry_id)).one()
        return canonical_values(row[3:], seq)
    except (ValueError, TypeError, AttributeError):
        return None


def iter_chain(
    session: Session, after: int = 0, chunk: int = 2000
) -> Generator[Sequence[Any], None, None]:
    """Sealed entries with ``seq > after`` in ``seq`` order, as text rows (see _text_columns),
    streamed by COPY on PostgreSQL, ``chunk`` at a time in keyset chunks on SQLite (where
    SQLAlchemy's stream_results would only buffer: the sqlite3 driver has no cursors of that
    kind)."""
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        # COPY on the session's own connection and transaction, read through the driver.
        driver = session.connection().connection.driver_connection
        assert driver is not None  # noqa: S101 (an open session always has its connection)
        yield from audit_copy.iter_copy(driver, dialect, after)
        return
    columns = _text_columns(dialect.name)
    seq = ENTRY_TABLE.c.seq
    last = after
    while True:
        rows = session.execute(select(*columns).where(seq > last).order_by(seq).limit(chunk)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][1]


# --------------------------------------------------------------------------- verification


def _signature_ok(checkpoint: Checkpoint) -> bool:
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        return crypto.verify_signature(checkpoint.public_key, signature, checkpoint.payload())
    except (ValueError, TypeError):
        return False


def _checkpoint_problem(checkpoint: Checkpoint, keyring: crypto.Keyring) -> str | None:
    if not _signature_ok(checkpoint):
        return "checkpoint signature is invalid"
    if checkpoint.public_key != keyring.public_key_pem():
        return "checkpoint was signed by another key"
    return None


def verify_chain(
    session: Session, checkpoint: Checkpoint | None = None, *,
    anchor: Checkpoint | None = None, chunk: int = 2000,
) -> VerifyResult:  # fmt: skip
    """Walk the sealed chain from ``anchor`` (a signed checkpoint already covered by an earlier
    verification; None: from the first entry) and compare it with ``checkpoint`` (normally the
    newest); name the first entry that breaks it."""
    started = time.perf_counter()
    result = _walk(session, checkpoint, anchor, chunk)
    result.seconds = time.perf_counter() - started
    return result


def _walk(
    session: Session, checkpoint: Checkpoint | None, anchor: Checkpoint | None, chunk: int
) -> VerifyResult:
    keyring = crypto.current_keyring()
    unsealed = count_unsealed(session)
    if anchor is not None and checkpoint is not None and anchor.seq > checkpoint.seq:
        anchor = None  # an older checkpoint to compare with: walk from the start
    if anchor is not None and anchor.seq == 0:
        anchor = None
    mode = "full" if anchor is None else "checkpoint"

    def bad(checked: int, seq: int | None, message: str) -> VerifyResult:
        return VerifyResult(False, checked, unsealed, seq, message, mode)

    for cp in (checkpoint, anchor):
        problem = _checkpoint_problem(cp, keyring) if cp is not None else None
        if problem:
            return bad(0, None, problem)
    start, mac = 0, GENESIS
    if anchor is not None:
        start, mac = anchor.seq, bytes.fromhex(anchor.head_mac)
        stored = session.scalar(select(ENTRY_TABLE.c.mac).where(ENTRY_TABLE.c.seq == start))
        if stored is None:
            return bad(0, start, f"entry seq {start} is missing (the checkpoint names it)")
        if bytes(stored) != mac:
            return bad(0, start, f"entry seq {start} differs from the checkpoint")
    hasher = _Mac(keyring.material.audit_key)
    canon = _Canonical(session.get_bind().dialect.name)
    expected, checked = start + 1, 0
    checkpoint_seen = checkpoint is None or checkpoint.seq == 0
    if checkpoint is not None and start and checkpoint.seq == start:
        if mac.hex() != checkpoint.head_mac:
            return bad(0, start, f"entry seq {start} differs from the checkpoint")
        checkpoint_seen = True
    after: int | None = start
    while after is not None:  # one stream, restarted after a row read the slow way
        resume, after = after, None
        with closing(iter_chain(session, resume, chunk)) as rows:
            for row in rows:
                seq = row[1]
                if seq != expected:
                    return bad(checked, expected,
                               f"entry seq {expected} is missing (next is {seq}, id {row[0]})")  # fmt: skip
                try:
                    payload: bytes | None = canon(row, seq)
                except (_Unusual, TypeError, ValueError):  # ValueError: a broken JSON text
                    payload = None
                stored = None if row[2] is None else bytes(row[2])
                following = hasher.next(mac, payload)
                if following is None or following != stored:  # the reference way decides
                    rows.close()  # (a COPY holds the connection: end it before another query)
                    following = hasher.next(mac, _slow_canonical(session, row[0], seq))
                    if following is None or following != stored:
                        return bad(checked, seq, f"entry seq {seq} (id {row[0]}) does not match the chain")  # fmt: skip
                    after = seq
                mac = following
                if checkpoint is not None and seq == checkpoint.seq:
                    if mac.hex() != checkpoint.head_mac:
                        return bad(checked, seq, f"entry seq {seq} differs from the checkpoint")
                    checkpoint_seen = True
                checked += 1
                expected += 1
                if after is not None:
                    break
    last = expected - 1
    if not checkpoint_seen and checkpoint is not None:  # (unseen implies a checkpoint)
        return bad(
            checked, expected,
            f"entries from seq {expected} are missing: the chain ends at seq {last} but "
            f"the checkpoint covers seq {checkpoint.seq} (truncated tail)",
        )  # fmt: skip
    return VerifyResult(
        True, checked, unsealed, None, "intact", mode, start + 1 if checked else None,
        last if checked else None, mac.hex(),
    )  # fmt: skip


# --------------------------------------------------------------------------- runs and anchors


def _tag(keyring: crypto.Keyring, mode: str, from_seq: int, to_seq: int, head: str) -> str:
    """What makes a recorded run usable as an anchor: a MAC under the audit key (outside the
    database), so that a row someone added to ``audit_verification`` does not count."""
    payload = f"wellbeing-audit-verified|{mode}|{from_seq}|{to_seq}|{head}".encode()
    return hmac.digest(keyring.material.audit_key, payload, "sha256").hex()


def verified_through(session: Session) -> int:
    """The highest sequence number a recorded, genuine, successful run reached (0: none)."""
    keyring = crypto.current_keyring()
    v = AuditVerification
    rows = session.execute(
        select(v.mode, v.from_seq, v.to_seq, v.head_mac, v.tag)
        .where(v.ok.is_(True), v.tag.is_not(None), v.to_seq.is_not(None))
        .order_by(v.to_seq.desc()).limit(50)
    ).all()  # fmt: skip
    for mode, from_seq, to_seq, head, tag in rows:
        if head and hmac.compare_digest(tag, _tag(keyring, mode, from_seq, to_seq, head)):
            return int(to_seq)
    return 0


def choose_anchor(session: Session, files: Sequence[Path]) -> Checkpoint | None:
    """The newest checkpoint among ``files`` inside the range verified before (None: start
    from the first entry). An unreadable file is skipped; a forged one fails the walk."""
    through = verified_through(session)
    for path in sorted(files, reverse=True):
        try:
            cp = Checkpoint.load(path)
        except (ValueError, TypeError, OSError):
            continue
        if 0 < cp.seq <= through:
            return cp
    return None


def record_verification(session: Session, result: VerifyResult) -> AuditVerification:
    keyring = crypto.current_keyring()
    tagged = result.ok and result.to_seq is not None and result.head_mac is not None
    row = AuditVerification(
        ok=result.ok, checked=result.checked, unsealed=result.unsealed,
        first_bad_seq=result.first_bad_seq, message=result.message[:300], mode=result.mode,
        from_seq=result.from_seq, to_seq=result.to_seq, head_mac=result.head_mac,
        seconds=result.seconds,
        tag=_tag(keyring, result.mode, result.from_seq or 0, result.to_seq or 0,
                 result.head_mac or "") if tagged else None,
    )  # fmt: skip
    session.add(row)
    record(
        session, AuditAction.AUDIT_VERIFY, object_type="chain",
        outcome=Outcome.ALLOWED if result.ok else Outcome.ERROR,
        detail={"checked": result.checked, "first_bad_seq": result.first_bad_seq,
                "mode": result.mode, "from_seq": result.from_seq, "to_seq": result.to_seq},
    )  # fmt: skip
    return row


def _plan(
    session: Session, directory: Path | None, checkpoint: Checkpoint | None,
    extra: Path | None, full: bool,
) -> Checkpoint | None:  # fmt: skip
    if full or directory is None:
        return None
    files = [*checkpoint_files(directory), *([extra] if extra else [])]
    return choose_anchor(session, files)


def verify_and_record(
    db: Database, checkpoint: Checkpoint | None, *, directory: Path | None = None,
    full: bool = True, checkpoint_path: Path | None = None,
) -> VerifyResult:  # fmt: skip
    """``audit verify``: seal, walk the chain (from the anchor checkpoint chosen in
    ``directory`` unless ``full``), keep the result for the integrity panel."""
    seal_pending(db)
    with db.session() as session:
        anchor = _plan(session, directory, checkpoint, checkpoint_path, full)
        result = verify_chain(session, checkpoint, anchor=anchor)
    with db.session() as session:
        record_verification(session, result)
    return result


def verify_in_session(
    session: Session, checkpoint: Checkpoint | None = None, *, directory: Path | None = None,
    full: bool = True,
) -> VerifyResult:  # fmt: skip
    """The same inside one (request) transaction: seal what is committed, verify, record."""
    while seal_batch(session) > 0:
        pass
    anchor = _plan(session, directory, checkpoint, None, full)
    result = verify_chain(session, checkpoint, anchor=anchor)
    record_verification(session, result)
    return result
