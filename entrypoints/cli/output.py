"""Where a command writes, and how: aligned tables for people, JSON for scripts."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO


@dataclass
class Console:
    """The streams of one command run, and whether it answers in JSON."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    json: bool = False

    @property
    def interactive(self) -> bool:
        return self.stdin.isatty()

    def out(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """A remark for the person at the terminal, kept out of the output proper."""
        print(text, file=self.stderr, flush=True)

    def emit_json(self, data: Any, *, compact: bool = False) -> None:
        indent = None if compact else 2
        self.out(json.dumps(data, indent=indent, ensure_ascii=False))


def when(moment: datetime) -> str:
    """A timestamp to the second, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# Every C0 and C1 control character and DEL, and the bidirectional overrides: user
# text must not move the cursor, recolour or retitle the operator's terminal, or
# reorder what it shows. Shown escaped instead, as Python would write them.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE = [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = str.maketrans(
    {
        code: _NAMED.get(chr(code), f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        for code in _UNSAFE
    }
)


def flat(text: str) -> str:
    """Text on one line with every control character escaped, so a table keeps its shape
    and user text cannot drive the terminal (JSON output keeps it exact)."""
    return text.translate(_ESCAPES)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns, two spaces apart, under upper-case headers."""
    cells = [[h.upper() for h in headers], *[[flat(str(v)) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def fields(pairs: Sequence[tuple[str, object]]) -> str:
    """``name  value`` lines, the values aligned."""
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name.ljust(width)}  {flat(str(value))}" for name, value in pairs)
