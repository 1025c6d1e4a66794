"""A bench task's success check: exit 0 when the program says its task is done.

    python -m tracer_cli.bench.check STATE.json
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tracer_cli.bench.check STATE.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as file:
            state = json.load(file)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"no state: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(state.get("values", {})))
    return 0 if state.get("done") is True else 1


if __name__ == "__main__":
    sys.exit(main())
