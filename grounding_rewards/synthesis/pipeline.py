"""Compose the stages into one record: async for the runner, sync for Ray workers.

Example:
    >>> from skimage import data
    >>> from grounding_rewards.synthesis.backends.offline import OfflineBackend
    >>> pipeline = Pipeline(OfflineBackend(), detectors=["face-cascade", "vlm"])
    >>> record = pipeline.process_sync(encode_array(data.astronaut()), source="astronaut.png")
    >>> record.status, [o.label for o in record.kept_objects()][:1]
    ('ok', ['face'])
    >>> all(item.rationale.startswith("<think>") for item in record.qa)
    True
    >>> record.id == pipeline.process_sync(encode_array(data.astronaut())).id
    True
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from grounding_rewards.synthesis.backends.base import Backend
from grounding_rewards.synthesis.backends.detectors import (
    Detector,
    FaceCascadeDetector,
    VLMGroundingDetector,
    make_detectors,
)
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.images import (
    ImageError,
    LoadedImage,
    encode_image,
    image_id,
    load_image,
    read_source,
)
from grounding_rewards.synthesis.prompts import load_template
from grounding_rewards.synthesis.records import (
    ImageInfo,
    ObjectRecord,
    Provenance,
    Record,
    RecordStats,
    StageError,
)
from grounding_rewards.synthesis.stages.caption import branch_captions, main_caption
from grounding_rewards.synthesis.stages.common import BranchAnswer, StageContext, StageFailedError
from grounding_rewards.synthesis.stages.crop import Crop, crop_and_zoom, snap_box
from grounding_rewards.synthesis.stages.detect import detect
from grounding_rewards.synthesis.stages.merge import dedupe, link_mentions, spatial_relations
from grounding_rewards.synthesis.stages.qa import generate_qa
from grounding_rewards.synthesis.stages.validate import validate_qa
from grounding_rewards.synthesis.stages.verify import (
    apply_verdicts,
    build_statements,
    check_statements,
    verify_statements,
)

__all__ = ["Pipeline", "encode_array", "process_record", "run_sync", "to_thread"]

T = TypeVar("T")
ImageSource = bytes | str | os.PathLike[str]


async def to_thread(function: Any, /, *args: Any, **kwargs: Any) -> Any:
    """:func:`asyncio.to_thread` that cannot hang on ``StopIteration``.

    A ``StopIteration`` raised in a worker thread cannot be set on an asyncio future
    (the awaiting task would wait forever); it is re-raised as ``RuntimeError``.
    """

    def guarded() -> Any:
        try:
            return function(*args, **kwargs)
        except (StopIteration, StopAsyncIteration) as exc:
            raise RuntimeError(f"{type(exc).__name__} in {function!r}") from exc

    return await asyncio.to_thread(guarded)


def encode_array(array: Any, image_format: str = "PNG") -> bytes:
    """Encode an ``[H, W(, C)]`` uint8 array (e.g. a ``skimage.data`` image) as PNG bytes."""
    from PIL import Image

    return encode_image(Image.fromarray(array), image_format)


def _model_name(backend: Backend) -> str:
    model = getattr(backend, "model", None)
    return f"{backend.name}:{model}" if model else backend.name


class Pipeline:
    """The synthesis pipeline for one record at a time (many records may run concurrently).

    Args:
        captioner: The VLM backend (main caption, grounding, branch captions).
        config: The configuration (defaults if ``None``).
        detectors: Detector instances or names: ``"vlm"`` (the captioner grounds its
            own caption's labels), ``"face-cascade"``, ``"owlv2[:model]"``,
            ``"grounding-dino[:model]"``.
        verifier: The verifier backend (the captioner if ``None``).
    """

    def __init__(
        self,
        captioner: Backend,
        *,
        config: SynthesisConfig | None = None,
        detectors: Sequence[Detector | str] | str = ("vlm",),
        verifier: Backend | None = None,
    ) -> None:
        self.config = config or SynthesisConfig()
        self.captioner = captioner
        self.verifier = verifier or captioner
        specs = [detectors] if isinstance(detectors, str) else list(detectors)
        self.detectors: list[Detector | str] = []
        for spec in specs:
            if isinstance(spec, str):
                self.detectors.extend(self._build_detector(name) for name in make_detectors(spec))
            else:
                self.detectors.append(spec)
        self.detector_names = [d if isinstance(d, str) else d.name for d in self.detectors]
        self.templates = {
            template.id: template.sha256
            for template in (
                load_template(name, version)
                for name, version in sorted(self.config.template_versions.items())
            )
        }
        self.models = {
            "captioner": _model_name(self.captioner),
            "verifier": _model_name(self.verifier),
            "detectors": ",".join(self.detector_names),
        }
        self.fingerprint = self.config.fingerprint(
            *(f"{k}={v}" for k, v in sorted(self.templates.items())),
            *(f"{k}={v}" for k, v in sorted(self.models.items())),
        )

    @staticmethod
    def _build_detector(name: str) -> Detector | str:
        kind, _, model = name.partition(":")
        if kind == "vlm":
            return "vlm"  # built per record: it needs the record's context and image
        if kind == "face-cascade":
            return FaceCascadeDetector()
        from grounding_rewards.synthesis.backends.transformers_local import ZeroShotDetector

        return ZeroShotDetector(kind, model or None)

    def record_id(self, sha256: str) -> str:
        """The deterministic record id of an image (by its bytes' SHA-256) under this pipeline."""
        return hashlib.sha256(f"{sha256}:{self.fingerprint}".encode()).hexdigest()[:32]

    def _provenance(self, context: StageContext | None) -> Provenance:
        from grounding_rewards import __version__

        templates = dict(self.templates)
        if context is not None:
            templates.update(context.templates_used)
        return Provenance(
            pipeline_version=__version__,
            config_fingerprint=self.fingerprint,
            config=self.config.model_dump(mode="json"),
            models=self.models,
            templates=templates,
            seed=self.config.seed,
        )

    def _failed(
        self,
        record_id: str,
        info: ImageInfo,
        error: StageError,
        context: StageContext | None = None,
    ) -> Record:
        return Record(
            id=record_id,
            status="failed",
            image=info,
            provenance=self._provenance(context),
            errors=[error],
        )

    async def process(self, source: ImageSource, *, source_name: str | None = None) -> Record:
        """Make the record of one image; failures come back as a ``failed`` record.

        Args:
            source: Encoded image bytes or a path.
            source_name: What to record as the source (defaults to the path).
        """
        try:
            data, name = await to_thread(read_source, source)
        except ImageError as exc:
            name = str(source_name or source)
            digest = hashlib.sha256(name.encode()).hexdigest()
            info = ImageInfo(id=image_id(digest), source=name, width=0, height=0, sha256=digest)
            error = StageError(stage="load", reason=exc.reason, message=exc.detail)
            return self._failed(self.record_id(digest), info, error)
        return await self.process_bytes(data, source=source_name or name)

    async def process_bytes(self, data: bytes, *, source: str = "<bytes>") -> Record:
        """Make the record of one encoded image (see :meth:`process`)."""
        sha256 = hashlib.sha256(data).hexdigest()
        record_id = self.record_id(sha256)
        config = self.config
        try:
            loaded = await to_thread(
                load_image,
                data,
                source=source,
                max_pixels=config.max_image_pixels,
                min_side=config.min_image_side,
            )
        except ImageError as exc:
            info = ImageInfo(id=image_id(sha256), source=source, width=0, height=0, sha256=sha256)
            error = StageError(stage="load", reason=exc.reason, message=exc.detail)
            return self._failed(record_id, info, error)
        context = StageContext(config, self.captioner, self.verifier, record_id=record_id)
        try:
            return await self._process_loaded(loaded, context)
        except StageFailedError as failure:
            return self._failed(record_id, loaded.info, failure.to_error(), context)

    async def _process_loaded(self, loaded: LoadedImage, context: StageContext) -> Record:
        config = self.config
        errors: list[StageError] = []
        view, scale = loaded.model_view(config.max_model_side)
        view_bytes = await to_thread(encode_image, view, config.image_format)

        caption = await main_caption(context, view_bytes, view.size)

        detectors: list[Detector] = [
            VLMGroundingDetector(context, view_bytes) if isinstance(d, str) else d
            for d in self.detectors
        ]
        detections, detect_errors = await detect(
            detectors,
            view,
            scale,
            caption.objects,
            size=loaded.size,
            nms_iou=config.nms_iou,
            max_objects=config.max_objects,
        )
        errors += detect_errors
        objects: list[ObjectRecord] = []
        for k, detection in enumerate(detections, start=1):
            box = snap_box(detection.box, loaded.size)
            if box is None:
                errors.append(
                    StageError(
                        stage="detect",
                        reason="invalid_box",
                        subject=f"o{k}",
                        message=f"degenerate box {detection.box}",
                    )
                )
                continue
            objects.append(
                ObjectRecord(
                    id=f"o{k}",
                    label=detection.label,
                    box=box,
                    score=detection.score,
                    detector=detection.detector,
                )
            )

        crops, crop_bytes = await to_thread(self._crop_all, loaded, objects)
        objects = [self._after_crop(obj, crops.get(obj.id)) for obj in objects]
        live = {o.id: (o.label, crop_bytes[o.id]) for o in objects if o.id in crop_bytes}
        branches = await branch_captions(context, live) if live else {}
        answers: dict[str, BranchAnswer] = {}
        failed: dict[str, str] = {}
        for object_id, answer in branches.items():
            if isinstance(answer, StageFailedError):
                errors.append(answer.to_error())
                failed[object_id] = answer.reason
            else:
                answers[object_id] = answer
        objects = [
            obj.model_copy(
                update={"verdict": "drop", "note": f"branch caption failed: {failed[obj.id]}"}
            )
            if obj.id in failed
            else obj
            for obj in objects
        ]

        # Merge: one object per thing (a caption from the duplicate that has one is kept).
        dropped = [o for o in objects if o.verdict == "drop"]
        merged = dedupe(
            [o for o in objects if o.verdict != "drop"], iou_threshold=config.dedupe_iou
        )
        objects = sorted([*merged, *dropped], key=lambda o: int(o.id[1:]))

        alive = [o for o in objects if o.verdict != "drop" and o.id in answers]
        statements = build_statements(
            caption.caption, caption.objects, {o.id: (o, answers[o.id]) for o in alive}
        )
        statements = check_statements(statements, [o.label for o in objects if o.verdict != "drop"])
        verdicts = None
        if config.verify:
            evidence: dict[str, bytes | None] = {"image": view_bytes}
            evidence.update({o.id: crop_bytes[o.id] for o in alive})
            subjects = {"image": "the whole image", **{o.id: f"the {o.label}" for o in alive}}
            verdicts, failures = await verify_statements(context, statements, evidence, subjects)
            for failure in failures:
                if failure.subject == "image":
                    raise failure
                errors.append(failure.to_error())
        result = apply_verdicts(statements, objects, verdicts)
        objects = result.objects
        if verdicts is not None:
            failed_subjects = {e.subject: e.reason for e in errors if e.stage == "verify"}
            objects = [
                o.model_copy(
                    update={
                        "verdict": "drop",
                        "note": f"verification failed: {failed_subjects[o.id]}",
                    }
                )
                if o.id in failed_subjects
                else o
                for o in objects
            ]
        main_text = result.main_caption if verdicts is not None else caption.caption
        kept = [o for o in objects if o.verdict != "drop"]

        record = Record(
            id=context.record_id,
            image=loaded.info,
            main_caption=main_text,
            mentions=link_mentions(main_text, kept),
            objects=objects,
            relations=spatial_relations(kept, config.max_relations),
            statements=result.statements,
            errors=errors,
        )
        phrasing = context.template("qa").data()
        items = generate_qa(
            record,
            kinds=config.qa_kinds,
            n_choices=config.n_choices,
            max_per_kind=config.max_qa_per_kind,
            seed=config.seed,
            phrasing=phrasing,
        )
        valid, qa_errors = validate_qa(items, image_size=loaded.size)
        record.qa = valid
        record.errors = [*errors, *qa_errors]
        record.provenance = self._provenance(context)
        record.stats = RecordStats(
            objects_detected=len(detections),
            objects_kept=sum(o.verdict in ("keep", None) for o in objects),
            objects_rewritten=sum(o.verdict == "rewrite" for o in objects),
            objects_dropped=sum(o.verdict == "drop" for o in objects),
            statements_flagged=sum(bool(s.flags) for s in result.statements),
            hallucinations_caught=result.caught,
            qa_generated=len(items),
            qa_dropped=len(qa_errors),
        )
        return record

    def _crop_all(
        self, loaded: LoadedImage, objects: Sequence[ObjectRecord]
    ) -> tuple[dict[str, Crop | None], dict[str, bytes]]:
        config = self.config
        crops: dict[str, Crop | None] = {}
        encoded: dict[str, bytes] = {}
        for obj in objects:
            crop = crop_and_zoom(
                loaded.image,
                obj.box,
                margin=config.crop_margin,
                min_side=config.min_crop_side,
                max_side=config.max_crop_side,
                min_box_side=config.min_box_side,
            )
            crops[obj.id] = crop
            if crop is not None:
                encoded[obj.id] = encode_image(crop.image, config.image_format)
        return crops, encoded

    def _after_crop(self, obj: ObjectRecord, crop: Crop | None) -> ObjectRecord:
        if crop is None:
            return obj.model_copy(
                update={
                    "verdict": "drop",
                    "note": f"too small to crop (a side < {self.config.min_box_side} px)",
                }
            )
        return obj.model_copy(update={"crop_box": crop.crop_box, "crop_scale": crop.scale})

    def process_sync(self, image: ImageSource, *, source: str | None = None) -> Record:
        """Blocking :meth:`process` (for Ray ``map_batches`` and scripts).

        Runs on one background event loop shared by all blocking calls, so a
        backend's connection pool stays bound to one loop across calls.
        """
        return run_sync(self.process(image, source_name=source))


class _LoopThread:
    """One event loop in a daemon thread, for blocking callers."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="synthesis-loop", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop


_LOOP = _LoopThread()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion from synchronous code (even inside a running loop)."""
    future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, _LOOP.loop())
    return future.result()


def process_record(
    image: ImageSource,
    config: SynthesisConfig | None = None,
    backend: Backend | None = None,
    detector: Detector | str | Sequence[Detector | str] | None = None,
    *,
    verifier: Backend | None = None,
    source: str | None = None,
) -> Record:
    """Make one record, blocking: the per-row function for Ray Data ``map_batches``.

    Args:
        image: Encoded image bytes or a path.
        config: The configuration (defaults if ``None``).
        backend: The captioner backend (the deterministic offline one if ``None``).
        detector: Detector(s) or names (``"vlm"`` if ``None``).
        verifier: The verifier backend (the captioner if ``None``).
        source: What to record as the image's source.

    Returns:
        The record (``status == "failed"`` with its reason when a stage failed).
    """
    if backend is None:
        from grounding_rewards.synthesis.backends.offline import OfflineBackend

        backend = OfflineBackend()
    if detector is None:
        detectors: Sequence[Detector | str] | str = ("vlm",)
    elif isinstance(detector, str) or not isinstance(detector, Sequence):
        detectors = [detector]
    else:
        detectors = detector
    pipeline = Pipeline(backend, config=config, detectors=detectors, verifier=verifier)
    return pipeline.process_sync(image, source=source)
