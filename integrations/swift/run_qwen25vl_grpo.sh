#!/usr/bin/env bash
# GRPO of Qwen2.5-VL with ms-swift on grounded multiple-choice QA (CUDA; in an environment
# with pip install ms-swift==4.6.0 msgspec grounding-rewards vllm).
#
#   bash integrations/swift/run_qwen25vl_grpo.sh data/swift/train.jsonl
#
# The dataset is ms-swift JSONL (messages, images) with our ground-truth columns (answer,
# choices, gt_boxes in pixels of the original image, gt_labels, image_size). The plugin's
# RewardConfig comes from GROUNDING_REWARDS_CONFIG: the model's coordinate space.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${1:?expected the training JSONL}
shift
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
MAX_PIXELS=${MAX_PIXELS:-1003520}
export MAX_PIXELS
export GROUNDING_REWARDS_CONFIG=${GROUNDING_REWARDS_CONFIG:-"{\"coords\": \"qwen25vl\", \"max_pixels\": ${MAX_PIXELS}}"}

swift rlhf \
    --rlhf_type grpo \
    --model "${MODEL}" \
    --dataset "${DATA}" \
    --external_plugins "${HERE}/plugin.py" \
    --reward_funcs grounding_format grounding_accuracy grounding_bbox \
    --reward_weights 1 1 1 \
    --num_generations 8 \
    --use_vllm true --vllm_mode colocate \
    --train_type lora \
    --torch_dtype bfloat16 \
    --max_completion_length 1024 \
    --output_dir output/swift_grounding_grpo \
    "$@"
