"""tools/profile_export.py: a real, tiny profile of the portable export, and one-line errors for bad flags."""

import pytest

from tests.tool_module import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("profile_export")


def test_profiles_the_exported_signature_by_op_type(tool, capsys):
    assert tool.main(["--batch", "8", "--repeats", "1", "--traces", "1", "--top", "50"]) == 0
    printed = capsys.readouterr().out
    assert "standard, batch 8: " in printed and "% of the measured matmul peak" in printed
    rows = [
        line.split(" | ")
        for line in printed.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]
    kinds = {row[0].lstrip("| ") for row in rows}
    assert any("MatMul" in kind for kind in kinds), (
        kinds
    )  # the model's products are in the executor's trace
    assert all(float(row[1]) >= 0 and int(row[3].rstrip(" |")) >= 1 for row in rows)


def test_beside_peak_prints_each_pair_and_its_share(tool, capsys):
    assert tool.main(["--batch", "8", "--repeats", "1", "--traces", "1", "--beside-peak", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    pairs = [
        line.strip("| ").split(" | ") for line in lines if line[:4] in ("| 1 ", "| 2 ", "| 3 ")
    ]
    assert [int(pair[0]) for pair in pairs] == [1, 2, 3]
    for (
        _,
        peak,
        rate,
        share,
    ) in pairs:  # each share is the signature's FLOP/s over the peak of its own pair
        assert float(peak) > 0 and float(rate) > 0
        assert abs(
            float(share.rstrip("%")) - 100 * float(rate) / float(peak)
        ) <= 1 + 100 * 0.05 / float(peak)
    assert lines[-1].startswith("% of the peak beside it: median ") and lines[-1].endswith(
        "over 3 pairs"
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--preset", "huge"], "invalid choice: 'huge'"),
        (["--batch", "0"], "expected a positive integer, got '0'"),
        (["--repeats", "two"], "expected a positive integer, got 'two'"),
        (["--beside-peak", "-1"], "expected a positive integer, got '-1'"),
    ],
)
def test_bad_flags_are_one_line_errors(tool, capsys, flags, expected):
    with pytest.raises(SystemExit) as exited:
        tool.main(flags)
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert expected in error
