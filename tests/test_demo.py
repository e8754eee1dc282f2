"""The main job, ``python -m skvsc demo``, at a tiny budget (``--quick``)."""

import io
import subprocess
import sys

import pytest
import torch

import skvsc
from skvsc.__main__ import COLUMNS, DEMO_SETTINGS, format_table, main, run_demo


def test_demo_quick_prints_one_table(capsys):
    threads = torch.get_num_threads()
    assert main(["demo", "--quick", "--device", "cpu"]) == 0
    assert torch.get_num_threads() == threads  # restored
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].split() == ["model", "data", "fit", "s", "cpu", "s", "PSNR", "dB",
                                "zeros", "accuracy"]
    available = [name for name in DEMO_SETTINGS if getattr(skvsc, name, None)]
    assert "SparseCoder" in available
    rows = [line.split() for line in lines[2:2 + 1 + 2 * len(available)]]
    assert rows[0][:2] == ["raw", "pixels"]
    assert float(rows[0][-1]) > 0.8  # logistic regression on raw digits
    for name in available:
        mine = [row for row in rows if row[0] == name]
        assert [row[1] for row in mine] == ["digits", "patches"]
        for row in mine:
            assert 0 <= float(row[5]) <= 1  # fraction of zeros
            assert float(row[4]) > 0  # PSNR in dB
        assert 0 <= float(mine[0][6]) <= 1 and mine[1][6] == "-"
    # progress: a line as each model starts and ends, on stderr
    for name in available:
        assert f"fitting {name} on digits" in err
    assert err.count("done: fit") == 2 * len(available)


def test_run_demo_rows_and_progress_stream():
    stream = io.StringIO()
    rows = run_demo(quick=True, device="cpu", models=["SparseCoder"], stream=stream)
    assert [(r["model"], r["data"]) for r in rows] == [
        ("raw pixels", "digits"), ("SparseCoder", "digits"), ("SparseCoder", "patches")]
    for row in rows:
        assert set(COLUMNS) <= set(row) and row["error"] is None
    sparse = rows[1]
    assert sparse["zeros"] > 0.2 and sparse["accuracy"] > 0.5
    assert "finished" in stream.getvalue()


def test_demo_settings_are_parameters_of_the_estimators():
    for name, per_dataset in DEMO_SETTINGS.items():
        cls = getattr(skvsc, name, None)
        if cls is None:
            continue
        params = cls().get_params()
        assert set(per_dataset) == {"digits", "patches"}
        for settings in per_dataset.values():
            assert set(settings) <= set(params), name


def test_demo_rejects_unknown_models():
    with pytest.raises(ValueError, match="unknown model"):
        run_demo(quick=True, models=["PCA"])
    with pytest.raises(SystemExit):
        main(["demo", "--models", "PCA"])


def test_format_table_marks_failures():
    rows = [{"model": "M", "data": "digits", "fit s": None, "cpu s": None,
             "PSNR dB": None, "zeros": None, "accuracy": None, "error": "boom"},
            {"model": "Longer name", "data": "patches", "fit s": 1.25, "cpu s": 1.0,
             "PSNR dB": float("inf"), "zeros": 0.5, "accuracy": None, "error": None}]
    lines = format_table(rows).splitlines()
    assert len(lines) == 4
    assert "FAILED" in lines[2]
    assert lines[3].split() == ["Longer", "name", "patches", "1.2", "1.0", "inf",
                                "0.500", "-"]


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "demo" in capsys.readouterr().out
    assert main([]) == 2  # no command: print the help


def test_python_dash_m_skvsc_help():
    result = subprocess.run([sys.executable, "-m", "skvsc", "demo", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--quick" in result.stdout
