"""Visual reports: a self-contained HTML report and PNG box overlays.

Example:
    >>> from grounding_rewards.report import GT_COLOR, PRED_COLOR
    >>> GT_COLOR != PRED_COLOR
    True
"""

from grounding_rewards.report.draw import (
    GT_COLOR,
    PRED_COLOR,
    box_caption,
    draw_overlay,
    load_image,
    save_overlay,
)
from grounding_rewards.report.html import render_report, resolve_image, write_report
from grounding_rewards.report.summary import SummaryRow, format_value, summary_rows

__all__ = [
    "GT_COLOR",
    "PRED_COLOR",
    "SummaryRow",
    "box_caption",
    "draw_overlay",
    "format_value",
    "load_image",
    "render_report",
    "resolve_image",
    "save_overlay",
    "summary_rows",
    "write_report",
]
