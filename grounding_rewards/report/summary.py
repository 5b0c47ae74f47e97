"""The metric summary as rows, shared by the terminal table and the HTML report.

Example:
    >>> from grounding_rewards.metrics import RolloutEvaluator, Rollout
    >>> ev = RolloutEvaluator(coco=False)
    >>> _ = ev.add(Rollout("<think>x</think><answer>A</answer>", {"answer": "A"}))
    >>> rows = summary_rows(ev.compute())
    >>> [(r.name, r.value) for r in rows if r.name in ("answer accuracy", "reward: total")]
    [('reward: total', 1.0), ('answer accuracy', 1.0)]
"""

from __future__ import annotations

from dataclasses import dataclass

from grounding_rewards.metrics.evaluation import EvaluationResult
from grounding_rewards.metrics.grounding import threshold_key
from grounding_rewards.parsing import ISSUE_CODES

__all__ = ["SummaryRow", "format_value", "summary_rows"]


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One line of the summary.

    Attributes:
        section: ``rewards``, ``grounding``, ``coco``, ``reasoning``, ``zoom`` or
            ``format issues``.
        name: Metric name as shown.
        value: The number (``None``: not applicable).
        count: What it averages over, when meaningful.
        help: One-line definition.
    """

    section: str
    name: str
    value: float | None
    count: int | None
    help: str


def format_value(value: float | None) -> str:
    """Four decimals, or ``n/a``.

    Example:
        >>> format_value(0.5), format_value(None)
        ('0.5000', 'n/a')
    """
    return "n/a" if value is None else f"{value:.4f}"


def summary_rows(result: EvaluationResult) -> list[SummaryRow]:
    """The headline numbers of an evaluation, in display order."""
    rows = []
    for name in result.rewards:
        rows.append(
            SummaryRow(
                "rewards",
                f"reward: {name}",
                result.rewards[name],
                result.reward_counts[name],
                f"mean R_{name} over rollouts where it applies",
            )
        )
    g = result.grounding
    rows.append(
        SummaryRow("grounding", "mIoU", g.miou, g.samples, "mean of Σ matched IoU / max(n, m)")
    )
    for t in g.accuracy:
        if t in (0.5, 0.75):
            rows.append(
                SummaryRow(
                    "grounding",
                    f"Acc@{threshold_key(t)}",
                    g.accuracy[t],
                    g.samples,
                    f"share of samples with n = m and every pair IoU ≥ {threshold_key(t)}",
                )
            )
    mean_acc = g.as_dict().get("acc@0.5:0.95")
    if mean_acc is not None:
        rows.append(
            SummaryRow(
                "grounding", "Acc@0.5:0.95", mean_acc, g.samples, "mean Acc over IoU 0.50:0.95"
            )
        )
    primary = 0.5 if 0.5 in g.precision else next(iter(g.precision))
    key = threshold_key(primary)
    for name, values in (("precision", g.precision), ("recall", g.recall), ("F1", g.f1)):
        rows.append(
            SummaryRow(
                "grounding",
                f"{name}@{key}",
                values[primary],
                None,
                f"one-to-one {name} at IoU ≥ {key}, micro-averaged",
            )
        )
    if result.coco is not None:
        for name, help_text in (
            ("ap", "COCO AP, IoU 0.50:0.95"),
            ("ap50", "COCO AP at IoU 0.50"),
            ("ap75", "COCO AP at IoU 0.75"),
            ("ar100", "COCO AR, 100 detections"),
        ):
            rows.append(
                SummaryRow("coco", name.upper(), getattr(result.coco, name), None, help_text)
            )
    r = result.reasoning
    c = r.counts
    tau = threshold_key(r.threshold)
    rows.extend(
        [
            SummaryRow(
                "reasoning", "answer accuracy", r.answer_accuracy, c.answers, "mean R_accuracy"
            ),
            SummaryRow(
                "reasoning",
                "format validity",
                r.format_validity,
                c.completions,
                "share with R_format = 1",
            ),
            SummaryRow(
                "reasoning",
                "spans / completion",
                r.spans_per_completion,
                c.completions,
                "counted grounded spans",
            ),
            SummaryRow(
                "reasoning",
                f"box precision@{tau}",
                r.box_precision,
                c.n_pred,
                "matched at IoU ≥ τ / predicted boxes",
            ),
            SummaryRow(
                "reasoning",
                f"box recall@{tau}",
                r.box_recall,
                c.n_gt,
                "matched at IoU ≥ τ / ground-truth boxes",
            ),
            SummaryRow(
                "reasoning",
                f"hallucinated boxes@{tau}",
                r.hallucinated_box_rate,
                c.valid_boxes,
                "valid boxes overlapping no ground truth at τ",
            ),
            SummaryRow(
                "reasoning",
                "label agreement",
                r.label_agreement,
                c.label_pairs,
                "matched pairs whose labels agree",
            ),
            SummaryRow(
                "reasoning",
                "CHAIR_i (mentions)",
                r.chair_mention,
                c.mentions,
                "object mentions absent from the ground truth",
            ),
            SummaryRow(
                "reasoning",
                "CHAIR_s (completions)",
                r.chair_completion,
                c.chair_completions,
                "completions with such a mention",
            ),
        ]
    )
    rows.extend(_zoom_rows(result))
    for code, rate in sorted(r.issue_rates.items(), key=lambda item: -item[1]):
        rows.append(
            SummaryRow("format issues", code, rate, c.issues[code], ISSUE_CODES.get(code, ""))
        )
    return rows


_ZOOM_ROWS = (
    ("zoom_precision", "zoom precision", "valid crops that hold an evidence box (S ≥ 0.5)"),
    ("zoom_recall", "zoom recall", "evidence boxes held by some crop (S ≥ 0.5)"),
    ("calls_per_answer", "calls / answer", "zoom calls per rollout with a final answer"),
    ("accuracy_with_zoom", "accuracy with zoom", "answer accuracy of rollouts that zoomed"),
    ("accuracy_without_zoom", "accuracy without zoom", "answer accuracy of those that did not"),
    ("zoom_reward", "mean R_zoom", "mean zoom_reward where there is evidence"),
)


def _zoom_rows(result: EvaluationResult) -> list[SummaryRow]:
    """The zoom section, when rollouts carried zoom calls (see ``ZoomMetrics``)."""
    if result.zoom is None:
        return []
    counted = result.zoom.get("rollouts")
    count = None if counted is None else int(counted)
    return [
        SummaryRow("zoom", name, result.zoom.get(key), count, text)
        for key, name, text in _ZOOM_ROWS
    ]
