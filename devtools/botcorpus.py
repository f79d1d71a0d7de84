"""How many real people the bot rule calls bots, and how many labelled bots it misses, on a
corpus the list was not chosen on: matomo's device-detector test fixtures (its browsers'
agents, and its bots), from a checkout of github.com/matomo-org/device-detector.

    python -m devtools.botcorpus /path/to/device-detector          # the numbers
    python -m devtools.botcorpus /path/to/device-detector --write  # and tests/data/labelled_agents.json

The file the tests read keeps what the agent's normalisation can change, and nothing else:
the browsers' agents the list flags as they are sent (the false positives, before), and the
labelled bots whose agents the normalisation rewrites (an Android comment, a Cronet token).
Every other agent reaches the list unchanged, so its verdict cannot change
(``tests/unit/test_bots.py`` holds that)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from hitcounter.model import bots

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "labelled_agents.json"


def load(repo: Path) -> tuple[list[str], list[str]]:
    """(the browsers' agents, the bots' agents) of the fixtures, each once."""
    browsers: set[str] = set()
    labelled: set[str] = set()
    for path in sorted((repo / "Tests" / "fixtures").glob("*.yml")):
        entries = yaml.load(path.read_text(), Loader=yaml.CSafeLoader) or []
        for entry in entries:
            agent = str(entry.get("user_agent") or "")
            if not agent:
                continue
            if path.name == "bots.yml":
                labelled.add(agent)
            elif (entry.get("client") or {}).get("type") == "browser":
                browsers.add(agent)
    return sorted(browsers), sorted(labelled)


def measure(browsers: list[str], labelled: list[str]) -> dict[str, object]:
    raw = bots._matcher().listed  # the list on the agent as sent
    flagged_before = [a for a in browsers if raw(a[: bots.MAX_AGENT_CHARS])]
    flagged_after = [a for a in flagged_before if bots.reason(a, "en") == bots.CRAWLER]
    caught_before = [a for a in labelled if raw(a[: bots.MAX_AGENT_CHARS])]
    # An image proxy fetching for a reader is counted as that reader by design (docs/pages.md).
    lost = [a for a in caught_before if bots.reason(a, "en") != bots.CRAWLER and not bots.is_proxy(a)]
    return {
        "browsers": len(browsers),
        "browsers_flagged_before": flagged_before,
        "browsers_flagged_after": flagged_after,
        "bots": len(labelled),
        "bots_caught_before": len(caught_before),
        "bots_lost": lost,
        "bots_rewritten": [a for a in caught_before if bots.normalised(a) != a],
    }


def main() -> None:
    repo = Path(sys.argv[1])
    found = measure(*load(repo))
    before, after = found["browsers_flagged_before"], found["browsers_flagged_after"]
    assert isinstance(before, list) and isinstance(after, list)
    print(
        f"browsers: {found['browsers']}, flagged as sent: {len(before)}, after the normalisation: {len(after)} "
        f"({1 - len(after) / max(len(before), 1):.0%} fewer); labelled bots: {found['bots']}, caught: "
        f"{found['bots_caught_before']}, lost: {len(found['bots_lost'])}"  # type: ignore[arg-type]
    )
    for agent in after:
        print("  still flagged:", agent[:120])
    if "--write" in sys.argv:
        data = {"browsers_flagged_as_sent": before, "bots_rewritten": found["bots_rewritten"]}
        OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print("wrote", OUT)


if __name__ == "__main__":
    main()
