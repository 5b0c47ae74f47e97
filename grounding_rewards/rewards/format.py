"""R_format: does the completion follow the grounded-trace template?

Checks (each pass/fail):

1. ``structure``: one reasoning block, then one answer block, nothing but
   whitespace outside them, no nested, unclosed, stray or mis-cased tags.
2. ``answer``: the answer block exists and is not empty.
3. ``grounding``: every ``<obj>`` is followed by a readable ``<bbox>`` (or ``<point>``),
   every box has its label, no label is empty; in other dialects, every box or point
   can be read (JSON that cannot be read or is cut off fails here).
4. ``boxes_valid``: every box is finite with ``x1 < x2`` and ``y1 < y2``, every point finite.
5. ``boxes_in_image``: every box and point lies inside the image (checked when the image
   size is known; for ``norm1000``/``norm100``/``norm1`` against the space's own range
   without it).
6. ``min_spans``: at least ``min_spans`` grounded spans (boxes plus points) in the
   counted region.

A *blockless* completion (no ``<think>``/``<answer>`` at all, in a dialect other than
``tags``, see ``RewardConfig.require_blocks``) is a plain grounding answer: checks 1 and 2
do not apply to it.

``strict`` mode gives 1 when all checks pass, else 0; ``graded`` gives the fraction
passed. A completion over ``max_chars``, not a string, or with more than
``max_boxes`` boxes scores 0 in both modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grounding_rewards._frozen import rebuild
from grounding_rewards.boxes import pixel_scale, validate_image_size
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.ground_truth import GroundTruth
from grounding_rewards.parsing import FormatIssue, Trace
from grounding_rewards.rewards._trace import as_trace

__all__ = ["FormatResult", "check_format", "format_checks", "format_component", "format_reward"]

_STRUCTURE = frozenset(
    {
        "missing_think",
        "duplicate_block",
        "nested_tag",
        "unclosed_tag",
        "stray_closing_tag",
        "misordered_blocks",
        "text_outside_blocks",
        "miscased_tag",
    }
)
_ANSWER = frozenset({"missing_answer", "empty_answer"})
_GROUNDING = frozenset(
    {
        "obj_without_bbox",
        "bbox_without_obj",
        "empty_label",
        "unparsable_bbox",
        "unparsable_point",
        "malformed_json",
        "truncated_json",
    }
)
_FATAL = frozenset({"not_text", "too_long", "too_many_boxes"})
_NO_CODES: frozenset[str] = frozenset()
_RANGE = {"norm1000": 1000.0, "norm100": 100.0, "norm1": 1.0}
_TOLERANCE = 1e-6  # relative: a box on the border of the image is inside


@dataclass(frozen=True, slots=True)
class FormatResult:
    """Outcome of the format checks.

    Attributes:
        score: R_format in ``[0, 1]``.
        checks: ``(name, passed)`` for each check that applied.
        issues: Parser issues plus ``box_out_of_image`` / ``too_few_spans``.
    """

    score: float
    checks: tuple[tuple[str, bool], ...]
    issues: tuple[FormatIssue, ...]

    @property
    def value(self) -> float:
        """R_format, under the name every component result uses."""
        return self.score

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through the constructor (works compiled too, see ``_frozen``)."""
        return rebuild(self)


def _image_bounds(
    config: RewardConfig, image_size: tuple[float, float] | None
) -> tuple[float, float, float, float]:
    """``(sx, sy, width, height)``: scale to pixels and the bounds to check against."""
    if image_size is not None:
        width, height = image_size
        sx, sy = pixel_scale(
            config.coords,
            (width, height),
            min_pixels=config.min_pixels,
            max_pixels=config.max_pixels,
        )
        return sx, sy, width, height
    limit = _RANGE.get(config.coords)
    if limit is None:
        return 1.0, 1.0, -1.0, -1.0  # unknown: no check
    return 1.0, 1.0, limit, limit


def check_format(
    completion: object,
    *,
    image_size: Sequence[float] | dict[str, float] | None = None,
    config: RewardConfig | None = None,
) -> FormatResult:
    """Run every format check and return the score with the details.

    Args:
        completion: The completion, or its parsed trace (anything else is read as a
            completion that is not text: it never raises).
        image_size: ``(width, height)`` of the original image, when known.
        config: Configuration; ``None`` uses the defaults.

    Returns:
        The :class:`FormatResult`.

    Raises:
        GroundTruthError: For a malformed ``image_size`` (the caller's data).

    Example:
        >>> result = check_format("<think>no boxes</think><answer>A</answer>")
        >>> result.score, [name for name, ok in result.checks if not ok]
        (0.0, ['min_spans'])
    """
    config = config or DEFAULT_CONFIG
    size = None if image_size is None else validate_image_size(image_size)
    return format_checks(as_trace(completion, config), size, config)


