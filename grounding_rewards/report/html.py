"""A self-contained HTML report: metric summary, reward histograms and a worst-first gallery.

The page has no script and loads nothing: images are embedded as ``data:`` URIs and a
Content-Security-Policy forbids everything else, so it can be mailed or archived as one
file. Completions are untrusted model output: every piece of text is HTML-escaped
before it is placed in the page, so a completion cannot inject markup.

Each gallery card shows the image with the ground-truth boxes (blue, dashed) and the
predicted boxes (orange) drawn as SVG over it, each labelled (a prediction with the
IoU of its match), and for a rollout that zoomed, its crops (green, dotted, with their
score S), then the rewards, the format issues and the completion with its
grounded spans highlighted.

Example:
    >>> from grounding_rewards.metrics import RolloutEvaluator, Rollout
    >>> ev = RolloutEvaluator(coco=False)
    >>> _ = ev.add(Rollout("<think><obj><b>x</b></obj><bbox>[0,0,5,5]</bbox></think><answer>A"
    ...                    "</answer>", {"answer": "A", "gt_boxes": [[0, 0, 5, 5]]}))
    >>> page = render_report(ev.compute(), ev.gallery())
    >>> "<b>x</b>" in page, "&lt;b&gt;x&lt;/b&gt;" in page
    (False, True)
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grounding_rewards._atomic import write_text_atomic
from grounding_rewards.metrics.evaluation import (
    EvaluationResult,
    Histogram,
    SampleView,
)
from grounding_rewards.report.draw import GT_COLOR, PRED_COLOR, box_caption, load_image
from grounding_rewards.report.summary import format_value, summary_rows

__all__ = ["ZOOM_COLOR", "render_report", "resolve_image", "write_report"]

ZOOM_COLOR: tuple[int, int, int] = (0, 158, 115)
"""Zoom crops in the report: bluish green (Okabe-Ito)."""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header,main{max-width:1200px;margin:0 auto;padding:12px 20px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:22px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}
td.num{text-align:right;font-variant-numeric:tabular-nums}.help{color:#666}
.hists{display:flex;flex-wrap:wrap;gap:18px}.hist figcaption{font-weight:600}
.card{display:flex;flex-wrap:wrap;gap:18px;background:#fff;border:1px solid #ddd;
border-radius:6px;padding:12px;margin:14px 0}
.card figure{margin:0;flex:0 1 520px;max-width:100%}
.card svg.overlay{width:100%;height:auto;max-height:560px;display:block;background:#ececec}
.meta{flex:1 1 420px;min-width:300px}
.legend span{display:inline-block;margin-right:12px}
.sw{display:inline-block;width:14px;height:4px;vertical-align:middle;margin-right:4px}
pre.completion{white-space:pre-wrap;word-break:break-word;background:#f4f4f4;padding:8px;
border-radius:4px;max-height:360px;overflow:auto;font-size:12.5px}
mark.span{border-radius:3px;padding:0 1px}mark.matched{background:#ffe2a8}
mark.unmatched{background:#ffc2c2}mark.uncounted{background:#dde3ea}
ul.issues{margin:4px 0;padding-left:18px;color:#8a1c1c}.note{color:#666;font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _rgb(color: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*color)


def resolve_image(image: str | None, images_dir: str | Path | None) -> Path | None:
    """The file an image reference points at: absolute as is, else under ``images_dir``.

    Example:
        >>> resolve_image("a/b.png", "/data").as_posix(), resolve_image(None, "/data")
        ('/data/a/b.png', None)
    """
    if not image:
        return None
    path = Path(image)
    if path.is_absolute() or images_dir is None:
        return path
    return Path(images_dir) / path


def _embed(
    path: Path | None, max_side: int
) -> tuple[str | None, tuple[int, int] | None, str | None]:
    """``(data_uri, original_size, problem)`` for an image file."""
    if path is None:
        return None, None, "no image recorded"
    try:
        image = load_image(path)
    except (OSError, ValueError) as exc:
        return None, None, f"image unavailable: {path} ({type(exc).__name__})"
    size = image.size
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/jpeg;base64,{data}", size, None


def _extent(view: SampleView) -> tuple[float, float]:
    xs = [b[2] for b in view.gt_boxes] + [s.box[2] for s in view.spans if s.box is not None]
    ys = [b[3] for b in view.gt_boxes] + [s.box[3] for s in view.spans if s.box is not None]
    finite_x = [x for x in xs if math.isfinite(x) and x > 0]
    finite_y = [y for y in ys if math.isfinite(y) and y > 0]
    return (max(finite_x, default=100.0) * 1.05, max(finite_y, default=100.0) * 1.05)


def _box_svg(
    box: Sequence[float], caption: str, color: tuple[int, int, int], font: float, dashed: bool
) -> str:
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x2 <= x1 or y2 <= y1:
        return ""
    dash = ' stroke-dasharray="8 4"' if dashed else ""
    if color == ZOOM_COLOR:
        dash = ' stroke-dasharray="2 3"'  # dotted: a crop, not a box the model claimed
    ty = y1 - font * 0.3 if y1 - font >= 0 else y1 + font
    return (
        f'<rect x="{x1:.2f}" y="{y1:.2f}" width="{x2 - x1:.2f}" height="{y2 - y1:.2f}" fill="none" '
        f'stroke="{_rgb(color)}" stroke-width="3" vector-effect="non-scaling-stroke"{dash}/>'
        f'<text x="{x1 + 2:.2f}" y="{ty:.2f}" font-size="{font:.2f}" fill="{_rgb(color)}" '
        f'stroke="#fff" stroke-width="{font / 6:.2f}" paint-order="stroke">{_e(caption)}</text>'
    )


def _figure(view: SampleView, images_dir: str | Path | None, max_side: int) -> str:
    uri, original, problem = _embed(resolve_image(view.image, images_dir), max_side)
    if view.image_size is not None:
        width, height = view.image_size
    elif original is not None:
        width, height = original
    else:
        width, height = _extent(view)
    font = max(width, height) / 36
    parts = [
        '<svg class="overlay" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width:.2f} {height:.2f}" '
        f'role="img" aria-label="image with boxes">'
    ]
    if uri is not None:
        parts.append(
            f'<image href="{uri}" x="0" y="0" width="{width:.2f}" height="{height:.2f}" '
            'preserveAspectRatio="none"/>'
        )
    for k, box in enumerate(view.gt_boxes):
        label = view.gt_labels[k] if view.gt_labels is not None else ""
        parts.append(_box_svg(box, box_caption(label, None, predicted=False), GT_COLOR, font, True))
    for span in view.spans:
        if span.box is not None and span.counted:
            caption = box_caption(span.label, span.iou, predicted=True)
            parts.append(_box_svg(span.box, caption, PRED_COLOR, font, False))
    for box, caption in view.zoom_crops:
        parts.append(_box_svg(box, caption, ZOOM_COLOR, font, False))
    parts.append("</svg>")
    legend = (
        '<div class="legend">'
        f'<span><i class="sw" style="background:{_rgb(GT_COLOR)}"></i>ground truth</span>'
        f'<span><i class="sw" style="background:{_rgb(PRED_COLOR)}"></i>predicted</span>'
        + (
            f'<span><i class="sw" style="background:{_rgb(ZOOM_COLOR)}"></i>zoom crop</span>'
            if view.zoom_crops
            else ""
        )
        + "</div>"
    )
    note = f'<div class="note">{_e(problem)}</div>' if problem and view.image else ""
    return f"<figure>{''.join(parts)}{legend}{note}</figure>"


def _completion_html(view: SampleView) -> str:
    text = view.completion
    pieces = []
    cursor = 0
    # Spans of one plural <obj> share their text range: highlight it once, list every box.
    ranges: dict[tuple[int, int], list[Any]] = {}
    for span in view.spans:
        ranges.setdefault((span.start, span.end), []).append(span)
    for (start, end), spans in sorted(ranges.items()):
        if start < cursor or end > len(text) or start >= end:
            continue
        counted = [s for s in spans if s.counted]
        if not counted:
            kind, tip = "uncounted", "outside the counted region"
        elif any(s.iou is not None for s in counted):
            kind = "matched"
            tip = "; ".join(
                f"IoU {s.iou:.2f} with ground truth #{s.gt_index}"
                if s.iou is not None
                else "unmatched"
                for s in counted
            )
        else:
            kind, tip = "unmatched", "matched no ground-truth box"
        pieces.append(_e(text[cursor:start]))
        pieces.append(f'<mark class="span {kind}" title="{_e(tip)}">{_e(text[start:end])}</mark>')
        cursor = end
    pieces.append(_e(text[cursor:]))
    return f'<pre class="completion">{"".join(pieces)}</pre>'


def _card(view: SampleView, rank: int, images_dir: str | Path | None, max_side: int) -> str:
    rows = "".join(
        f"<tr><th>{_e(name)}</th>"
        f'<td class="num">{_e(format_value(view.rewards.get(name)))}</td></tr>'
        for name in view.rewards
    )
    if view.sample_iou is not None:
        rows += (
            f'<tr><th>sample IoU</th><td class="num">{_e(format_value(view.sample_iou))}</td></tr>'
        )
    issues = "".join(
        f"<li><code>{_e(code)}</code> {_e(message)}</li>" for code, message in view.issues
    )
    title = f"#{rank} · rollout {view.index}" + (f" · id {view.id}" if view.id is not None else "")
    answer = (
        f"<p>answer: <code>{_e(view.answer if view.answer is not None else '(none)')}</code>"
        f" · expected: <code>{_e(view.expected if view.expected is not None else 'n/a')}</code></p>"
    )
    return (
        f'<section class="card" id="sample-{view.index}">'
        f"{_figure(view, images_dir, max_side)}"
        f'<div class="meta"><h3>{_e(title)}</h3><div class="note">{_e(view.source)}</div>'
        f"<table>{rows}</table>{answer}"
        f"{f'<ul class=issues>{issues}</ul>' if issues else ''}"
        f"{_completion_html(view)}</div></section>"
    )


def _histogram_svg(name: str, hist: Histogram) -> str:
    width, height, pad = 300.0, 120.0, 18.0
    top = max(hist.counts, default=0) or 1
    bar = (width - 2 * pad) / len(hist.counts)
    bars = []
    for k, count in enumerate(hist.counts):
        h = (height - 2 * pad) * count / top
        bars.append(
            f'<rect x="{pad + k * bar:.2f}" y="{height - pad - h:.2f}" '
            f'width="{max(bar - 1, 1):.2f}" '
            f'height="{h:.2f}" fill="#4a78a8"><title>{_e(f"{count}")}</title></rect>'
        )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#888"/>'
        f'<text x="{pad}" y="{height - 4}" font-size="10">{hist.low:g}</text>'
        f'<text x="{width - pad}" y="{height - 4}" font-size="10" '
        f'text-anchor="end">{hist.high:g}</text>'
        f'<text x="{pad}" y="12" font-size="10">max {top}</text>'
    )
    missing = f" ({hist.missing} not applicable)" if hist.missing else ""
    return (
        f'<figure class="hist"><figcaption>{_e(name)}{_e(missing)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}">{"".join(bars)}{axis}</svg></figure>'
    )


def render_report(
    result: EvaluationResult,
    gallery: Sequence[SampleView],
    *,
    title: str = "grounding-rewards evaluation",
    source: str | None = None,
    images_dir: str | Path | None = None,
    max_image_side: int = 640,
) -> str:
    """Render the whole report as one HTML string.

    Args:
        result: The evaluation (:meth:`RolloutEvaluator.compute`).
        gallery: Rollouts to show, in order (:meth:`RolloutEvaluator.gallery` is worst first).
        title: Page title.
        source: What was evaluated (shown under the title).
        images_dir: Where relative image paths are resolved.
        max_image_side: Embedded images are shrunk to this many pixels per side.

    Returns:
        The HTML document.

    Raises:
        MissingDependencyError: When a gallery rollout has an image and Pillow is missing.
    """
    rows = "".join(
        f"<tr><td>{_e(r.section)}</td><td>{_e(r.name)}</td>"
        f'<td class="num">{_e(format_value(r.value))}</td>'
        f'<td class="num">{"" if r.count is None else _e(r.count)}</td>'
        f'<td class="help">{_e(r.help)}</td></tr>'
        for r in summary_rows(result)
    )
    hists = "".join(
        _histogram_svg(f"R_{name}", histogram) for name, histogram in result.histograms.items()
    )
    cards = "".join(
        _card(view, k + 1, images_dir, max_image_side) for k, view in enumerate(gallery)
    )
    config = ", ".join(f"{k}={v}" for k, v in result.config.items() if not k.endswith("_tag"))
    subtitle = f"{_e(source)} · " if source else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><div class=note>{subtitle}{result.rollouts} rollouts · "
        f"{_e(config)}</div></header><main>"
        f'<h2>Summary</h2><table class="summary"><tr><th>section</th><th>metric</th><th>value</th>'
        f"<th>n</th><th>definition</th></tr>{rows}</table>"
        f'<h2>Reward histograms</h2><div class="hists">{hists}</div>'
        f"<h2>Gallery: {len(gallery)} lowest total rewards, worst first</h2>{cards}"
        "</main></body></html>\n"
    )


def write_report(
    path: str | Path, result: EvaluationResult, gallery: Sequence[SampleView], **options: Any
) -> Path:
    r"""Render the report and write it to ``path`` (UTF-8) atomically; return the path.

    The old file stays intact until the new one is complete; text that UTF-8
    cannot encode (a lone surrogate from a completion) is written as a visible
    ``\udXXX`` escape (see :func:`grounding_rewards._atomic.encode_text`).

    Args:
        path: Output file.
        result: The evaluation.
        gallery: Rollouts to show.
        **options: Passed to :func:`render_report`.
    """
    return write_text_atomic(path, render_report(result, gallery, **options))
