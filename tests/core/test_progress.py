"""Progress without a terminal (periodic lines with done/total, rate, ETA), a bar on one, the summary."""

from __future__ import annotations

import io
import re

import embedspec
import pytest
from embedspec.progress import IngestReport, Progress, format_duration, progress_mode


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_mode_follows_the_terminal_and_the_environment(monkeypatch):
    monkeypatch.delenv("EMBEDSPEC_PROGRESS", raising=False)
    assert progress_mode(None, Terminal()) == "bar"
    assert progress_mode(None, io.StringIO()) == "log"
    assert progress_mode(True, io.StringIO()) == "log"
    assert progress_mode(False, Terminal()) == "off"
    monkeypatch.setenv("EMBEDSPEC_PROGRESS", "0")
    assert progress_mode(None, Terminal()) == "off"
    assert progress_mode(True, Terminal()) == "bar", "an explicit request wins over the environment"


def test_log_lines_say_done_total_rate_and_eta(monkeypatch):
    clock = iter([100.0, 110.0, 115.0, 130.0])
    monkeypatch.setattr("embedspec.progress.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    progress = Progress(400, mode="log", stream=out, interval=10)  # start at t=100
    progress.update(100)  # t=110: 10 s since the start -> a line
    progress.update(50)  # t=115: 5 s since the last line -> none
    progress.update(150)  # t=130: 20 s -> a line
    lines = out.getvalue().splitlines()
    assert lines == [
        "encoding: 100/400 documents (25.0%), 10.0 documents/s, ETA 30s",
        "encoding: 300/400 documents (75.0%), 10.0 documents/s, ETA 10s",
    ]


def test_a_short_run_prints_nothing_and_an_unknown_total_still_reports():
    out = io.StringIO()
    progress = Progress(None, mode="log", stream=out, interval=60)
    progress.update(10)
    assert out.getvalue() == ""
    assert re.fullmatch(r"encoding: 10 documents, [\d.,]+ documents/s, \d+s elapsed", progress.line())


def test_bar_on_a_terminal():
    out = Terminal()
    with Progress(20, mode="bar", stream=out) as progress:
        progress.update(20)
    assert "20/20" in out.getvalue()


def test_durations():
    assert [format_duration(s) for s in (0, 59.4, 61, 3599, 3600, 7325)] == ["0s", "59s", "1m01s", "59m59s",
                                                                              "1h00m", "2h02m"]


def test_report_summary_line():
    report = IngestReport(documents=120, written=100, skipped=15, duplicates=5, seconds=4.0, cache_hits=30,
                          cache_misses=70)
    assert report.rate == 30.0
    assert str(report) == ("120 documents, 100 written, 15 skipped (already indexed), 5 duplicates, 0 failed, "
                           "cache 30 hits / 70 misses, 4s (4.0 s), 30.0 documents/s")
    assert report.as_dict()["documents_per_s"] == 30.0


def test_pipeline_ingest_reports_and_logs_without_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("EMBEDSPEC_PROGRESS_INTERVAL", "0.1")
    monkeypatch.delenv("EMBEDSPEC_PROGRESS", raising=False)
    ticks = iter(range(0, 10_000))
    monkeypatch.setattr("embedspec.progress.time.monotonic", lambda: float(next(ticks)))
    pipe = embedspec.build({"version": 1, "encoder": {"type": "hashing", "dim": 16}, "index": {"type": "exact"}},
                           cache=False)
    texts = [f"text {i}" for i in range(50)] + ["text 0"]
    report = pipe.ingest(embedspec.pipeline.as_documents(texts), batch_size=10, total=len(texts))
    assert (report.documents, report.written, report.duplicates, report.skipped) == (51, 50, 1, 0)
    assert len(report.ids) == 51 and report.ids[0] == report.ids[50]
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("encoding: 10/51 documents (19.6%)") and "ETA" in err[0]
    assert err[-1].startswith("encoding: 51/51 documents (100.0%)")


def test_progress_rejects_unknown_modes():
    with pytest.raises(ValueError, match="mode must be 'bar', 'log' or 'off'"):
        Progress(1, mode="loud")


def test_a_long_phase_says_it_is_under_way_and_how_long_it_took_a_quick_one_says_nothing():
    import io
    import time

    from embedspec.progress import Phase

    out = io.StringIO()
    with Phase("index: optimising", mode="log", stream=out, min_seconds=0.05):
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert lines[0] == "index: optimising..." and lines[1].startswith("index: optimising: done in "), lines
    quiet = io.StringIO()
    with Phase("index: optimising", mode="log", stream=quiet, min_seconds=5):
        pass
    with Phase("index: optimising", mode="off", stream=quiet, min_seconds=0.0):
        time.sleep(0.05)
    assert quiet.getvalue() == ""
