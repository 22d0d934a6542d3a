"""The participant's page: one self-contained HTML file (CSS and script inline) that shows a
participant's trials from the ``img/`` folder beside it and signs and downloads the answers.

What the page may contain: opaque ids, the participant code, its token and checksum key, the
study's title and instructions (inserted as text by the script), and nothing about codecs,
settings or rates. Data goes in a JSON block whose ``<``, ``>`` and ``&`` are escaped, so no
string can close the block; a Content-Security-Policy with a per-page nonce refuses any
script, style, image source or connection the page did not write itself.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from gcbench.core.errors import ConfigError

_PLACEHOLDER = re.compile(r"@@([A-Z]+)@@")


@cache
def _asset(name: str) -> str:
    return resources.files("gcbench.study").joinpath("assets", name).read_text(encoding="utf-8")


def json_for_script(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: nothing in it can end the block."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def check_post_url(url: str | None) -> str | None:
    """An http(s) URL without characters that could escape the CSP attribute or a header."""
    if url is None or url == "":
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--post-url must be an http:// or https:// URL, got {url!r}")
    if re.search(r"[\s\"'<>;,\\`]", url):
        raise ConfigError(f"--post-url contains characters not allowed in a URL here: {url!r}")
    return url


def _csp(nonce: str, post_url: str | None) -> str:
    connect = "'none'"
    if post_url:
        parts = urlsplit(post_url)
        connect = f"{parts.scheme}://{parts.netloc}"
    return "; ".join([
        "default-src 'none'",
        "img-src 'self' blob:",
        f"style-src 'nonce-{nonce}'",
        f"script-src 'nonce-{nonce}'",
        f"connect-src {connect}",
        "form-action 'none'",
        "base-uri 'none'",
    ])


def render_form(data: dict[str, Any]) -> str:
    """The page for one participant. ``data`` is what the script reads (see export)."""
    nonce = secrets.token_urlsafe(18)
    values = {
        "CSP": html.escape(_csp(nonce, data.get("post_url")), quote=True),
        "TITLE": html.escape(str(data["title"]), quote=True),
        "NONCE": nonce,
        "CSS": _asset("form.css"),
        "JS": _asset("form.js"),
        "DATA": json_for_script(data),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("form.html"))
