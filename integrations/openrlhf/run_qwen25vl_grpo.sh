#!/usr/bin/env bash
# GRPO of Qwen2.5-VL with OpenRLHF on grounded multiple-choice QA (CUDA; pip install
# openrlhf[vllm] grounding-rewards).
#
#   python integrations/openrlhf/prepare_data.py data/qa.jsonl --out-dir data/openrlhf
#   bash integrations/openrlhf/run_qwen25vl_grpo.sh
#
# The reward reads its RewardConfig from GROUNDING_REWARDS_CONFIG (same coords and pixel
# budget as the export); labels are the exported JSON ground truth (--data.label_key label).
# OpenRLHF loads the checkpoint's own processor (AutoProcessor.from_pretrained, no pixel
# override), so the pixel budget is the checkpoint's: 12845056 for the official Qwen2.5-VL
# checkpoints. Set MAX_PIXELS only if your checkpoint's preprocessor_config.json differs,
# and export with the same value, or boxes of large images drift.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${DATA:-data/openrlhf/train.jsonl}
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
MAX_PIXELS=${MAX_PIXELS:-12845056}
GPUS=${GPUS:-8}
export GROUNDING_REWARDS_CONFIG=${GROUNDING_REWARDS_CONFIG:-"{\"coords\": \"qwen25vl\", \"max_pixels\": ${MAX_PIXELS}}"}

ray job submit --address="${RAY_ADDRESS:-http://127.0.0.1:8265}" \
    --runtime-env-json="{\"env_vars\": {\"GROUNDING_REWARDS_CONFIG\": $(printf '%s' "$GROUNDING_REWARDS_CONFIG" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}}" \
    -- python3 -m openrlhf.cli.train_ppo_ray \
    --ref.num_nodes 1 --ref.num_gpus_per_node ${GPUS} \
    --actor.num_nodes 1 --actor.num_gpus_per_node ${GPUS} \
    --vllm.num_engines ${GPUS} --vllm.tensor_parallel_size 1 \
    --train.colocate_all \
    --actor.model_name_or_path ${MODEL} \
    --algo.advantage.estimator group_norm \
    --rollout.n_samples_per_prompt 8 \
    --reward.remote_url "${HERE}/reward_func.py" \
    --data.prompt_dataset "${DATA}" \
    --data.input_key prompt \
    --data.label_key label \
    --data.image_key images \
    --data.max_images_per_prompt 1 \
    --data.apply_chat_template \
    "$@"
