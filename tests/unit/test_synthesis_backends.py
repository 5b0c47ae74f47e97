from __future__ import annotations

import asyncio
import io
import json
import pickle
import subprocess
import sys

import pytest
from PIL import Image

from grounding_rewards.errors import ConfigError, GroundingRewardsError
from grounding_rewards.synthesis.backends import (
    BACKENDS,
    Backend,
    BackendError,
    BaseBackend,
    GenerationRequest,
    make_backend,
)
from grounding_rewards.synthesis.backends.offline import (
    OfflineBackend,
    brightness_name,
    color_fractions,
    region_proposals,
)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def two_blocks() -> bytes:
    image = Image.new("RGB", (200, 100), (235, 235, 235))
    image.paste((40, 80, 200), (20, 20, 80, 80))  # a blue square
    image.paste((200, 30, 30), (120, 40, 190, 70))  # a red rectangle
    return png(image)


def ask(backend, **fields) -> str:
    return asyncio.run(backend.generate(GenerationRequest(**fields)))


def test_generation_request_is_frozen_hashable_and_names_its_stage() -> None:
    request = GenerationRequest(prompt="p", json_schema={"type": "object"}, template_id="verify@v1")
    assert request.stage == "verify"
    assert hash(request) == hash(GenerationRequest(prompt="p", template_id="verify@v1"))
    with pytest.raises(AttributeError):
        request.prompt = "q"  # type: ignore[misc]
    defaults = GenerationRequest(prompt="x")
    assert (
        defaults.images,
        defaults.max_tokens,
        defaults.temperature,
        defaults.seed,
        defaults.json_schema,
        defaults.template_id,
    ) == ((), 512, 0.0, 0, None, "")


def test_backend_error_carries_reason_and_pickles() -> None:
    error = BackendError("boom", reason="http_500")
    assert isinstance(error, GroundingRewardsError) and isinstance(error, RuntimeError)
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.reason) == ("boom", "http_500")


def test_base_backend_generate_many_keeps_order_runs_concurrently_and_returns_errors() -> None:
    class Sleepy(BaseBackend):
        name = "sleepy"

        def __init__(self) -> None:
            self.active = 0
            self.peak = 0

        async def generate(self, request: GenerationRequest) -> str:
            self.active += 1
            self.peak = max(self.peak, self.active)
            await asyncio.sleep(0.01)
            self.active -= 1
            if request.prompt == "bad":
                raise BackendError("no", reason="timeout")
            return request.prompt * 2

    backend = Sleepy()
    prompts = ["a", "bad", "c"] * 5
    results = asyncio.run(backend.generate_many([GenerationRequest(prompt=p) for p in prompts]))
    assert [r if isinstance(r, str) else r.reason for r in results] == ["aa", "timeout", "cc"] * 5
    assert backend.peak == 15
    assert isinstance(backend, Backend)


def test_base_backend_does_not_swallow_bugs() -> None:
    class Buggy(BaseBackend):
        async def generate(self, request: GenerationRequest) -> str:
            raise KeyError("bug")

    with pytest.raises(KeyError):
        asyncio.run(Buggy().generate_many([GenerationRequest(prompt="x")]))


def test_make_backend_registry_and_errors() -> None:
    assert set(BACKENDS) == {"offline", "openai", "vllm", "transformers"}
    backend = make_backend("offline", model="m2", delay_s=0.0)
    assert isinstance(backend, OfflineBackend) and backend.model == "m2"
    with pytest.raises(ConfigError, match="expected one of offline, openai, vllm, transformers"):
        make_backend("nope")
    with pytest.raises(ConfigError, match="hallucinate"):
        make_backend("offline", hallucinate=["everything"])


