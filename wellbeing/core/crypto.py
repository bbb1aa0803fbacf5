"""All cryptography of the app: key file, data-key envelope, field encryption, blind indexes,
audit MAC and checkpoint signatures. No other module imports ``cryptography``.

Ciphertext layout (``LargeBinary`` column)::

    version (1 byte, 0x01) | data-key id (4 bytes, big-endian) | nonce (12 bytes) | AES-GCM ct+tag

The associated data is ``header || table \\x1f attribute \\x1f row-id``: a value copied to another
row, column or table, or with an edited header, fails authentication and raises
:class:`IntegrityError` -- it never decrypts to a wrong plaintext.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import enum
import hashlib
import hmac
import json
import os
import secrets
import stat
import struct
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 1
HEADER = struct.Struct(">BI")
NONCE_BYTES = 12
KEY_BYTES = 32
BLIND_INDEX_BYTES = 8
KEY_FILE_FORMAT = "wellbeing-keys/1"


class CryptoError(Exception):
    """Base class; messages are safe to show (they never contain plaintext)."""


class KeyConfigError(CryptoError):
    """The master key is missing, malformed, or does not unwrap the stored data keys."""


class IntegrityError(CryptoError):
    """A ciphertext failed authentication: tampered, truncated, or moved to another place."""


class Purpose(enum.StrEnum):
    """One data key per purpose, so a leak or rotation of one does not touch the others."""

    IDENTITY = "identity"  # names, birth dates, national ids, guardians
    CLINICAL = "clinical"  # answers, scores, notes, plans, concerns, referrals
    ACCOUNT = "account"  # staff secrets such as TOTP seeds
    INDEX = "index"  # root of the blind-index keys (never used to encrypt)


ENCRYPTION_PURPOSES = (Purpose.IDENTITY, Purpose.CLINICAL, Purpose.ACCOUNT)


# --------------------------------------------------------------------------- key file


@dataclass(frozen=True)
class KeyMaterial:
    """What the key file holds: the master key (KEK) and the audit keys, never in the DB."""

    master_key: bytes
    audit_key: bytes
    signing_seed: bytes

    @property
    def master_fingerprint(self) -> str:
        return hmac.new(self.master_key, b"wellbeing-fingerprint", hashlib.sha256).hexdigest()[:16]

    def to_json(self) -> str:
        def b64(b: bytes) -> str:
            return base64.b64encode(b).decode()

        return json.dumps(
            {
                "format": KEY_FILE_FORMAT,
                "master_key": b64(self.master_key),
                "audit_key": b64(self.audit_key),
                "audit_signing_key": b64(self.signing_seed),
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
            indent=2,
        )

    def with_master(self, other: KeyMaterial) -> KeyMaterial:
        """Keep this file's audit keys but take another file's master key (for rewrap)."""
        return KeyMaterial(other.master_key, self.audit_key, self.signing_seed)


def generate_key_material() -> KeyMaterial:
    return KeyMaterial(os.urandom(KEY_BYTES), os.urandom(KEY_BYTES), os.urandom(KEY_BYTES))


def write_key_file(path: Path, material: KeyMaterial, *, overwrite: bool = False) -> None:
    """Write a key file readable only by its owner (0600), refusing to overwrite by default."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(material.to_json() + "\n")
    os.chmod(path, 0o600)


