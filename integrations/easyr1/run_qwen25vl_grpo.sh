#!/usr/bin/env bash
# GRPO of Qwen2.5-VL with EasyR1 on grounded multiple-choice QA (CUDA, EasyR1 installed:
# git clone https://github.com/hiyouga/EasyR1 && pip install -e EasyR1 grounding-rewards).
#
#   python integrations/easyr1/prepare_data.py data/qa.jsonl --out-dir data/easyr1
#   EASYR1=/path/to/EasyR1 bash integrations/easyr1/run_qwen25vl_grpo.sh
#
# The data's pixel budget (MIN_PIXELS/MAX_PIXELS) goes to EasyR1 (data.*) and to the
# reward (data_min_pixels/data_max_pixels): EasyR1 resizes images with it before the
# processor does, and the reward converts Qwen2.5-VL's boxes through both resizes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
EASYR1=${EASYR1:?set EASYR1 to your EasyR1 checkout}
DATA=${DATA:-data/easyr1}
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
MIN_PIXELS=${MIN_PIXELS:-262144}
MAX_PIXELS=${MAX_PIXELS:-4194304}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
EXPERIMENT=${EXPERIMENT:-qwen25vl_grounding_grpo}

cd "$EASYR1"
python3 -m verl.trainer.main \
    config=examples/config.yaml \
    data.train_files="${DATA}/train.parquet" \
    data.val_files="${DATA}/val.parquet" \
    data.prompt_key=prompt \
    data.answer_key=answer \
    data.image_key=images \
    data.format_prompt=null \
    data.min_pixels=${MIN_PIXELS} \
    data.max_pixels=${MAX_PIXELS} \
    worker.actor.model.model_path=${MODEL} \
    worker.reward.reward_function="${HERE}/reward.py:compute_score" \
    worker.reward.reward_function_kwargs.coords=qwen25vl \
    worker.reward.reward_function_kwargs.data_min_pixels=${MIN_PIXELS} \
    worker.reward.reward_function_kwargs.data_max_pixels=${MAX_PIXELS} \
    algorithm.filter_key=overall \
    trainer.experiment_name=${EXPERIMENT} \
    trainer.n_gpus_per_node=${GPUS_PER_NODE} \
    "$@"
