"""Checkpoints and verification of the audit chain (see :mod:`wellbeing.core.audit`).

A checkpoint is the chain head (sequence, MAC) signed with the Ed25519 audit signing key and
written to ``WELLBEING_AUDIT_CHECKPOINT_DIR``; verification walks the sealed entries in order,
recomputes every MAC and compares the head with a checkpoint, naming the first bad entry.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database, utcnow
from . import crypto
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


def latest_checkpoint_file(directory: Path) -> Path | None:
    files = sorted(directory.glob("checkpoint-*.json")) if directory.is_dir() else []
    return files[-1] if files else None


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    unsealed: int
    first_bad_seq: int | None = None
    message: str = "intact"


def _iter_sealed(session: Session, batch: int = 10000) -> Iterator[Any]:
    """Sealed entries in chain order as plain rows (keyset pages; nothing kept in the session)."""
    last = 0
    while True:
        rows = session.execute(
            select(*ENTRY_COLUMNS)
            .where(ENTRY_TABLE.c.seq > last)
            .order_by(ENTRY_TABLE.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _signature_ok(checkpoint: Checkpoint) -> bool:
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        return crypto.verify_signature(checkpoint.public_key, signature, checkpoint.payload())
    except (ValueError, TypeError):
        return False


def verify_chain(session: Session, checkpoint: Checkpoint | None = None) -> VerifyResult:
    """Walk the sealed chain; name the first entry that breaks it."""
    keyring = crypto.current_keyring()
    unsealed = count_unsealed(session)
    if checkpoint is not None and not _signature_ok(checkpoint):
        return VerifyResult(False, 0, unsealed, None, "checkpoint signature is invalid")
    if checkpoint is not None and checkpoint.public_key != keyring.public_key_pem():
        return VerifyResult(False, 0, unsealed, None, "checkpoint was signed by another key")
    mac, expected_seq, checked = GENESIS, 1, 0
    checkpoint_seen = checkpoint is None or checkpoint.seq == 0
    for entry in _iter_sealed(session):
        if entry.seq != expected_seq:
            return VerifyResult(
                False, checked, unsealed, expected_seq,
                f"entry seq {expected_seq} is missing (next is {entry.seq}, id {entry.id})",
            )  # fmt: skip
        mac = keyring.audit_mac(mac, canonical_values(entry[3:], entry.seq))
        if entry.mac != mac:
            return VerifyResult(
                False, checked, unsealed, entry.seq,
                f"entry seq {entry.seq} (id {entry.id}) does not match the chain",
            )  # fmt: skip
        if checkpoint is not None and entry.seq == checkpoint.seq:
            if mac.hex() != checkpoint.head_mac:
                return VerifyResult(
                    False, checked, unsealed, entry.seq,
                    f"entry seq {entry.seq} differs from the checkpoint",
                )  # fmt: skip
            checkpoint_seen = True
        checked += 1
        expected_seq += 1
    if not checkpoint_seen and checkpoint is not None:  # (unseen implies a checkpoint)
        return VerifyResult(
            False, checked, unsealed, checked + 1,
            f"entries from seq {checked + 1} are missing: the chain ends at seq {checked} but "
            f"the checkpoint covers seq {checkpoint.seq} (truncated tail)",
        )  # fmt: skip
    return VerifyResult(True, checked, unsealed)


def _record_verification(session: Session, result: VerifyResult) -> AuditVerification:
    row = AuditVerification(
        ok=result.ok, checked=result.checked, unsealed=result.unsealed,
        first_bad_seq=result.first_bad_seq, message=result.message[:300],
    )  # fmt: skip
    session.add(row)
    record(
        session, AuditAction.AUDIT_VERIFY, object_type="chain",
        outcome=Outcome.ALLOWED if result.ok else Outcome.ERROR,
        detail={"checked": result.checked, "first_bad_seq": result.first_bad_seq},
    )  # fmt: skip
    return row


def verify_and_record(db: Database, checkpoint: Checkpoint | None) -> VerifyResult:
    """``audit verify``: seal, walk the chain, keep the result for the integrity panel."""
    seal_pending(db)
    with db.session() as session:
        result = verify_chain(session, checkpoint)
    with db.session() as session:
        _record_verification(session, result)
    return result


def verify_in_session(session: Session, checkpoint: Checkpoint | None = None) -> VerifyResult:
    """The same inside one (request) transaction: seal what is committed, verify, record."""
    while seal_batch(session) > 0:
        pass
    result = verify_chain(session, checkpoint)
    _record_verification(session, result)
    return result
