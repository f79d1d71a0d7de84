"""The reads as CSV (``hitcounter.web.csv_answers``): what a spreadsheet would run is defused,
numbers stay numbers, the file name holds nothing from the request but safe characters."""

from __future__ import annotations

import csv
import io

import pytest

from hitcounter.core.errors import BadRequest
from hitcounter.web import csv_answers


@pytest.mark.parametrize("text", ["=1+2", "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_would_be_a_formula_is_defused(text: str) -> None:
    assert csv_answers.cell(text) == "'" + text


def test_other_cells_are_as_they_are() -> None:
    assert [csv_answers.cell(v) for v in ("/blog/", "home", 5, 0)] == ["/blog/", "home", 5, 0]


def test_a_series_and_a_top_list_read_back() -> None:
    body = {"unit": "day", "series": [{"start": "2026-12-06T00:00:00Z", "hits": 4, "uniques": 2}]}
    assert list(csv.reader(io.StringIO(csv_answers.series(body)))) == [
        ["start", "hits", "uniques"],
        ["2026-12-06T00:00:00Z", "4", "2"],
    ]
    top = {"pages": [{"page": '/a,"b"/', "hits": 3, "uniques": 1}]}
    assert list(csv.reader(io.StringIO(csv_answers.top_pages(top))))[1] == ['/a,"b"/', "3", "1"]


def test_the_format_and_the_file_name() -> None:
    assert csv_answers.wants_csv({"format": "csv"}) and not csv_answers.wants_csv({})
    with pytest.raises(BadRequest):
        csv_answers.wants_csv({"format": "xlsx"})
    name = csv_answers.headers('stats-"/../x\r\n"')["Content-Disposition"]
    assert name == 'attachment; filename="stats---..-x---.csv"'
