"""Workflow rules over payloads: which workflow an issue is, its form values, checklists,
markers."""
