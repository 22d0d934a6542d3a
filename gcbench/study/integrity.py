"""Opaque ids, participant tokens and the answers checksum.

Every participant's form carries a token and an HMAC-SHA256 key, both random and recorded in
the study key. The form signs its answers over a canonical text (below) that the page's
script and this module build identically; a changed choice, time or trial, or answers
presented for another participant, no longer verify. The canonical text holds only ASCII
ids, fixed words and integers, so no JSON serialisation detail can make the two sides differ.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

ANSWERS_FORMAT = "gcbench-study-answers"
ANSWERS_VERSION = 1
CHOICES = ("left", "right")


def opaque_id(nbytes: int = 8) -> str:
    """A random lowercase hex id: reveals nothing and cannot be guessed."""
    return secrets.token_hex(nbytes)


def new_token() -> str:
    """A random token naming one participant's form."""
    return secrets.token_hex(16)


def new_hmac_key() -> str:
    """A random key for signing answer files (kept in the study key, never in a form)."""
    return secrets.token_hex(32)


def canonical_text(study: str, participant: str, token: str, trials: Iterable[Mapping[str, Any]]) -> str:
    """The exact text an answer file's signature covers."""
    lines = [f"{ANSWERS_FORMAT}/{ANSWERS_VERSION}", f"study={study}", f"participant={participant}", f"token={token}"]
    for t in trials:
        lines.append(f"trial={t['trial']},{t['choice']},{int(t['rt_ms'])},{int(t['flips'])}")
    return "\n".join(lines)


def sign(key_hex: str, text: str) -> str:
    """HMAC-SHA-256 of ``text`` under the hexadecimal key."""
    return hmac.new(bytes.fromhex(key_hex), text.encode("ascii"), hashlib.sha256).hexdigest()


def verify(key_hex: str, text: str, signature: str) -> bool:
    """Whether ``signature`` is the HMAC of ``text`` under the key (constant-time comparison)."""
    return hmac.compare_digest(sign(key_hex, text), signature.lower())
