"""The timeline of a client-role test as inline SVG (no script, no ids, no external references).

On the test server's time axis: what the server served and changed (event windows, acts such as a
cancellation or a new pollRate), what the DUT did (each request as a mark: GETs small, PUTs and POSTs tall,
Responses labelled with their status) and each awaited request's window with where it came (green), came late
or early (red) or never came (a red cross at the window's end), so a lab sees at a glance that Response 2
came 40 s late. The data is TestRecord.timeline (harness.engine.client_runner.timeline).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

_WIDTH = 720
_LEFT, _RIGHT = 90, 700
_LANES = {"served": 40, "DUT": 100, "awaited": 150}
_MAX_MARKS = 1500


def _x(at: float, start: float, end: float) -> float:
    span = max(end - start, 1.0)
    return round(_LEFT + (min(max(at, start), end) - start) / span * (_RIGHT - _LEFT), 1)


def _axis(start: float, end: float) -> list[str]:
    parts = [f'<line class="axis" x1="{_LEFT}" y1="180" x2="{_RIGHT}" y2="180" stroke="#888"/>']
    span = max(end - start, 1.0)
    step = next(s for s in (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 86400) if span / s <= 10)
    tick = 0.0
    while tick <= span:
        x = _x(start + tick, start, end)
        parts.append(f'<line x1="{x}" y1="176" x2="{x}" y2="184" stroke="#888"/>'
                     f'<text x="{x}" y="196" font-size="10" text-anchor="middle">+{tick:.0f} s</text>')
        tick += step
    for name, y in _LANES.items():
        parts.append(f'<text x="4" y="{y + 4}" font-size="11">{escape(name)}</text>')
    return parts


def _acts(acts: list[dict[str, Any]], start: float, end: float) -> list[str]:
    parts = []
    for act in acts:
        y = _LANES["served"]
        if act.get("duration"):
            x1, x2 = _x(act["start"], start, end), _x(act["start"] + act["duration"], start, end)
            parts.append(f'<rect x="{x1}" y="{y - 10}" width="{max(x2 - x1, 1)}" height="20" fill="#cde" '
                         f'stroke="#468"><title>{escape(act.get("href", ""))}: {act["duration"]} s from '
                         f'+{act["start"] - start:.0f} s</title></rect>'
                         f'<text x="{x1 + 2}" y="{y + 4}" font-size="9">{escape(act.get("href", ""))}</text>')
        x = _x(act["at"], start, end)
        label = act.get("verb", "")
        parts.append(f'<line x1="{x}" y1="{y - 16}" x2="{x}" y2="{y + 16}" stroke="#468" stroke-dasharray="2,2"/>'
                     f'<text x="{x + 2}" y="{y - 18}" font-size="9">{escape(label)}</text>')
    return parts


def _requests(requests: list[dict[str, Any]], start: float, end: float) -> list[str]:
    parts = []
    y = _LANES["DUT"]
    for request in requests[-_MAX_MARKS:]:
        x = _x(request["at"], start, end)
        colour = "#2a7" if request.get("status", 0) < 400 else "#c33"
        if not request.get("dut", True):
            colour = "#bbb"
        tall = 14 if request["method"] in ("PUT", "POST", "DELETE") else 6
        title = f'{request["method"]} {request["path"]} -> {request.get("status")} at +{request["at"] - start:.0f} s'
        parts.append(f'<line x1="{x}" y1="{y - tall}" x2="{x}" y2="{y + tall}" stroke="{colour}">'
                     f'<title>{escape(title)}</title></line>')
        if request.get("detail"):
            parts.append(f'<text x="{x}" y="{y + 26}" font-size="9" text-anchor="middle">'
                         f'{escape(request["detail"])}</text>')
    return parts


def _awaits(awaits: list[dict[str, Any]], start: float, end: float) -> list[str]:
    parts = []
    for number, wanted in enumerate(awaits):
        y = _LANES["awaited"] + (number % 3) * 6 - 6
        begin = wanted.get("after") or wanted.get("from") or start
        x1, x2 = _x(begin, start, end), _x(wanted["by"], start, end)
        at = wanted.get("at")
        ok = at is not None and at <= wanted["by"] and (wanted.get("after") is None or at >= wanted["after"])
        colour = "#2a7" if ok else "#c33"
        title = f'step {wanted["step"]} {wanted["name"]}: {wanted["request"]}'
        title += f", came at +{at - start:.0f} s" if at is not None else ", never came"
        parts.append(f'<line x1="{x1}" y1="{y}" x2="{max(x2, x1 + 1)}" y2="{y}" stroke="{colour}" stroke-width="3" '
                     f'stroke-opacity="0.5"><title>{escape(title)}</title></line>')
        if at is not None:
            xa = _x(at, start, end)
            parts.append(f'<circle cx="{xa}" cy="{y}" r="3" fill="{colour}"><title>{escape(title)}</title></circle>')
        else:
            parts.append(f'<text x="{x2}" y="{y + 4}" font-size="12" fill="#c33" text-anchor="middle">✕'
                         f'<title>{escape(title)}</title></text>')
    return parts


def timeline_svg(timeline: dict[str, Any] | None) -> Markup | None:
    """The SVG of a client-role test's timeline, or None when the test has none (the server role)."""
    if not timeline:
        return None
    start = float(timeline["start"])
    marks = [r["at"] for r in timeline.get("requests", ())] + [a["by"] for a in timeline.get("awaits", ())]
    marks += [a["start"] + a["duration"] for a in timeline.get("acts", ()) if a.get("duration")]
    end = max([float(timeline["end"]), *marks])
    parts = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="205" '
             f'viewBox="0 0 {_WIDTH} 205" font-family="sans-serif">']
    parts += _axis(start, end)
    parts += _acts(list(timeline.get("acts", ())), start, end)
    parts += _requests(list(timeline.get("requests", ())), start, end)
    parts += _awaits(list(timeline.get("awaits", ())), start, end)
    scale = timeline.get("scale", 1)
    if scale != 1:
        parts.append(f'<text x="{_RIGHT}" y="14" font-size="10" text-anchor="end">server seconds; time scale '
                     f'{scale:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