def parse_key_material(text: str, source: str) -> KeyMaterial:
    try:
        doc = json.loads(text)
    except ValueError:
        raise KeyConfigError(f"{source} is not a Wellbeing key file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != KEY_FILE_FORMAT:
        raise KeyConfigError(f"{source} is not a Wellbeing key file (format {KEY_FILE_FORMAT})")
    parts = []
    for name in ("master_key", "audit_key", "audit_signing_key"):
        try:
            raw = base64.b64decode(doc[name], validate=True)
        except (KeyError, ValueError, TypeError):
            raise KeyConfigError(f"{source}: {name} is missing or not base64") from None
        if len(raw) != KEY_BYTES:
            raise KeyConfigError(f"{source}: {name} must be {KEY_BYTES} bytes")
        parts.append(raw)
    return KeyMaterial(*parts)


def load_key_material(key_file: str | None, master_key_env: str | None) -> KeyMaterial:
    """From WELLBEING_KEY_FILE, else WELLBEING_MASTER_KEY (the file's JSON); else refuse."""
    if key_file:
        path = Path(key_file)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyConfigError(f"WELLBEING_KEY_FILE {key_file} does not exist") from None
        except OSError as exc:
            raise KeyConfigError(f"WELLBEING_KEY_FILE {key_file} cannot be read: {exc}") from None
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyConfigError(
                f"WELLBEING_KEY_FILE {key_file} is readable by others; run chmod 600 on it"
            )
        return parse_key_material(text, "WELLBEING_KEY_FILE")
    if master_key_env:
        return parse_key_material(master_key_env, "WELLBEING_MASTER_KEY")
    raise KeyConfigError(
        "no master key: set WELLBEING_KEY_FILE (make one with `wellbeing keys generate FILE`)"
    )


# --------------------------------------------------------------------------- data keys


def _wrap_ad(purpose: str, version: int) -> bytes:
    return f"wellbeing-datakey\x1f{purpose}\x1f{version}".encode()


def new_wrapped_data_key(master: KeyMaterial, purpose: str, version: int) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master.master_key).encrypt(
        nonce, os.urandom(KEY_BYTES), _wrap_ad(purpose, version)
    )


def unwrap_data_key(master: KeyMaterial, wrapped: bytes, purpose: str, version: int) -> bytes:
    try:
        return AESGCM(master.master_key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_ad(purpose, version)
        )
    except (InvalidTag, ValueError):
        raise KeyConfigError(
            "the master key does not unwrap the stored data keys (wrong WELLBEING_KEY_FILE?)"
        ) from None


def rewrap_data_key(
    old: KeyMaterial, new: KeyMaterial, wrapped: bytes, purpose: str, version: int
) -> bytes:
    plain = unwrap_data_key(old, wrapped, purpose, version)
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(new.master_key).encrypt(nonce, plain, _wrap_ad(purpose, version))


@dataclass(frozen=True)
class StoredKey:
    """A data key as the keys module hands it over: id, purpose, version, wrapped bytes."""

    key_id: int
    purpose: str
    version: int
    wrapped: bytes
    primary: bool


