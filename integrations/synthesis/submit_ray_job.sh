#!/usr/bin/env bash
# Submit the synthesis pipeline to a Ray cluster as a Ray Data job.
#
#   export RAY_ADDRESS=http://HEAD:8265                 # the cluster's job server
#   export TEACHER_URL=http://GPU1:8000/v1 VERIFIER_URL=http://GPU2:8001/v1
#   ./submit_ray_job.sh /shared/images /shared/synth-out [more `synth` flags]
#
# IMAGES must be readable from every node (a shared file system), or be object-store
# URIs (s3://bucket/prefix) that Ray Data reads itself. OUT is written by the job's
# driver only (one writer: no torn or duplicate records); rerunning resumes.
#
# The API key: the workers read it from $OPENAI_API_KEY (the HTTP backend's
# api_key_env). Export it on every node before `ray start`, as the servers have it in
# $VLLM_API_KEY. Do not put it in --runtime-env-json: runtime environments are shown
# by the dashboard and `ray job list`.
set -euo pipefail

IMAGES="${1:?usage: submit_ray_job.sh IMAGES OUT [synth flags...]}"
OUT="${2:?usage: submit_ray_job.sh IMAGES OUT [synth flags...]}"
shift 2

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TEACHER_URL="${TEACHER_URL:-http://127.0.0.1:8000/v1}"
VERIFIER_URL="${VERIFIER_URL:-http://127.0.0.1:8001/v1}"
ACTORS="${ACTORS:-8}"              # actor pool size (records flow through these)
RECORDS_PER_ACTOR="${RECORDS_PER_ACTOR:-16}"
REQUESTS_PER_ACTOR="${REQUESTS_PER_ACTOR:-64}"  # HTTP requests in flight per actor, per server
# The package on the workers: a released wheel, or this checkout as working_dir.
DEFAULT_RUNTIME_ENV='{"pip": ["grounding-rewards[synthesis,ray]"]}'
RUNTIME_ENV="${RUNTIME_ENV:-$DEFAULT_RUNTIME_ENV}"

exec ray job submit \
  --address "${RAY_ADDRESS:-http://127.0.0.1:8265}" \
  --runtime-env-json "$RUNTIME_ENV" \
  --working-dir "$HERE" \
  -- python -m grounding_rewards.synthesis.ray_job "$IMAGES" \
    --out "$OUT" \
    --config config.json \
    --backend openai --base-url "$TEACHER_URL" --model "${TEACHER_NAME:-teacher}" \
    --backend-option "max_concurrency=$REQUESTS_PER_ACTOR" \
    --backend-option "timeout_s=300" \
    --verifier-backend openai --verifier-base-url "$VERIFIER_URL" \
    --verifier-model "${VERIFIER_NAME:-verifier}" \
    --verifier-option "max_concurrency=$REQUESTS_PER_ACTOR" \
    --verifier-option 'extra_body={"chat_template_kwargs": {"enable_thinking": false}}' \
    --detector vlm \
    --concurrency "$RECORDS_PER_ACTOR" \
    --ray-actors "$ACTORS" \
    --ray-cpus-per-actor 1 \
    "$@"
