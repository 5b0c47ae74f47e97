"""Holds ``record.schema.json``, the exported JSON Schema of a synthesis record."""
