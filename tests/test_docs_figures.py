"""The README's style table quotes docs/quality.md: a net shipped with new figures must change both."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: A mean figure, bold or not, optionally followed by the worst photo's in brackets.
FIGURE = r"\**([0-9.]+)\**(?: \([0-9.]+\))?"


def shipped_nets() -> set[str]:
    """The names of the model files in trained_models/."""
    return {path.name.removesuffix(".safetensors") for path in (ROOT / "trained_models").glob("*.safetensors")}


def quality_table(header: str) -> str:
    """The table of docs/quality.md that starts with ``header``."""
    text = (ROOT / "docs" / "quality.md").read_text()
    return text[text.index(header):].split("\n\n")[0]


def readme_figures() -> dict[str, tuple[str, str]]:
    """Model name -> (style ratio, content distance) from the README's styles table."""
    rows = re.findall(r"^\| `([\w.]+)`[^|]*\|[^|]*\| ([0-9.]+) \| ([0-9.]+) \|", (ROOT / "README.md").read_text(), re.M)
    return {name: (ratio, content) for name, ratio, content in rows}


def quality_figures() -> dict[str, tuple[str, str]]:
    """Model name -> (style ratio, content distance) from docs/quality.md's table of the shipped nets."""
    table = quality_table("| model | training | style ratio mean (worst) |")
    rows = re.findall(rf"^\| ([\w.]+) \|.*\| {FIGURE} \| {FIGURE} \|$", table, re.M)
    return {name: (ratio, content) for name, ratio, content in rows}


def test_the_readme_table_quotes_the_quality_table_for_every_shipped_net() -> None:
    readme, quality = readme_figures(), quality_figures()
    shipped = shipped_nets()
    assert set(readme) == shipped and set(quality) == shipped
    for name in sorted(shipped):
        for quoted, measured in zip(readme[name], quality[name]):
            decimals = len(quoted.partition(".")[2])
            assert round(float(measured), decimals) == float(quoted), (
                f"{name}: README {readme[name]} against docs/quality.md {quality[name]}"
            )


def readme_flicker() -> dict[str, str]:
    """Model name -> the flicker figure (bikes.mp4, no smoothing) from the README's styles table."""
    rows = re.findall(r"^\| `([\w.]+)`[^|]*\|[^|]*\|[^|]*\|[^|]*\| ([0-9.]+)× \|$", (ROOT / "README.md").read_text(), re.M)
    return dict(rows)


def quality_flicker() -> dict[str, str]:
    """Model name -> the shipped net's bikes.mp4 figure: the last of its chain in docs/quality.md's flicker table."""
    table = quality_table("| model | bikes | car-detection | one-by-one |")
    rows = re.findall(r"^\| ([\w.]+) \| ([^|]+) \|", table, re.M)
    return {name: re.findall(r"([0-9.]+)×", bikes)[-1] for name, bikes in rows if "×" in bikes}


def test_the_readme_flicker_column_quotes_the_quality_flicker_table() -> None:
    readme, quality = readme_flicker(), quality_flicker()
    shipped = shipped_nets()
    assert set(readme) == shipped and set(quality) == shipped
    for name in sorted(shipped):
        assert readme[name] == quality[name], f"{name}: README {readme[name]}× against docs/quality.md {quality[name]}×"
