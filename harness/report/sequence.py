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


def _arrow(y: int, rightwards: bool, colour: str, dashed: bool) -> str:
    x1, x2 = (_LEFT, _RIGHT) if rightwards else (_RIGHT, _LEFT)
    tip = -7 if rightwards else 7
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return (f'<line x1="{x1}" y1="{y}" x2="{x2 + tip}" y2="{y}" stroke="{colour}"{dash}/>'
            f'<polygon points="{x2},{y} {x2 + tip},{y - 4} {x2 + tip},{y + 4}" fill="{colour}"/>')


def _label(y: int, text: str, colour: str = "#1b1f24") -> str:
    return (f'<text x="{(_LEFT + _RIGHT) // 2}" y="{y - 4}" text-anchor="middle" fill="{colour}">'
            f"{escape(_short(text))}</text>")


def _response_text(exchange: dict[str, Any]) -> tuple[str, str]:
    elapsed = f"{float(exchange.get('elapsed_s') or 0) * 1000:.1f} ms"
    if exchange.get("status") is None:
        kind = exchange.get("error_kind") or "error"
        return f"{kind}: {exchange.get('error') or 'no response'} ({elapsed})", "#cf222e"
    content_type = dict((k.lower(), v) for k, v in exchange.get("response_headers", ())).get("content-type", "")
    colour = "#cf222e" if int(exchange["status"]) >= 400 else "#1a7f37"
    return f"{exchange['status']} {content_type} ({elapsed})".replace("  ", " "), colour


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
            rows.append(_arrow(y, True, "#1b1f24", False))
            y += _ROW
            text, colour = _response_text(exchange)
            rows.append(_label(y, text, colour))
            rows.append(_arrow(y, False, colour, True))
    if not rows:
        return Markup("")
    height = y + 14
    head = (f'<svg class="seq" role="img" width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" '
            f'font-family="system-ui,sans-serif" font-size="11">'
            f"<title>sequence of exchanges</title>")
    lifelines = "".join(
        f'<rect x="{x - 80}" y="2" width="160" height="20" rx="3" fill="#f6f8fa" stroke="#8c959f"/>'
        f'<text x="{x}" y="16" text-anchor="middle" font-weight="600">{escape(name)}</text>'
        f'<line x1="{x}" y1="22" x2="{x}" y2="{height - 4}" stroke="#8c959f" stroke-dasharray="2 3"/>'
        for x, name in ((_LEFT, left_name), (_RIGHT, right_name))
    )
    return Markup(head + lifelines + "".join(rows) + "</svg>")
