"""Regenerate ``record.schema.json``: ``python -m grounding_rewards.synthesis.schema``."""

from grounding_rewards.synthesis.records import write_json_schema

print(write_json_schema())