class Keyring:
    """Unwrapped data keys in memory; encrypts with the primary key of a purpose.

    With a ``loader`` the keyring follows key rotation done by another process (``wellbeing
    keys rotate`` while the app serves): a ciphertext naming a key it does not know makes it
    reload the stored keys once, and it re-reads them every ``refresh_seconds`` so that new
    writes move to a new primary key soon after a rotation starts.
    """

    def __init__(
        self,
        material: KeyMaterial,
        stored: list[StoredKey],
        loader: Callable[[], list[StoredKey]] | None = None,
        refresh_seconds: float = 15.0,
    ) -> None:
        self.material = material
        self._loader = loader
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._index_keys: dict[str, bytes] = {}
        self._install(stored)

    def _install(self, stored: list[StoredKey]) -> None:
        aead: dict[int, AESGCM] = {}
        purpose_of: dict[int, str] = {}
        primary: dict[str, int] = {}
        index_root = None
        for key in stored:
            raw = unwrap_data_key(self.material, key.wrapped, key.purpose, key.version)
            if key.purpose == Purpose.INDEX:
                if key.primary:
                    index_root = raw
                continue
            aead[key.key_id] = AESGCM(raw)
            purpose_of[key.key_id] = key.purpose
            if key.primary:
                primary[key.purpose] = key.key_id
        missing = [p for p in ENCRYPTION_PURPOSES if p not in primary]
        if missing or index_root is None:
            raise KeyConfigError(
                "the database has no data keys yet: run `wellbeing init` first"
                if not stored
                else f"the database lacks primary data keys for {missing or ['index']}"
            )
        if getattr(self, "_index_root", index_root) != index_root:
            self._index_keys = {}
        # Swap whole dictionaries: readers in other threads never see a half-built keyring.
        self._aead, self._purpose_of, self._primary = aead, purpose_of, primary
        self._index_root = index_root
        self._loaded_at = time.monotonic()

    def refresh(self) -> None:
        """Re-read the stored data keys (no-op without a loader)."""
        if self._loader is None:
            return
        with self._lock:
            self._install(self._loader())

    def _refresh_if_due(self) -> None:
        if self._loader is not None and time.monotonic() - self._loaded_at > self._refresh_seconds:
            self.refresh()

    # ---- field encryption
    def primary_key_id(self, purpose: str) -> int:
        return self._primary[purpose]

    def encrypt(self, plaintext: bytes, purpose: str, context: bytes) -> bytes:
        self._refresh_if_due()
        key_id = self._primary[purpose]
        header = HEADER.pack(FORMAT_VERSION, key_id)
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._aead[key_id].encrypt(nonce, plaintext, header + context)

    def decrypt(self, blob: bytes, context: bytes) -> bytes:
        if len(blob) < HEADER.size + NONCE_BYTES + 16:
            raise IntegrityError("ciphertext is truncated")
        version, key_id = HEADER.unpack_from(blob)
        if version != FORMAT_VERSION:
            raise IntegrityError(f"unknown ciphertext format version {version}")
        aead = self._aead.get(key_id)
        if aead is None and self._loader is not None:
            self.refresh()  # a rotation elsewhere may have added the key
            aead = self._aead.get(key_id)
        if aead is None:
            raise IntegrityError(f"ciphertext names unknown data key {key_id}")
        header, nonce = blob[: HEADER.size], blob[HEADER.size : HEADER.size + NONCE_BYTES]
        try:
            return aead.decrypt(nonce, blob[HEADER.size + NONCE_BYTES :], header + context)
        except InvalidTag:
            raise IntegrityError("ciphertext failed authentication (tampered or moved)") from None

    # ---- blind indexes
    def blind_index(self, index_name: str, scope: str, value: str) -> bytes:
        key = self._index_keys.get(index_name)
        if key is None:
            key = HKDF(
                algorithm=hashes.SHA256(),
                length=KEY_BYTES,
                salt=None,
                info=b"bidx:" + index_name.encode(),
            ).derive(self._index_root)
            self._index_keys[index_name] = key
        message = f"{scope}\x1f{normalize_for_index(value)}".encode()
        return hmac.digest(key, message, "sha256")[:BLIND_INDEX_BYTES]

    # ---- audit
    def audit_mac(self, previous: bytes, payload: bytes) -> bytes:
        return hmac.digest(self.material.audit_key, previous + payload, "sha256")

    def sign(self, payload: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.material.signing_seed).sign(payload)

    def public_key_pem(self) -> str:
        key = Ed25519PrivateKey.from_private_bytes(self.material.signing_seed).public_key()
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def verify_signature(public_key_pem: str, signature: bytes, payload: bytes) -> bool:
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


def ciphertext_key_id(blob: bytes) -> int:
    return HEADER.unpack_from(blob)[1]


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """Digest of a bearer secret (API token, session id, calendar token) for storage/lookup."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_for_index(value: str) -> str:
    """NFKC, trimmed, inner whitespace removed, case-folded: '张 三' and ' 张三 ' match."""
    return "".join(unicodedata.normalize("NFKC", value).split()).casefold()


# --------------------------------------------------------------------------- active keyring

_global_keyring: Keyring | None = None
_context_keyring: contextvars.ContextVar[Keyring | None] = contextvars.ContextVar(
    "wellbeing_keyring", default=None
)


def install_keyring(keyring: Keyring | None) -> None:
    """Make ``keyring`` the process-wide default (CLI, scheduler, single-app servers)."""
    global _global_keyring
    _global_keyring = keyring


def bind_keyring(keyring: Keyring) -> contextvars.Token[Keyring | None]:
    """Use ``keyring`` in this context only (each request of an app binds its own)."""
    return _context_keyring.set(keyring)


def unbind_keyring(token: contextvars.Token[Keyring | None]) -> None:
    _context_keyring.reset(token)


def current_keyring() -> Keyring:
    keyring = _context_keyring.get() or _global_keyring
    if keyring is None:
        raise KeyConfigError("no keyring is loaded: the app was started without its master key")
    return keyring


__all__ = [
    "CryptoError",
    "IntegrityError",
    "KeyConfigError",
    "KeyMaterial",
    "Keyring",
    "Purpose",
]