def format_checks(
    trace: Trace, image_size: tuple[float, float] | None, config: RewardConfig
) -> FormatResult:
    """Run the format checks on a parsed trace with an already validated image size.

    Args:
        trace: The parsed completion.
        image_size: Validated ``(width, height)``, or ``None``.
        config: Configuration.

    Returns:
        The :class:`FormatResult`.

    Example:
        >>> from grounding_rewards import parse_trace
        >>> format_checks(parse_trace("<answer>A</answer>"), None, DEFAULT_CONFIG).score
        0.0
    """
    codes = {issue.code for issue in trace.issues} if trace.issues else _NO_CODES
    if codes and codes & _FATAL:
        return FormatResult(0.0, (("readable", False),), trace.issues)
    issues = list(trace.issues)
    # A blockless completion (a plain grounding answer, in a dialect that allows one)
    # has no template to follow: it is judged on its grounding alone.
    checks = (
        []
        if trace.blockless
        else [
            ("structure", not codes & _STRUCTURE),
            ("answer", not codes & _ANSWER),
        ]
    )
    checks += [
        ("grounding", not codes & _GROUNDING),
        ("boxes_valid", "degenerate_box" not in codes and "degenerate_point" not in codes),
    ]
    if image_size is not None and config.coords == "pixel":  # the common case, inlined
        sx, sy, (width, height) = 1.0, 1.0, image_size
    else:
        sx, sy, width, height = _image_bounds(config, image_size)
    if width > 0:
        tol_x, tol_y = _TOLERANCE * width, _TOLERANCE * height
        inside = True
        for span in trace.spans:
            if not span.valid:
                continue
            x1, y1, x2, y2 = span.box
            if (
                x1 * sx < -tol_x
                or y1 * sy < -tol_y
                or x2 * sx > width + tol_x
                or y2 * sy > height + tol_y
            ):
                inside = False
                issues.append(
                    FormatIssue(
                        "box_out_of_image", span.start, f"box {span.box} is outside the image"
                    )
                )
                break
        if inside:
            for point in trace.points:
                x, y = point.point
                if not point.valid or (
                    -tol_x <= x * sx <= width + tol_x and -tol_y <= y * sy <= height + tol_y
                ):
                    continue
                inside = False
                issues.append(
                    FormatIssue(
                        "box_out_of_image", point.start, f"point {point.point} is outside the image"
                    )
                )
                break
        checks.append(("boxes_in_image", inside))
    counted = len(trace.counted_spans(config))
    if trace.points:
        counted += len(trace.counted_points(config))
    enough = counted >= config.min_spans
    if not enough:
        issues.append(
            FormatIssue(
                "too_few_spans", 0, f"{counted} grounded spans < min_spans {config.min_spans}"
            )
        )
    checks.append(("min_spans", enough))
    passed = sum(ok for _, ok in checks)
    if config.format_mode == "strict":
        score = 1.0 if passed == len(checks) else 0.0
    else:
        score = passed / len(checks)
    return FormatResult(score, tuple(checks), tuple(issues))


def format_reward(
    completion: object,
    *,
    image_size: Sequence[float] | dict[str, float] | None = None,
    config: RewardConfig | None = None,
) -> float:
    """R_format in ``[0, 1]``: 1 (strict) or the fraction of checks passed (graded).

    Args:
        completion: The completion, or its parsed trace (anything else is read as a
            completion that is not text: it never raises).
        image_size: ``(width, height)`` of the original image, when known; enables
            the inside-the-image check.
        config: Configuration; ``None`` uses the defaults.

    Returns:
        The format reward.

    Example:
        >>> good = "<think>A <obj>cat</obj><bbox>[1, 1, 9, 9]</bbox>.</think><answer>B</answer>"
        >>> format_reward(good), format_reward(good, image_size=(8, 8))
        (1.0, 0.0)
        >>> format_reward("<think>x</think>", config=RewardConfig(format_mode="graded"))
        0.6
    """
    return check_format(completion, image_size=image_size, config=config).score


def format_component(trace: Trace, truth: GroundTruth, config: RewardConfig) -> FormatResult:
    """The registered ``format`` component: :func:`format_checks` on validated ground truth.

    Example:
        >>> from grounding_rewards import parse_trace, parse_ground_truth
        >>> format_component(parse_trace("<think>x</think><answer>A</answer>"),
        ...                  parse_ground_truth(), DEFAULT_CONFIG).value
        0.0
    """
    return format_checks(trace, truth.image_size, config)
