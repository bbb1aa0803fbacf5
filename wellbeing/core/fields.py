"""Encrypted model attributes: the column type and the descriptor the models declare.

``name = Encrypted("name_ct", Kind.TEXT, Purpose.IDENTITY, index=BlindIndexSpec(...))`` on a
model stores the value through :mod:`wellbeing.core.crypto` (which holds every primitive; this
module only frames values and calls the active keyring). Import these names from
``wellbeing.core.crypto`` like the rest of the encryption API.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import LargeBinary, TypeDecorator

from .crypto import CryptoError, Purpose, current_keyring


class EncryptedBlob(TypeDecorator[bytes]):
    """Column type of ciphertext columns: comparisons in SQL raise (use a blind index)."""

    impl = LargeBinary
    cache_ok = True

    class comparator_factory(LargeBinary.Comparator):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if getattr(op, "__name__", "") in {"is_", "is_not", "isnot"}:
                return super().operate(op, *other, **kwargs)
            raise TypeError("encrypted columns cannot be compared in SQL; use a blind index")

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            raise TypeError("encrypted columns cannot be compared in SQL; use a blind index")


class Kind(enum.Enum):
    TEXT = "text"
    DATE = "date"
    JSON = "json"


def _encode(kind: Kind, value: Any) -> bytes:
    if kind is Kind.TEXT:
        if not isinstance(value, str):
            raise TypeError("encrypted text field needs a str")
        return value.encode()
    if kind is Kind.DATE:
        if not isinstance(value, dt.date):
            raise TypeError("encrypted date field needs a date")
        return value.isoformat().encode()
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _decode(kind: Kind, raw: bytes) -> Any:
    if kind is Kind.TEXT:
        return raw.decode()
    if kind is Kind.DATE:
        return dt.date.fromisoformat(raw.decode())
    return json.loads(raw)


class _NotComparable:
    def _refuse(self, *_args: Any, **_kwargs: Any) -> Any:
        raise TypeError(f"{self!r} is encrypted and cannot be compared in SQL; use a blind index")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    like = ilike = in_ = contains = startswith = endswith = _refuse
    __hash__ = object.__hash__


@dataclass(frozen=True)
class BlindIndexSpec:
    column: str  # attribute holding the index bytes
    scope: str  # attribute whose value scopes the HMAC input (e.g. school_id)


class Encrypted(_NotComparable):
    """Descriptor for an encrypted attribute stored in a ``EncryptedBlob`` column.

    ``name = Encrypted("name_ct", Kind.TEXT, Purpose.IDENTITY, index=BlindIndexSpec(...))``.
    Setting encrypts with the row's id in the associated data (the id exists from construction);
    reading decrypts once per ciphertext and caches the plaintext on the instance.
    """

    registry: list[tuple[type, Encrypted]] = []

    def __init__(
        self,
        column: str,
        kind: Kind = Kind.TEXT,
        purpose: Purpose = Purpose.CLINICAL,
        index: BlindIndexSpec | None = None,
    ) -> None:
        self.column, self.kind, self.purpose, self.index = column, kind, purpose, index
        self.name = ""
        self.owner: type[Any] | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.owner = name, owner
        Encrypted.registry.append((owner, self))

    def __repr__(self) -> str:
        return f"{getattr(self.owner, '__name__', '?')}.{self.name}"

    @property
    def table(self) -> str:
        if self.owner is None:
            raise TypeError(f"{self!r} is not declared on a model")
        table: str = self.owner.__tablename__
        return table

    def context(self, row_id: uuid.UUID | str) -> bytes:
        """Associated data: table, column and row id (a ``uuid.UUID`` or its canonical text,
        ``str(uuid)``, which bulk writers build without making the object)."""
        return f"{self.table}\x1f{self.name}\x1f{row_id}".encode()

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        blob = getattr(instance, self.column)
        if blob is None:
            return None
        cache_key = f"_wb_plain_{self.name}"
        cached = instance.__dict__.get(cache_key)
        if cached is not None and cached[0] is blob:
            return cached[1]
        value = _decode(self.kind, current_keyring().decrypt(blob, self.context(instance.id)))
        instance.__dict__[cache_key] = (blob, value)
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        if instance.id is None:
            raise CryptoError(f"{self!r}: the row needs its id before an encrypted value is set")
        if value is None:
            setattr(instance, self.column, None)
            instance.__dict__.pop(f"_wb_plain_{self.name}", None)
        else:
            blob = current_keyring().encrypt(
                _encode(self.kind, value), self.purpose, self.context(instance.id)
            )
            setattr(instance, self.column, blob)
            instance.__dict__[f"_wb_plain_{self.name}"] = (blob, value)
        self.refresh_index(instance, value)

    def refresh_index(self, instance: Any, value: Any = ...) -> None:
        """Recompute the blind index (after a change of value or of its scope)."""
        if self.index is None:
            return
        if value is ...:
            value = self.__get__(instance)
        scope = getattr(instance, self.index.scope)
        digest = None if value is None else self.blind_index(scope, str(value))
        setattr(instance, self.index.column, digest)

    def blind_index(self, scope: Any, value: str) -> bytes:
        return current_keyring().blind_index(f"{self.table}.{self.name}", str(scope), value)

    def reencrypt(self, row_id: uuid.UUID, blob: bytes) -> bytes:
        """Decrypt under any known key, encrypt under the purpose's primary key (rotation)."""
        keyring = current_keyring()
        context = self.context(row_id)
        return keyring.encrypt(keyring.decrypt(blob, context), self.purpose, context)


def encrypted_fields(purpose: str | None = None) -> list[tuple[type, Encrypted]]:
    return [(m, f) for m, f in Encrypted.registry if purpose is None or f.purpose == purpose]
