"""Intake: the webhook route, the worker and processor, and the periodic passes."""
