"""Read values from reference/h36m_facts.txt (tests/fixtures/), so tests compare against the facts file itself."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path


class Facts:
    """Sections and `label = value` entries of the facts file."""

    def __init__(self, text: str):
        self.text = text
        parts = re.split(r"^=== (\d+)\. ", text, flags=re.M)
        self.sections = {int(number): body for number, body in zip(parts[1::2], parts[2::2])}

    def value(self, section: int, label: str):
        """The bracketed value after `label ... =` in a section (lists of numbers or of bare names)."""
        body = self.sections[section]
        start = body.index(label)
        opening = body.index("[", body.index("=", start))
        depth = 0
        for end in range(opening, len(body)):
            depth += {"[": 1, "]": -1}.get(body[end], 0)
            if depth == 0:
                break
        literal = body[opening : end + 1]
        try:
            return ast.literal_eval(literal)
        except (ValueError, SyntaxError):  # bare names: [RFoot, RKnee, ...]
            return [name.strip() for name in literal[1:-1].split(",")]

    def names(self, section: int, label: str) -> list[str]:
        """Comma-separated names after `label =` or `label:` (a leading index per name is dropped)."""
        body = self.sections[section]
        start = re.search(re.escape(label) + r"\s*[:=]", body).end()
        text = []
        for line in body[start:].splitlines():
            if text and "=" in line:
                break
            text.append(line)
        names = [re.sub(r"^\d+\s+", "", item.strip()) for item in " ".join(text).split(",")]
        return [name for name in names if name]

    def edges16(self) -> list[tuple[int, int]]:
        line = next(line for line in self.sections[6].splitlines() if line.startswith("edges16"))
        return [(int(a), int(b)) for a, b in re.findall(r"\((\d+),(\d+)\)", line)]

    def cameras(self) -> list[dict]:
        """Section 1: intrinsics of the 4 cameras (pixels)."""
        body = self.sections[1]
        cameras = []
        for block in re.split(r"cam idx \d+:", body)[1:5]:

            def numbers(key, block=block):
                return [
                    float(v) for v in re.search(key + r" \[([^\]]+)\]", block).group(1).split(",")
                ]

            cameras.append(
                {
                    "id": re.search(r"id '(\d+)'", block).group(1),
                    "center": numbers("center"),
                    "focal_length": numbers("focal_length"),
                    "radial_distortion": numbers("radial_distortion"),
                    "tangential_distortion": numbers("tangential_distortion"),
                    "res_w": int(re.search(r"res_w (\d+)", block).group(1)),
                    "res_h": int(re.search(r"res_h (\d+)", block).group(1)),
                }
            )
        return cameras

    def extrinsics(self) -> dict[str, list[tuple[list[float], list[float]]]]:
        """Section 2: subject -> 4 x (orientation quaternion, translation in mm)."""
        result, subject = {}, None
        for line in self.sections[2].splitlines():
            match = re.match(r"\s*(S\d+):", line)
            if match:
                subject = match.group(1)
            match = re.search(r"c\d q \[([^\]]+)\]\s+t \[([^\]]+)\]", line)
            if match:
                quaternion, translation = (
                    [float(v) for v in group.split(",")] for group in match.groups()
                )
                result.setdefault(subject, []).append((quaternion, translation))
        return result


@cache
def _load(path: str) -> Facts:
    return Facts(Path(path).read_text())


def load_facts(shared_dir: Path) -> Facts:
    return _load(str(shared_dir / "reference" / "h36m_facts.txt"))
