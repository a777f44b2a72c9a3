"""Slash commands typed in issue comments: the grammar, one module per family of commands, and
the dispatcher (``dispatch.py``) that runs a comment's commands in order and replies once."""
