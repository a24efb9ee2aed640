"""Build-time helpers for template.yaml (never part of a function)."""
