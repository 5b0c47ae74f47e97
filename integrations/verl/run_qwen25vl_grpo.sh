#!/usr/bin/env bash
# GRPO for Qwen2.5-VL with veRL 0.9 and the grounding rewards, on one or several nodes.
#
# Single node (8 GPUs):
#   MODEL=/models/Qwen2.5-VL-7B-Instruct DATA=data/verl bash integrations/verl/run_qwen25vl_grpo.sh
#
# Several nodes (veRL schedules every worker through Ray):
#   node 0:   ray start --head --port=6379 --num-gpus=8
#   node k:   ray start --address=<node0-ip>:6379 --num-gpus=8
#   node 0:   NNODES=4 MODEL=... DATA=... bash integrations/verl/run_qwen25vl_grpo.sh
# main_ppo's ray.init() joins the running cluster; reward workers (reward.num_workers)
# are spread over the nodes, so grounding-rewards must be installed on every node.
#
# DATA holds train.parquet and val.parquet from integrations/verl/prepare_data.py, written
# with the same MIN_PIXELS / MAX_PIXELS as below: the reward converts the model's
# resized-pixel boxes back to the original image with exactly that budget.
# Extra Hydra overrides can be appended on the command line: "$@" is passed through.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODEL="${MODEL:?set MODEL to a Qwen2.5-VL checkpoint (local folder or hub id)}"
DATA="${DATA:?set DATA to the folder with train.parquet and val.parquet}"
NNODES="${NNODES:-1}"
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
MIN_PIXELS="${MIN_PIXELS:-3136}"
MAX_PIXELS="${MAX_PIXELS:-1003520}"
EXPERIMENT="${EXPERIMENT:-qwen25vl-grounded-grpo}"

python3 -m verl.trainer.main_ppo \
    algorithm.adv_estimator=grpo \
    algorithm.use_kl_in_reward=False \
    data.train_files="${DATA}/train.parquet" \
    data.val_files="${DATA}/val.parquet" \
    data.train_batch_size=128 \
    data.max_prompt_length=2048 \
    data.max_response_length=1024 \
    data.filter_overlong_prompts=True \
    data.truncation=error \
    data.image_key=images \
    actor_rollout_ref.model.path="${MODEL}" \
    actor_rollout_ref.model.use_remove_padding=True \
    actor_rollout_ref.model.enable_gradient_checkpointing=True \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=64 \
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \
    actor_rollout_ref.actor.use_kl_loss=True \
    actor_rollout_ref.actor.kl_loss_coef=0.01 \
    actor_rollout_ref.actor.kl_loss_type=low_var_kl \
    actor_rollout_ref.actor.entropy_coeff=0 \
    actor_rollout_ref.actor.fsdp_config.param_offload=False \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.n=8 \
    actor_rollout_ref.rollout.tensor_model_parallel_size=2 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8 \
    reward.num_workers=8 \
    reward.custom_reward_function.path="${HERE}/reward.py" \
    reward.custom_reward_function.name=compute_score \
    +reward.custom_reward_function.reward_kwargs.coords=qwen25vl \
    +reward.custom_reward_function.reward_kwargs.min_pixels="${MIN_PIXELS}" \
    +reward.custom_reward_function.reward_kwargs.max_pixels="${MAX_PIXELS}" \
    +reward.custom_reward_function.reward_kwargs.weights=[1.0,1.0,1.0] \
    trainer.logger=[console] \
    trainer.project_name=grounding-rewards \
    trainer.experiment_name="${EXPERIMENT}" \
    trainer.n_gpus_per_node="${GPUS_PER_NODE}" \
    trainer.nnodes="${NNODES}" \
    trainer.val_before_train=True \
    trainer.test_freq=10 \
    trainer.save_freq=50 \
    trainer.total_epochs=2 \
    "$@"
