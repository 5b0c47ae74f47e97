#!/usr/bin/env bash
# Serve the teacher VLM (captions, grounding, branch captions) with vLLM's
# OpenAI-compatible server. Run one per GPU node; point the pipeline at them.
#
#   TEACHER_MODEL=Qwen/Qwen2.5-VL-7B-Instruct TP=1 ./serve_teacher.sh     # one GPU
#   ./serve_teacher.sh                                                   # 72B on 4 GPUs
#
# Written for vLLM >= 0.11 (request logging is off by default there, and
# --limit-mm-per-prompt takes JSON). The API key is read from $VLLM_API_KEY (vLLM
# reads that variable itself): never put it on the command line, where `ps` shows
# it to every user of the machine.
set -euo pipefail

MODEL="${TEACHER_MODEL:-Qwen/Qwen2.5-VL-72B-Instruct}"
NAME="${TEACHER_NAME:-teacher}"
TP="${TP:-4}"
PORT="${PORT:-8000}"
HOST="${HOST:-0.0.0.0}"
MAX_MODEL_LEN="${MAX_MODEL_LEN:-32768}"
# Crops and the full image arrive one per request; 2 leaves room for a reference view.
DEFAULT_LIMIT_MM='{"image": 2, "video": 0}'
LIMIT_MM="${LIMIT_MM:-$DEFAULT_LIMIT_MM}"
# Keep the processor's default min_pixels/max_pixels (3136 / 12845056): with
# SynthesisConfig.grounding_coords = "qwen25vl" the pipeline converts boxes from the
# image as that processor resizes it, assuming those defaults. The pipeline already
# shrinks images to max_model_side (1024 px) before sending them, which bounds the
# vision tokens per request. Extra vLLM flags go after the script's arguments.

if [[ -z "${VLLM_API_KEY:-}" ]]; then
  echo "warning: VLLM_API_KEY is unset: the server accepts unauthenticated requests" >&2
fi

exec vllm serve "$MODEL" \
  --served-model-name "$NAME" \
  --host "$HOST" --port "$PORT" \
  --tensor-parallel-size "$TP" \
  --max-model-len "$MAX_MODEL_LEN" \
  --limit-mm-per-prompt "$LIMIT_MM" \
  --gpu-memory-utilization "${GPU_MEMORY_UTILIZATION:-0.90}" \
  --max-num-seqs "${MAX_NUM_SEQS:-256}" \
  --seed 0 \
  "$@"
