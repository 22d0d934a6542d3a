"""Read and check answers files against the study key.

A file is accepted only when it is valid JSON of the answers schema, belongs to this study,
carries a token the study issued to the participant it names, verifies under that
participant's checksum key (so no choice, time or trial was edited), lists only trials that
participant was given, each once, and is the first file seen for that participant. Every
other file is set aside with a message saying why; the rest are analysed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcbench.study.integrity import (
    ANSWERS_FORMAT,
    ANSWERS_VERSION,
    CHOICES,
    canonical_text,
    verify,
)

_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass
class Answers:
    file: str
    participant: dict[str, Any]  # the key's entry
    trials: list[dict[str, Any]]  # {trial, choice, rt_ms, flips} as signed
    complete: bool


@dataclass
class Rejected:
    file: str
    reason: str


class _Invalid(Exception):
    pass


def _field(doc: dict[str, Any], name: str, kind: type, where: str = "") -> Any:
    if name not in doc:
        raise _Invalid(f"missing field {where}{name!r}")
    value = doc[name]
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise _Invalid(f"field {where}{name!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _check_trials(raw: list[Any]) -> list[dict[str, Any]]:
    trials = []
    for i, t in enumerate(raw):
        where = f"trials[{i}]."
        if not isinstance(t, dict):
            raise _Invalid(f"trials[{i}] must be an object")
        tid = _field(t, "trial", str, where)
        if not _HEX.match(tid):
            raise _Invalid(f"{where}trial {tid!r} is not a trial id of a gcbench form")
        choice = _field(t, "choice", str, where)
        if choice not in CHOICES:
            raise _Invalid(f"{where}choice must be 'left' or 'right', got {choice!r}")
        rt = _field(t, "rt_ms", int, where)
        flips = _field(t, "flips", int, where)
        if rt < 0 or flips < 0:
            raise _Invalid(f"{where}rt_ms and flips cannot be negative")
        trials.append({"trial": tid, "choice": choice, "rt_ms": rt, "flips": flips})
    return trials


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise _Invalid("no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise _Invalid(f"cannot be read as UTF-8 text ({exc})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                       "the file is damaged or was not saved by the study form") from exc
    if not isinstance(doc, dict):
        raise _Invalid("not an answers file (the top level must be a JSON object)")
    if doc.get("format") != ANSWERS_FORMAT:
        raise _Invalid(f"not a gcbench answers file (format {doc.get('format')!r})")
    if doc.get("version") != ANSWERS_VERSION:
        raise _Invalid(f"answers format version {doc.get('version')!r}; this gcbench reads version {ANSWERS_VERSION}")
    return doc


def check_file(path: Path, key: dict[str, Any], by_token: dict[str, dict[str, Any]]) -> Answers:
    """Read one participant's answer file and check it against the key (signature, token, trials)."""
    doc = _read(path)
    study = _field(doc, "study", str)
    code = _field(doc, "participant", str)
    token = _field(doc, "token", str)
    signature = _field(doc, "signature", str)
    raw_trials = _field(doc, "trials", list)
    if study != key["study"]:
        raise _Invalid(f"belongs to another study ({study!r}, this key is for {key['study']!r})")
    part = by_token.get(token)
    if part is None:
        raise _Invalid("its participant token was not issued by this study; "
                       "the answers did not come from one of this study's forms")
    if code != part["code"]:
        raise _Invalid(f"claims participant code {code!r} but carries the token of another participant "
                       f"({part['id']}); answers cannot be moved between participants")
    trials = _check_trials(raw_trials)
    if not verify(part["hmac_key"], canonical_text(study, code, token, trials), signature):
        raise _Invalid(f"checksum mismatch: the answers of {part['id']} were changed after the form signed them")
    given = {t["trial"] for t in part["trials"]}
    seen: set[str] = set()
    for t in trials:
        if t["trial"] not in given:
            raise _Invalid(f"trial {t['trial']!r} was not given to participant {part['id']}")
        if t["trial"] in seen:
            raise _Invalid(f"trial {t['trial']!r} is answered twice")
        seen.add(t["trial"])
    return Answers(file=str(path), participant=part, trials=trials, complete=len(seen) == len(given))


def load_answers(key: dict[str, Any], paths: list[str | Path]) -> tuple[list[Answers], list[Rejected]]:
    """Accepted answers (one per participant, first file wins) and rejected files with reasons."""
    by_token = {p["token"]: p for p in key["participants"]}
    accepted: dict[str, Answers] = {}
    rejected: list[Rejected] = []
    for path in paths:
        path = Path(path)
        try:
            answers = check_file(path, key, by_token)
        except _Invalid as exc:
            rejected.append(Rejected(str(path), str(exc)))
            continue
        pid = answers.participant["id"]
        if pid in accepted:
            rejected.append(Rejected(str(path), f"duplicate: answers of participant {pid} were already read from "
                                                f"{accepted[pid].file}"))
            continue
        accepted[pid] = answers
    return list(accepted.values()), rejected
