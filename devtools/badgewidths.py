"""Writes ``hitcounter/web/badge_widths.py``, the text widths the badge measures with: the
advance of each character of ASCII and Latin-1 in DejaVu Sans at 11 px (one of the fonts the
badge names, the one Linux browsers draw it with), taken from pybadges' precomputed metrics
(``default-widths.json``, DejaVu Sans at 110 px, Apache License 2.0).

    python -m devtools.badgewidths /path/to/pybadges/default-widths.json

Other characters are measured by class in ``hitcounter.web.badge`` (wide East Asian
characters one em, marks nothing, the rest the font's mean advance)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "layers/shared/python/hitcounter/web/badge_widths.py"
CHARS = [chr(c) for c in [*range(0x20, 0x7F), *range(0xA0, 0x100)]]


def main() -> None:
    data = json.loads(Path(sys.argv[1]).read_text())
    lengths = data["character-lengths"]
    widths = {ch: round(lengths[ch] / 10, 2) for ch in CHARS if ch in lengths}
    mean = round(data["mean-character-length"] / 10, 2)
    rows = "".join(f"    {ch!r}: {w},\n" for ch, w in widths.items())
    OUT.write_text(
        '"""Advances of ASCII and Latin-1 characters in DejaVu Sans at 11 px, and its mean advance:\n'
        "written by ``python -m devtools.badgewidths`` from pybadges' precomputed metrics (DejaVu Sans\n"
        '110 px, Apache License 2.0). Do not edit by hand."""\n\n'
        f"MEAN = {mean}\n"
        "WIDTHS: dict[str, float] = {\n"
        f"{rows}"
        "}\n"
    )
    print(f"wrote {OUT}: {len(widths)} characters, mean {mean}")


if __name__ == "__main__":
    main()
