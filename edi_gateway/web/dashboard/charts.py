"""Charts drawn on the server as SVG: no JavaScript library, no CDN, readable without
scripts. Each function takes plain numbers and returns markup."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 24


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def _fmt(value: float) -> str:
    if value >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0")


def _frame(maximum: float, labels: Sequence[str], title: str) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(maximum * i / 4)}</text>"
        )
    n = max(len(labels), 1)
    every = max(1, n // 8)
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + plot_w * (i + 0.5) / n
        out.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle">{escape(label)}</text>'
        )
    return out


def bars(values: Sequence[float], labels: Sequence[str], title: str) -> Markup:
    maximum = _nice_max(max(values, default=0))
    out = _frame(maximum, labels, title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(values), 1)
    slot = plot_w / n
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = plot_h * value / maximum
        x = LEFT + slot * i + slot * 0.15
        out.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}"><title>{escape(label)}: {_fmt(value)}</title></rect>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def lines(
    series: Sequence[tuple[str, Sequence[float | None]]], labels: Sequence[str], title: str
) -> Markup:
    """Several series over the same buckets; None is a gap (no data in that bucket)."""
    peak = max((v for _, vs in series for v in vs if v is not None), default=0.0)
    maximum = _nice_max(peak)
    out = _frame(maximum, labels, title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(labels), 1)
    for k, (name, values) in enumerate(series):
        points: list[str] = []
        for i, v in enumerate(values):
            if v is None:
                continue
            x = LEFT + plot_w * (i + 0.5) / n
            y = TOP + plot_h - plot_h * v / maximum
            points.append(f"{x:.1f},{y:.1f}")
            out.append(
                f'<circle class="dot s{k}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(name)} {escape(labels[i])}: {_fmt(v)}</title></circle>"
            )
        if len(points) > 1:
            out.append(f'<polyline class="line s{k}" points="{" ".join(points)}"/>')
    for k, (name, _) in enumerate(series):
        x = LEFT + 8 + k * 110
        out.append(f'<rect class="key s{k}" x="{x}" y="{TOP}" width="10" height="10"/>')
        out.append(f'<text class="legend" x="{x + 14}" y="{TOP + 9}">{escape(name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
