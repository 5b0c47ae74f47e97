"""The audit, as a property: our composite reward passes it under any sound configuration."""

from hypothesis import given, settings
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.audit import audit
from grounding_rewards.testing import coord_spaces

weight = st.floats(0.1, 3.0)
sound_configs = st.builds(
    gr.RewardConfig,
    weights=st.tuples(weight, weight, weight),
    coords=coord_spaces(),
    max_pixels=st.sampled_from([12845056, 1280 * 28 * 28, 256 * 28 * 28]),
    similarity=st.sampled_from(["iou", "giou", "diou", "ciou"]),
    length_penalty=st.floats(1.0, 3.0),
    label_matching=st.sampled_from(["ignore", "exact", "fuzzy"]),
    format_mode=st.sampled_from(["strict", "graded"]),
    min_spans=st.integers(0, 1),
    box_region=st.sampled_from(["think", "anywhere"]),
)


@settings(max_examples=12)  # each example is a whole audit (~0.2 s)
@given(sound_configs)
def test_our_reward_passes_the_audit_under_sound_configs(config):
    report = audit(gr.grounding_reward, config=config, fuzz=20)
    assert report.passed, report.table()
