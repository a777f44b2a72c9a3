"""Writes ``webhook-keys.json``: the keys GitHub's own example payloads carry, per event and
action, for the parts Flywheel reads. Facts about GitHub's payload shapes, not their text.

Source: the npm package ``@octokit/webhooks-examples`` (MIT), ``api.github.com/index.json``.
To refresh: ``npm pack @octokit/webhooks-examples && tar xzf octokit-webhooks-examples-*.tgz``
then ``python tests/data/webhook_keys.py package/api.github.com/index.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EVENTS = ("issues", "issue_comment", "installation", "installation_repositories", "repository")
PARTS = ("issue", "comment", "repository", "sender", "installation", "label")


def keys_of(examples_file: Path) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, set[str]]] = {}
    for entry in json.loads(examples_file.read_text()):
        if entry["name"] not in EVENTS:
            continue
        for example in entry["examples"]:
            kind = f"{entry['name']}.{example.get('action', '')}"
            seen = found.setdefault(kind, {})
            seen.setdefault("", set()).update(example)
            for part in PARTS:
                if isinstance(example.get(part), dict):
                    seen.setdefault(part, set()).update(example[part])
    return {kind: {part: sorted(keys) for part, keys in parts.items()}
            for kind, parts in sorted(found.items())}  # fmt: skip


if __name__ == "__main__":
    out = Path(__file__).with_name("webhook-keys.json")
    out.write_text(json.dumps(keys_of(Path(sys.argv[1])), indent=1) + "\n")
    print(f"wrote {out}")