def test_importing_the_pipeline_loads_no_heavy_backend() -> None:
    code = (
        "import sys\n"
        "import grounding_rewards.synthesis.pipeline, grounding_rewards.synthesis.runner\n"
        "import grounding_rewards.cli.synth\n"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'ray', 'openai', 'aiohttp', 'httpx',"
        " 'grounding_rewards.synthesis.backends.openai_http',"
        " 'grounding_rewards.synthesis.backends.transformers_local') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_offline_vision_measurements() -> None:
    image = two_blocks()
    fractions = color_fractions(image)
    assert next(iter(fractions)) == "white"
    assert fractions["blue"] > 0.1 and fractions["red"] > 0.05
    assert abs(sum(fractions.values()) - 1) < 1e-3
    assert brightness_name(png(Image.new("RGB", (4, 4), (5, 5, 5)))) == "dark"
    regions = dict((label, box) for label, box in region_proposals(image))
    assert set(regions) == {"block"}  # both filled rectangles; one label shown per dict key
    boxes = sorted(box for _, box in region_proposals(image))
    # The blue square is at (20, 20, 80, 80): found within one thumbnail pixel (~3 px).
    assert all(abs(a - b) <= 4 for a, b in zip(boxes[0], (20, 20, 80, 80), strict=True))


def test_offline_answers_are_deterministic_json_derived_from_the_request() -> None:
    backend = OfflineBackend()
    main = json.loads(
        ask(backend, prompt="Describe.", images=(two_blocks(),), template_id="main_caption@v1")
    )
    assert main["objects"] == ["block"]
    assert "two blocks" in main["caption"] and "white" in main["caption"]
    assert ask(
        backend, prompt="Describe.", images=(two_blocks(),), template_id="main_caption@v1"
    ) == json.dumps(main)
    ground = json.loads(
        ask(
            backend,
            images=(two_blocks(),),
            template_id="ground@v1",
            prompt='Locate every visible instance of these objects in the image: ["block"].\n'
            "Write each box in coordinates normalized to 0-1000.",
        )
    )
    boxes = sorted(item["box"] for item in ground["objects"])
    assert len(boxes) == 2 and boxes[0][0] == pytest.approx(100, abs=20)  # 20 px of 200 = 100
    branch = json.loads(
        ask(
            backend,
            images=(png(Image.new("RGB", (30, 30), (200, 30, 30))),),
            prompt="This image is a zoomed-in crop of one object, detected as: red thing.\n",
            template_id="branch_caption@v1",
        )
    )
    # Luminance of (200, 30, 30) = 0.299*200 + 0.587*30 + 0.114*30 = 80.8 < 85: dark.
    assert branch == {
        "caption": "The red thing is mostly red. It looks dark.",
        "attributes": {"color": "red", "brightness": "dark"},
        "mentions": ["red thing"],
    }
    assert backend.calls == {"main_caption": 2, "ground": 1, "branch_caption": 1}


def verify_prompt(statements: list[dict]) -> str:
    return "Statements (JSON):\n" + json.dumps(statements) + "\n\nAnswer with JSON only"


def test_offline_verifier_checks_claims_against_the_pixels() -> None:
    red = png(Image.new("RGB", (30, 30), (200, 30, 30)))
    statements = [
        {"id": "o1.s1", "kind": "existence", "text": "The crop shows a cup.", "flags": []},
        {"id": "o1.s2", "kind": "caption", "text": "The cup is mostly green.", "flags": []},
        {
            "id": "o1.s3",
            "kind": "attribute",
            "text": "The cup has color green.",
            "attribute": ["color", "green"],
            "flags": [],
        },
        {
            "id": "o1.s4",
            "kind": "attribute",
            "text": "The cup has color red.",
            "attribute": ["color", "red"],
            "flags": [],
        },
        {
            "id": "o1.s5",
            "kind": "caption",
            "text": "A wall is behind the cup.",
            "flags": ["unresolved_mention:wall"],
        },
    ]
    answer = json.loads(
        ask(
            OfflineBackend(),
            prompt=verify_prompt(statements),
            images=(red,),
            template_id="verify@v1",
        )
    )
    verdicts = {v["id"]: v for v in answer["verdicts"]}
    assert [verdicts[f"o1.s{k}"]["verdict"] for k in range(1, 6)] == [
        "keep",
        "rewrite",
        "rewrite",
        "keep",
        "drop",
    ]
    assert verdicts["o1.s2"]["text"] == "The cup is mostly red."
    assert verdicts["o1.s3"]["text"] == "color: red"
    # Without an image the verifier can only follow the programmatic flags.
    blind = json.loads(
        ask(OfflineBackend(), prompt=verify_prompt(statements), template_id="verify@v1")
    )
    assert [v["verdict"] for v in blind["verdicts"]] == ["keep"] * 4 + ["drop"]


def test_offline_hallucination_injection() -> None:
    crop = png(Image.new("RGB", (30, 30), (200, 30, 30)))
    prompt = "This image is a zoomed-in crop of one object, detected as: cup.\n"
    both = json.loads(
        ask(
            OfflineBackend(hallucinate=("mention", "attribute")),
            prompt=prompt,
            images=(crop,),
            template_id="branch_caption@v1",
        )
    )
    assert "wall" in both["mentions"] and "wall" in both["caption"]
    assert both["attributes"]["color"] == "green"
    # hallucinate_every picks requests by a hash: across many crops only some are hit.
    backend = OfflineBackend(hallucinate=("mention",), hallucinate_every=3)
    hits = sum(
        "wall"
        in ask(
            backend,
            prompt=f"... detected as: thing{k}.\n",
            images=(crop,),
            template_id="branch_caption@v1",
        )
        for k in range(60)
    )
    assert 5 < hits < 40


def test_offline_failures_on_demand_and_in_flight_counting() -> None:
    backend = OfflineBackend(fail={"verify": "http_500"}, malformed=("main_caption",), delay_s=0.01)
    with pytest.raises(BackendError) as info:
        ask(backend, prompt=verify_prompt([]), template_id="verify@v1")
    assert info.value.reason == "http_500"
    assert not ask(
        backend, prompt="x", images=(two_blocks(),), template_id="main_caption@v1"
    ).startswith("{")
    requests = [
        GenerationRequest(prompt="x", images=(two_blocks(),), template_id="main_caption@v1")
    ] * 12
    asyncio.run(backend.generate_many(requests))
    assert backend.max_in_flight == 12 and backend.in_flight == 0
    with pytest.raises(BackendError, match="expected an image"):
        ask(OfflineBackend(), prompt="x", template_id="main_caption@v1")
