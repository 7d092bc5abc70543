"""``WWW-Authenticate`` parsing (RFC 7235 §4.1, RFC 6750 §3): enough to tell "the token is bad"
(renew it) from "the token is fine but lacks a scope" (renewing would not help).

Tolerant by design: a malformed header never raises, it yields what could be read."""

from __future__ import annotations

import re
from typing import NamedTuple

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_SCHEME_RE = re.compile(rf"\s*({_TOKEN})(?=\s|,|$)")
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*')
_TOKEN68_RE = re.compile(r"\s*([A-Za-z0-9\-._~+/]+=*)\s*(?=,|$)")
#: Headers longer than this are read only this far: hostile input cannot make parsing slow.
MAX_HEADER = 8192


class Challenge(NamedTuple):
    scheme: str  # lower-cased
    params: dict[str, str]  # names lower-cased


def parse_challenges(header: str | None) -> list[Challenge]:
    if not header:
        return []
    text = header[:MAX_HEADER]
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos] in " ,\t":
            pos += 1
        m = _SCHEME_RE.match(text, pos)
        if not m:
            # Not a challenge start: skip to the next comma and try again.
            nxt = text.find(",", pos)
            if nxt < 0:
                break
            pos = nxt + 1
            continue
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        t68 = _TOKEN68_RE.match(text, pos)
        if t68 and not _PARAM_RE.match(text, pos):
            pos = t68.end()
        else:
            while True:
                pm = _PARAM_RE.match(text, pos)
                if not pm:
                    break
                name = pm.group(1).lower()
                value = pm.group(2) if pm.group(2) is not None else pm.group(3)
                params.setdefault(name, re.sub(r"\\(.)", r"\1", value))
                pos = pm.end()
                # A comma separates params or challenges: peek whether a param follows.
                if pos < len(text) and text[pos] == "," and _PARAM_RE.match(text, pos + 1):
                    pos += 1
                    continue
                break
        challenges.append(Challenge(scheme, params))
    return challenges


def bearer_error(header: str | None) -> str | None:
    """The RFC 6750 ``error`` of the first Bearer challenge, if any."""
    for challenge in parse_challenges(header):
        if challenge.scheme == "bearer":
            return challenge.params.get("error")
    return None
