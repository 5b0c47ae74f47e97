"""Main caption (level 1) and branch captions (level 2) from the captioning VLM.

Example:
    >>> import asyncio, io
    >>> from PIL import Image
    >>> from grounding_rewards.synthesis.backends.offline import OfflineBackend
    >>> from grounding_rewards.synthesis.config import SynthesisConfig
    >>> from grounding_rewards.synthesis.stages.common import StageContext
    >>> backend = OfflineBackend()
    >>> context = StageContext(SynthesisConfig(), backend, backend, record_id="r")
    >>> buffer = io.BytesIO(); Image.new("RGB", (32, 32), "white").save(buffer, "PNG")
    >>> answer = asyncio.run(main_caption(context, buffer.getvalue(), (32, 32)))
    >>> answer.caption
    'A bright image, mostly white. No distinct object stands out.'
"""

from __future__ import annotations

from collections.abc import Mapping

from grounding_rewards.synthesis.stages.common import (
    BranchAnswer,
    MainCaptionAnswer,
    StageContext,
    StageFailedError,
    ask,
    ask_many,
    clean_label,
    clean_text,
)

__all__ = ["branch_captions", "main_caption"]


async def main_caption(
    context: StageContext, image_bytes: bytes, size: tuple[int, int]
) -> MainCaptionAnswer:
    """Caption the whole image and list the object nouns it names (cleaned, unique).

    Raises:
        StageFailedError: When the backend fails or its JSON stays malformed.
    """
    request = context.request(
        "main_caption",
        {"width": size[0], "height": size[1]},
        [image_bytes],
        MainCaptionAnswer,
        subject="image",
    )
    try:
        answer = await ask(
            context.captioner, request, MainCaptionAnswer, retries=context.config.json_retries
        )
    except StageFailedError as failure:
        failure.stage = "main_caption"
        raise
    labels = [clean_label(label) for label in answer.objects]
    unique = sorted({label for label in labels if label})
    caption = clean_text(answer.caption)
    if not caption:
        raise StageFailedError("main_caption", "empty_caption", "the captioner returned no caption")
    return MainCaptionAnswer(caption=caption, objects=unique)


async def branch_captions(
    context: StageContext, crops: Mapping[str, tuple[str, bytes]]
) -> dict[str, BranchAnswer | StageFailedError]:
    """Caption every crop, in one batch.

    Args:
        context: The stage context.
        crops: Object id -> ``(label, encoded crop)``.

    Returns:
        Object id -> its branch caption, or the failure that replaced it.
    """
    ids = list(crops)
    requests = [
        context.request(
            "branch_caption", {"label": crops[i][0]}, [crops[i][1]], BranchAnswer, subject=i
        )
        for i in ids
    ]
    answers = await ask_many(
        context.captioner, requests, BranchAnswer, retries=context.config.json_retries
    )
    results: dict[str, BranchAnswer | StageFailedError] = {}
    for object_id, answer in zip(ids, answers, strict=True):
        if isinstance(answer, StageFailedError):
            answer.stage, answer.subject = "branch_caption", object_id
        results[object_id] = answer
    return results
