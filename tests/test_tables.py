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
