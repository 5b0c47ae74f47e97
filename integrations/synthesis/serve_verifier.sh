#!/usr/bin/env bash
# Serve the verifier LLM (keep / rewrite / drop per statement) with vLLM.
#
#   ./serve_verifier.sh                         # Qwen3-32B on 2 GPUs, port 8001
#   VERIFIER_MODEL=Qwen/Qwen3-8B TP=1 ./serve_verifier.sh
#
# The pipeline sends the verifier text only unless SynthesisConfig.verifier_sees_images
# is on (then serve a VLM here instead, e.g. the teacher). Qwen3 thinks before
# answering by default; the reasoning parser moves the <think> block out of the
# answer's content (the HTTP backend also strips one if it slips through), and
# clients may turn thinking off per request with
#   extra_body={"chat_template_kwargs": {"enable_thinking": false}}.
set -euo pipefail

MODEL="${VERIFIER_MODEL:-Qwen/Qwen3-32B}"
NAME="${VERIFIER_NAME:-verifier}"
TP="${TP:-2}"
PORT="${PORT:-8001}"
HOST="${HOST:-0.0.0.0}"
MAX_MODEL_LEN="${MAX_MODEL_LEN:-16384}"

if [[ -z "${VLLM_API_KEY:-}" ]]; then
  echo "warning: VLLM_API_KEY is unset: the server accepts unauthenticated requests" >&2
fi

exec vllm serve "$MODEL" \
  --served-model-name "$NAME" \
  --host "$HOST" --port "$PORT" \
  --tensor-parallel-size "$TP" \
  --max-model-len "$MAX_MODEL_LEN" \
  --reasoning-parser "${REASONING_PARSER:-qwen3}" \
  --gpu-memory-utilization "${GPU_MEMORY_UTILIZATION:-0.90}" \
  --max-num-seqs "${MAX_NUM_SEQS:-256}" \
  --seed 0 \
  "$@"
