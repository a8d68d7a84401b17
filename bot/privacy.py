"""Personal data: encryption at rest, blind indexes for look-ups, masking for replies and logs."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])|(?<!\d)\d{15}(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LONG_DIGITS_RE = re.compile(r"(?<!\d)\d{12,}(?!\d)")  # bank cards and anything ID-like


def mask_id(value: str) -> str:
    """`*****2980`: only the last four characters of an ID or card number are ever shown."""
    value = (value or "").strip()
    return "*****" + value[-4:] if len(value) > 4 else "*****"


def mask_phone(value: str) -> str:
    """`176****2353`."""
    value = (value or "").strip()
    if len(value) == 11:
        return f"{value[:3]}****{value[-4:]}"
    return mask_id(value)


def redact(text: str) -> str:
    """Mask every ID-, phone- or card-like number in free text (for logs and admin pages)."""
    if not text:
        return text
    text = _ID_RE.sub(lambda m: mask_id(m.group(0)), text)
    text = _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)
    return _LONG_DIGITS_RE.sub(lambda m: mask_id(m.group(0)), text)


class FieldCipher:
    """AES-256-GCM for single fields; a separate HMAC key gives deterministic blind indexes."""

    PREFIX = "enc1:"
    CACHE_SIZE = 4096

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("BOT_DATA_KEY must decode to 32 bytes")
        self._aead = AESGCM(hashlib.sha256(b"aead" + key).digest())
        self._mac_key = hashlib.sha256(b"blind" + key).digest()
        # Sessions are decrypted and re-encrypted on every message although their numbers rarely
        # change: remembering recent pairs saves an AES operation per field per turn. An unchanged
        # value keeps its ciphertext, which reveals only that it did not change.
        self._sealed: dict[str, str] = {}
        self._opened: dict[str, str] = {}

    @classmethod
    def from_setting(cls, data_key: str, data_dir: Path) -> "FieldCipher":
        """Use BOT_DATA_KEY (base64 or hex of 32 bytes); else a key file only its owner can read."""
        if data_key:
            return cls(_decode_key(data_key))
        path = Path(data_dir) / "data.key"
        if path.exists():
            return cls(_decode_key(path.read_text().strip()))
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = os.urandom(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago: use theirs once it is written
            return cls(_decode_key(_read_when_written(path)))
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(raw).decode())
        return cls(raw)

    def encrypt(self, value: str) -> str:
        token = self._sealed.get(value)
        if token is None:
            token = self.seal(value)
            self._remember(value, token)
        return token

    def decrypt(self, token: str) -> str:
        value = self._opened.get(token)
        if value is None:
            value = self.unseal(token)
            self._remember(value, token)
        return value

    def seal(self, value: str) -> str:
        """`encrypt` without the cache: for texts written once and rarely read again (stored replies),
        which would only push the session fields out of it."""
        nonce = os.urandom(12)
        return self.PREFIX + base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, value.encode("utf-8"), None)).decode()

    def unseal(self, token: str) -> str:
        """`decrypt` without the cache."""
        if not token.startswith(self.PREFIX):
            raise ValueError("not an encrypted field")
        blob = base64.urlsafe_b64decode(token[len(self.PREFIX):])
        return self._aead.decrypt(blob[:12], blob[12:], None).decode("utf-8")

    def _remember(self, value: str, token: str) -> None:
        if len(self._opened) >= self.CACHE_SIZE:  # bounded: start afresh rather than track recency
            self._sealed.clear()
            self._opened.clear()
        self._sealed[value] = token
        self._opened[token] = value

    def blind(self, value: str) -> str:
        """Deterministic keyed hash: find a record by ID number without storing the number."""
        return hmac.new(self._mac_key, value.strip().upper().encode(), hashlib.sha256).hexdigest()[:32]


def _read_when_written(path: Path, wait: float = 5.0) -> str:
    """The key file's text once its writer has finished (it is 44 characters of base64)."""
    deadline = time.monotonic() + wait
    while True:
        text = path.read_text().strip()
        if len(text) >= 44 or time.monotonic() > deadline:
            return text
        time.sleep(0.01)


def _decode_key(text: str) -> bytes:
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded)
    except ValueError as exc:
        raise ValueError("BOT_DATA_KEY must be 32 bytes in base64 or hex") from exc
    return raw
