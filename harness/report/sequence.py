"""A sequence diagram of a test's exchanges as inline SVG: no script, no ids, no external references."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

_WIDTH = 640
_LEFT, _RIGHT = 110, 530
_ROW = 22
_TOP = 34
_LABEL_CHARS = 58


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Drawing attributes live in the report's stylesheet (svg.seq classes): a thousand diagrams stay small.
def _arrow(y: int, rightwards: bool, kind: str) -> str:
    x1, x2 = (_LEFT, _RIGHT) if rightwards else (_RIGHT, _LEFT)
    tip = -7 if rightwards else 7
    return (f'<g class="{kind}"><line x1="{x1}" y1="{y}" x2="{x2 + tip}" y2="{y}"/>'
            f'<polygon points="{x2},{y} {x2 + tip},{y - 4} {x2 + tip},{y + 4}"/></g>')


def _label(y: int, text: str, kind: str = "rq") -> str:
    return f'<text class="{kind}" x="{(_LEFT + _RIGHT) // 2}" y="{y - 4}">{escape(_short(text))}</text>'


def _response_text(exchange: dict[str, Any]) -> tuple[str, str]:
    elapsed = f"{float(exchange.get('elapsed_s') or 0) * 1000:.1f} ms"
    if exchange.get("status") is None:
        kind = exchange.get("error_kind") or "error"
        return f"{kind}: {exchange.get('error') or 'no response'} ({elapsed})", "bad"
    content_type = dict((k.lower(), v) for k, v in exchange.get("response_headers", ())).get("content-type", "")
    kind = "bad" if int(exchange["status"]) >= 400 else "ok"
    return f"{exchange['status']} {content_type} ({elapsed})".replace("  ", " "), kind


def sequence_svg(steps: list[dict[str, Any]], dut_role: str = "server") -> Markup:
    """Lifelines for the harness and the DUT, one request and one response arrow per exchange."""
    rows: list[str] = []
    harness_left = dut_role != "client"  # the requester is drawn on the left
    names = ("harness (client)", "DUT (server)") if harness_left else ("DUT (client)", "harness (server)")
    left_name, right_name = names
    y = _TOP
    for step in steps:
        for exchange in step.get("exchanges", ()):
            y += _ROW
            parts = urlsplit(str(exchange.get("url", "")))
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            rows.append(_label(y, f"step {step.get('index')}: {exchange.get('method')} {target}"))
            rows.append(_arrow(y, True, "rq"))
            y += _ROW
            text, kind = _response_text(exchange)
            rows.append(_label(y, text, kind))
            rows.append(_arrow(y, False, f"rs {kind}"))
    if not rows:
        return Markup("")
    height = y + 14
    head = (f'<svg class="seq" role="img" width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}">'
            f"<title>sequence of exchanges</title>")
    lifelines = "".join(
        f'<g class="ll"><rect x="{x - 80}" y="2" width="160" height="20" rx="3"/>'
        f'<text x="{x}" y="16">{escape(name)}</text><line x1="{x}" y1="22" x2="{x}" y2="{height - 4}"/></g>'
        for x, name in ((_LEFT, left_name), (_RIGHT, right_name))
    )
    return Markup(head + lifelines + "".join(rows) + "</svg>")
