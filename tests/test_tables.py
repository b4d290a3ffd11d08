"""The one text-table renderer (cwdsl.core.tables)."""
import math

import pytest

from cwdsl.core.tables import Column, render_table


def test_cells_are_formatted_aligned_and_suffixed_within_their_width():
    assert Column("name", 8, align="<").cell("ab") == "ab      "
    assert Column("pct", 8, ".1f", suffix="%").cell(12.345) == "   12.3%"
    assert Column("n", 5).cell(7) == "    7"
    assert Column("x", 6, ".2f").cell(math.nan) == "   nan"
    assert Column("x", 4, ".1f", suffix="%").cell(None) == "    "   # an empty cell
    assert Column("pair", 9, lambda v: f"{v[0]}±{v[1]}").cell((1, 2)) == "      1±2"
    assert Column("t", 6, align="<").heading() == "t     "
    assert Column("t", 6).heading() == "     t"
    with pytest.raises(ValueError):
        Column("t", 6, align="^")


def test_table_layout_with_and_without_header_rule_and_footer():
    columns = (Column("a", 4, align="<"), Column("b", 6, ".1f", suffix="%"))
    assert render_table("head", columns, [("x", 50.0), ("yy", 7.25)], "foot") == (
        "head\n\na        b\n----------\nx    50.0%\nyy    7.2%\n\nfoot")
    assert render_table(None, columns, [("x", 1.0)], rule=False) == "a        b\nx     1.0%"
    with pytest.raises(ValueError, match="2 columns"):
        render_table(None, columns, [("x",)])


def test_a_value_wider_than_its_column_widens_it_for_every_row():
    """Issue 19: "frame oracle (learned)" in the 13-wide schedule column pushed its row's
    other columns right; now the column widens and every row's columns line up."""
    columns = (Column("schedule", 13, align="<"), Column("time", 8, ".1f", suffix="%"),
               Column("mean IU", 9, ".1f"))
    rows = [("frame oracle (learned)", 100.0, 0.8), ("adaptive", None, None),
            ("  θ = 0.05", 99.5, 0.75), ("a group heading that runs on and on", None, None)]
    lines = render_table(None, columns, rows).split("\n")
    assert lines[0] == "schedule".ljust(23) + "    time  mean IU"
    assert lines[2] == "frame oracle (learned)".ljust(23) + "  100.0%      0.8"
    assert lines[4] == "  θ = 0.05".ljust(23) + "   99.5%      0.8"
    assert len(lines[1]) == len(lines[2]) == len(lines[4]) == len(lines[0])
    assert lines[5].rstrip() == "a group heading that runs on and on"  # a heading runs on
    # a right-aligned value too wide widens its column too
    wide = render_table(None, (Column("n", 3),), [(123456,), (7,)]).split("\n")
    assert wide == ["      n", "-------", " 123456", "      7"]
    # columns that fit are left as they were
    assert render_table(None, columns[:2], [("x", 1.0)], rule=False) == (
        "schedule         time\nx                1.0%")
