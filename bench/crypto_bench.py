"""Field-encryption cost: raw AES-GCM vs the column type, and 100k rows with and without it.

Run: ``.venv/bin/python -m bench.crypto_bench [--rows 100000]``

Prints (1) encrypt+decrypt throughput of ``Keyring`` (the column type's engine) beside the
raw ``AESGCM`` primitive measured in the same run, (2) a 100,000-row insert and select of a
student-shaped row through the ORM with encrypted attributes and with plaintext attributes
(same table width, same path), and the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import tempfile
import time
import uuid

from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from wellbeing.core import crypto
from wellbeing.core.crypto import Purpose
from wellbeing.core.fields import Encrypted, EncryptedBlob, Kind
from wellbeing.db import Base as AppBase

from .common import peak_rss_mb


class BenchBase(DeclarativeBase):
    pass


class PlainRow(BenchBase):
    __tablename__ = "plain_row"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    national_id: Mapped[str] = mapped_column(String(32))
    birth_date: Mapped[str] = mapped_column(String(10))


class SecretRow(BenchBase):
    __tablename__ = "secret_row"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    national_id_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    birth_date_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    name = Encrypted("name_ct", Kind.TEXT, Purpose.IDENTITY)
    national_id = Encrypted("national_id_ct", Kind.TEXT, Purpose.IDENTITY)
    birth_date = Encrypted("birth_date_ct", Kind.DATE, Purpose.IDENTITY)

    __init__ = AppBase.__init__  # ids made in Python before the encrypted attributes are set


def _keyring() -> crypto.Keyring:
    material = crypto.generate_key_material()
    stored = [
        crypto.StoredKey(i, p, 1, crypto.new_wrapped_data_key(material, p, 1), True)
        for i, p in enumerate((*crypto.ENCRYPTION_PURPOSES, Purpose.INDEX), start=1)
    ]
    return crypto.Keyring(material, stored)


def primitive_figures(keyring: crypto.Keyring, count: int) -> None:
    payload, context = "王小明".encode(), b"student\x1fname\x1f" + uuid.uuid4().bytes
    # The raw limit: the same AES-GCM object the keyring holds, called without header,
    # key lookup, associated-data framing or checks (only core/crypto.py imports cryptography).
    raw = keyring._aead[keyring.primary_key_id(Purpose.IDENTITY)]
    start = time.perf_counter()
    for _ in range(count):
        nonce = os.urandom(12)
        raw.decrypt(nonce, raw.encrypt(nonce, payload, context), context)
    raw_rate = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count):
        keyring.decrypt(keyring.encrypt(payload, Purpose.IDENTITY, context), context)
    ours = count / (time.perf_counter() - start)
    print(f"encrypt+decrypt round trips: raw AESGCM {raw_rate:,.0f}/s, Keyring {ours:,.0f}/s "
          f"(ratio {ours / raw_rate:.2f} of the raw limit)")  # fmt: skip


def _rows(count: int) -> list[tuple[str, str, dt.date]]:
    rng = random.Random(1)
    surnames, given = "王李张刘陈杨黄赵吴周", "伟芳娜秀英敏静丽强磊军洋"
    return [
        (rng.choice(surnames) + rng.choice(given) + rng.choice(given), f"{rng.randrange(10**17):018d}",
         dt.date(2008 + rng.randrange(8), 1 + rng.randrange(12), 1 + rng.randrange(28)))
        for _ in range(count)
    ]  # fmt: skip


def table_figures(count: int) -> None:
    data = _rows(count)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/bench.db")
        BenchBase.metadata.create_all(engine)
        results = {}
        for label, build, read in (
            ("plaintext", lambda r: PlainRow(id=uuid.uuid4(), name=r[0], national_id=r[1], birth_date=r[2].isoformat()),
             lambda o: (o.name, o.national_id, o.birth_date)),
            ("encrypted", lambda r: SecretRow(name=r[0], national_id=r[1], birth_date=r[2]),
             lambda o: (o.name, o.national_id, o.birth_date)),
        ):  # fmt: skip
            model = PlainRow if label == "plaintext" else SecretRow
            start = time.perf_counter()
            with Session(engine) as session:
                session.add_all(build(r) for r in data)
                session.commit()
            insert_s = time.perf_counter() - start
            start = time.perf_counter()
            with Session(engine) as session:
                seen = sum(1 for row in session.scalars(select(model)) if read(row)[0])
            select_s = time.perf_counter() - start
            if seen != count:
                raise SystemExit(f"read back {seen} of {count} rows")
            results[label] = (insert_s, select_s)
            print(f"{label:>9}: insert {count:,} rows {insert_s:.2f} s ({count / insert_s:,.0f} rows/s), "
                  f"select+read {select_s:.2f} s ({count / select_s:,.0f} rows/s)")  # fmt: skip
        (pi, ps), (ei, es) = results["plaintext"], results["encrypted"]
        print(f"ratio encrypted/plaintext: insert {ei / pi:.2f}x, select+read {es / ps:.2f}x")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--round-trips", type=int, default=200_000)
    args = parser.parse_args()
    keyring = _keyring()
    crypto.install_keyring(keyring)
    primitive_figures(keyring, args.round_trips)
    table_figures(args.rows)
    print(f"peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
