"""The transformers backend and OWLv2 detector with tiny random models built from configs.

Nothing is downloaded: the tokenizer is trained here on a few words, the models are
initialised from small configs. The checks are about plumbing (chat template, image
tokens, left padding, coordinate handling), not about what a random model says.
"""

from __future__ import annotations

import asyncio
import io

import pytest
import torch
import transformers
from PIL import Image
from skimage import data
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.backends import BackendError, GenerationRequest, make_backend
from grounding_rewards.synthesis.backends.transformers_local import (
    TransformersBackend,
    ZeroShotDetector,
)

WORDS = 'Describe the image { "caption": "a red face", "objects": [ "face", "flag" ] } dog cat'
TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)


def tiny_tokenizer(extra_special: tuple[str, ...] = ()) -> transformers.PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["<unk>", "<pad>", "<s>", "</s>", *extra_special]
    tok.train_from_iterator(
        [WORDS, "user assistant :"], trainers.WordLevelTrainer(special_tokens=specials)
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )


@pytest.fixture(scope="module")
def tiny_vlm() -> TransformersBackend:
    tokenizer = tiny_tokenizer(("<image>",))
    processor = transformers.LlavaProcessor(
        image_processor=transformers.CLIPImageProcessorPil(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        chat_template=TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    config = transformers.LlavaConfig(
        vision_config=transformers.CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
            projection_dim=16,
        ),
        text_config=transformers.LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=256,
            initializer_range=1.0,  # varied tokens, not one repeated
            pad_token_id=1,
            bos_token_id=2,
            eos_token_id=3,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    model = transformers.LlavaForConditionalGeneration(config).eval()
    return TransformersBackend(model_obj=model, processor=processor, max_batch=4)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_backend_needs_a_model() -> None:
    with pytest.raises(ConfigError, match="expected model="):
        TransformersBackend()
    assert make_backend("transformers", model="some/folder").model == "some/folder"


def test_generates_text_for_image_and_text_prompts_greedily(tiny_vlm) -> None:
    red = png(Image.new("RGB", (40, 30), "red"))
    requests = [
        GenerationRequest(prompt="Describe the image", images=(red,), max_tokens=6),
        GenerationRequest(prompt="a red face caption", max_tokens=6),
        GenerationRequest(
            prompt="Describe", images=(red, png(Image.fromarray(data.coffee()))), max_tokens=6
        ),
    ]
    batched = asyncio.run(tiny_vlm.generate_many(requests))
    assert all(isinstance(text, str) and text for text in batched)
    # Left padding: a request gives the same greedy answer alone as inside a batch.
    alone = [asyncio.run(tiny_vlm.generate(r)) for r in requests]
    assert batched == alone
    assert len(set(batched)) > 1  # the answers depend on the prompt


def test_sampling_is_seeded(tiny_vlm) -> None:
    request = GenerationRequest(prompt="Describe the image", max_tokens=8, temperature=1.5, seed=7)
    assert asyncio.run(tiny_vlm.generate(request)) == asyncio.run(tiny_vlm.generate(request))


def test_a_failing_batch_becomes_backend_errors(tiny_vlm) -> None:
    # Two images in the prompt but only one <image> slot filled: the processor refuses.
    bad = GenerationRequest(prompt="x <image> <image>", images=(png(Image.new("RGB", (8, 8))),))
    result = asyncio.run(tiny_vlm.generate_many([bad]))
    assert isinstance(result[0], BackendError) and result[0].reason == "model_error"


@pytest.fixture(scope="module")
def tiny_owlv2() -> tuple[ZeroShotDetector, object, object]:
    tokenizer = tiny_tokenizer()
    processor = transformers.Owlv2Processor(
        image_processor=transformers.Owlv2ImageProcessorPil(size={"height": 64, "width": 64}),
        tokenizer=tokenizer,
    )
    config = transformers.Owlv2Config(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=16,
            pad_token_id=1,
            bos_token_id=2,
            eos_token_id=3,
        ),
        vision_config=dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=64,
            patch_size=16,
        ),
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = transformers.Owlv2ForObjectDetection(config).eval()
    detector = ZeroShotDetector("owlv2", model_obj=model, processor=processor, threshold=0.0)
    return detector, model, processor


def test_owlv2_boxes_are_in_pixels_of_the_unpadded_image(tiny_owlv2) -> None:
    detector, model, processor = tiny_owlv2
    image = Image.fromarray(data.astronaut()).crop((0, 0, 512, 300))  # wide: OWLv2 pads it
    found = asyncio.run(detector.detect(image, ["face", "flag"]))
    assert found and {d.label for d in found} <= {"face", "flag"}
    for d in found:
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 300
    # Recompute one box by hand: OWLv2 predicts (cx, cy, w, h) relative to the padded
    # 512 x 512 square, so pixels = relative * 512 on both axes (not * 300 vertically).
    inputs = processor(text=[["face", "flag"]], images=image, return_tensors="pt")
    with torch.inference_mode():
        outputs = model(**inputs)
    cx, cy, w, h = outputs.pred_boxes[0].tolist()[int(outputs.logits[0].max(-1).values.argmax())]
    expected = (
        max(0, (cx - w / 2) * 512),
        max(0, (cy - h / 2) * 512),
        min(512, (cx + w / 2) * 512),
        min(300, (cy + h / 2) * 512),
    )
    best = max(found, key=lambda d: d.score)
    assert best.box == pytest.approx(expected, abs=1e-3)


def test_zero_shot_detector_validates_kind_and_empty_labels(tiny_owlv2) -> None:
    with pytest.raises(ConfigError, match="expected one of owlv2, grounding-dino"):
        ZeroShotDetector("yolo")
    assert ZeroShotDetector("grounding-dino").model == "IDEA-Research/grounding-dino-tiny"
    assert tiny_owlv2[0].detect_sync(Image.new("RGB", (10, 10)), []) == []


@pytest.fixture(scope="module")
def tiny_grounding_dino() -> ZeroShotDetector:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "face", "flag", "dog", "cat"]
    tokenizer = transformers.BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    processor = transformers.GroundingDinoProcessor(
        image_processor=transformers.GroundingDinoImageProcessorPil(
            size={"shortest_edge": 64, "longest_edge": 96}
        ),
        tokenizer=tokenizer,
    )
    config = transformers.GroundingDinoConfig(
        backbone_config=transformers.SwinConfig(
            image_size=64,
            patch_size=4,
            embed_dim=8,
            depths=[1, 1],
            num_heads=[1, 1],
            window_size=2,
            out_features=["stage1", "stage2"],
        ),
        text_config=transformers.BertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=32,
        ),
        use_timm_backbone=False,
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_queries=10,
        num_feature_levels=2,
        encoder_n_points=2,
        decoder_n_points=2,
        max_text_len=16,
    )
    torch.manual_seed(0)
    model = transformers.GroundingDinoForObjectDetection(config).eval()
    return ZeroShotDetector(
        "grounding-dino", model_obj=model, processor=processor, threshold=0.0, text_threshold=0.0
    )


def test_grounding_dino_boxes_and_labels(tiny_grounding_dino) -> None:
    image = Image.fromarray(data.astronaut()).crop((0, 0, 512, 300))
    found = asyncio.run(tiny_grounding_dino.detect(image, ["face", "flag"]))
    assert found  # threshold 0: every query of the random model is a box
    for d in found:
        assert d.label in ("face", "flag") and d.detector == "grounding-dino"
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 300
