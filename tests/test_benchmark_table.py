"""The benchmark table's pure parts: targets, rows read from figures, the Markdown, its place
between the markers in docs/PERFORMANCE.md, and how a benchmark's run turns into figures or
into "not measured". The figures here are fakes; nothing is timed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run
from benchmarks.table import (
    BEGIN,
    COLUMNS,
    END,
    Row,
    Target,
    at_most,
    below,
    none_of,
    render,
    replace_section,
)

QUICK = run.Setting(quick=True, jack=True, scsynth="")


# -- targets ---------------------------------------------------------------------------------


def test_a_target_is_checked_on_the_figure_as_measured_never_rounded() -> None:
    assert below(0.5, "< 0.5 ms").met(0.4999)
    assert not below(0.5, "< 0.5 ms").met(0.5)
    assert not below(0.5, "< 0.5 ms").met(0.50001)  # would print as 0.50 ms
    assert at_most(2.0, "≤ 2×").met(2.0)
    assert not at_most(2.0, "≤ 2×").met(2.0000001)
    assert none_of().met(0)
    assert not none_of().met(1)


def test_a_target_with_an_unknown_comparison_is_refused() -> None:
    with pytest.raises(ValueError, match="compares with"):
        Target("about 1", "~", 1.0)


def test_met_says_yes_no_or_n_a() -> None:
    def row(target: Target | None, value: float | None) -> Row:
        return Row("1", "underruns", target, "x", value)

    assert row(none_of(), 0).met == "yes"
    assert row(none_of(), 3).met == "no"
    assert row(none_of(), None).met == "n/a"  # not measured
    assert row(None, 3.0).met == "n/a"  # no target


# -- the Markdown and the markers ----------------------------------------------------------------


def test_render_puts_every_cell_in_its_column_and_escapes_pipes() -> None:
    rows = [
        Row("5", "chain | 8", at_most(2.0, "≤ 2×"), "2.35×\n(in-process)", 2.35, "1.41 s", "`x`"),
        Row("—", "round trip", None, "p50 0.2 ms", None),
    ]
    text = render("The table", ["Written today."], rows, ["A note."])
    lines = text.splitlines()
    assert lines[0] == BEGIN and lines[-1] == END
    assert "## The table" in lines and "Written today." in lines and "A note." in lines
    header = lines.index("| " + " | ".join(COLUMNS) + " |")
    assert lines[header + 1] == "|" + "---|" * len(COLUMNS)
    assert lines[header + 2] == (
        "| 5 | chain \\| 8 | ≤ 2× | 1.41 s | 2.35× (in-process) | no | `x` |"
    )
    assert lines[header + 3] == "| — | round trip | — | — | p50 0.2 ms | n/a | — |"


DOC = "# Performance\n\nIntro paragraph.\n\n## Latency\n\nProse written by people.\n"


def test_the_section_goes_before_the_first_section_when_there_are_no_markers() -> None:
    section = f"{BEGIN}\n## The benchmark table\n{END}"
    out = replace_section(DOC, section)
    head, tail = DOC.split("## Latency")
    assert out == f"{head}{section}\n\n## Latency{tail}"


def test_the_section_between_the_markers_is_replaced_and_nothing_else() -> None:
    first = replace_section(DOC, f"{BEGIN}\nold table\n{END}")
    second = replace_section(first, f"{BEGIN}\nnew table\n{END}")
    assert "old table" not in second and "new table" in second
    assert second == first.replace("old table", "new table")
    assert replace_section(second, f"{BEGIN}\nnew table\n{END}") == second


def test_a_document_without_sections_gets_the_table_at_its_end() -> None:
    out = replace_section("# Performance\n\nNothing yet.\n", f"{BEGIN}\nt\n{END}")
    assert out == f"# Performance\n\nNothing yet.\n\n{BEGIN}\nt\n{END}\n"


@pytest.mark.parametrize(
    "doc",
    [
        f"# P\n{BEGIN}\nhalf a table\n",
        f"# P\n{END}\nx\n{BEGIN}\n",
        f"# P\n{BEGIN}\n{END}\n{BEGIN}\n{END}\n",
    ],
    ids=["one marker", "out of order", "twice"],
)
def test_broken_markers_are_refused(doc: str) -> None:
    with pytest.raises(ValueError, match="fix the markers by hand"):
        replace_section(doc, f"{BEGIN}\nt\n{END}")


def test_the_performance_doc_has_one_pair_of_markers_or_none() -> None:
    doc = run.DOC.read_text()
    assert doc.count(BEGIN) == doc.count(END) <= 1
    assert replace_section(doc, f"{BEGIN}\nt\n{END}").count(BEGIN) == 1


# -- rows read from a benchmark's figures -------------------------------------------------------


def live_report(**over: Any) -> dict[str, Any]:
    """What live_build.py prints, trimmed to what the table reads."""

    def phase(underruns: int, deaths: int, apply_us: float, p50: float) -> dict[str, Any]:
        return {
            "underruns": underruns, "deaths": deaths, "respawns": deaths,
            "max_apply_us": apply_us, "slowest_command": "/patch/connect",
            "render": {"A": {"p50_us": p50, "p99_us": 2 * p50, "max_us": 3 * p50},
                       "B": {"p50_us": p50 / 2, "p99_us": p50, "max_us": p50}},
        }  # fmt: skip

    report = {
        "build_s": 12.5, "build_error_count": 0, "build_errors": [],
        "building": phase(2, 0, 310.0, 150.0), "idle": phase(1, 1, 120.0, 80.0),
    }  # fmt: skip
    report.update(over)
    return report


def test_live_build_rows_add_up_the_phases() -> None:
    report = live_report()
    assert run.build_underruns(report).value == 3
    assert run.deaths(report).value == 1
    longest = run.longest_command(report)
    assert longest.value == pytest.approx(0.31)  # ms, against < 0.5 ms
    assert "310 µs" in longest.chronus and "/patch/connect" in longest.chronus
    idle = run.idle_render(report)
    assert idle.value == pytest.approx(100 * 80.0 / (1e6 * 128 / 48000))  # the worst slot's p50
    assert idle.chronus.startswith("3.0 %")


def test_refused_creates_show_and_fail_the_thousand_modules() -> None:
    report = live_report(build_error_count=12, build_errors=["the DSP load is 81 %"])
    created = run.bare_created(report)
    assert created.value == 988 and "81 %" in created.chronus
    assert not Target("1,000", "==", 1000.0).met(created.value)
    assert "12 commands refused" in run.build_underruns(report).chronus


def test_the_chain_anchor_ratio_is_render_over_scsynths_render_work() -> None:
    figures = {"8": {
        "runs": 5, "scsynth render work": 1.5,
        "chronus render, in-process (this checkout)": 3.3,
        "chronus render, whole process (this checkout)": 5.1,
        "by hand, dual-mono, block 512": 2.7,
    }}  # fmt: skip
    reading = run.chain_ratio(8)(figures)
    assert reading.value == pytest.approx(2.2)
    assert reading.anchor.startswith("1.500 s")
    assert "1.80×" in reading.chronus  # by hand, dual mono


def test_the_dsp_anchor_ratio_is_render_over_scsynths_time() -> None:
    row = {"render_s": 0.45, "scsynth_s": 0.3, "runs": 5, "whole_s": 1.5, "paired_ratio": 1.4}
    reading = run.dsp_ratio(8)({"8": row})
    assert reading.value == pytest.approx(1.5)
    assert at_most(1.5, "≤ 1.5×").met(reading.value)
    assert reading.chronus.startswith("1.50× (0.450 s") and "run by run 1.40×" in reading.chronus


def test_no_scsynth_means_no_ratio_and_an_anchor_that_says_why() -> None:
    figures = {"8": {
        "runs": 1, "scsynth render work": 0.0,
        "chronus render, in-process (this checkout)": 3.3,
        "chronus render, whole process (this checkout)": 5.1,
    }}  # fmt: skip
    reading = run.chain_ratio(8)(figures)
    assert reading.value is None and reading.anchor.startswith("not measured")
    dsp = run.dsp_ratio(8)({"8": {"render_s": 0.4, "scsynth_s": None, "runs": 1, "whole_s": 1.2}})
    assert dsp.value is None and dsp.anchor.startswith("not measured")


def test_startup_reads_the_median_and_scsynths_boot_as_anchor() -> None:
    figures = {
        "ready": {"this tree": [0.9, 0.7, 1.4]},
        "scsynth": {"this tree": [0.16, 0.2, 0.15]},
        "cold": {"this tree": [7.0, 9.0]},
        "cold_progress_lines": {"this tree": [1, 1]},
    }
    ready = run.startup("ready", anchored=True)(figures)
    assert ready.value == 0.9 and "0.16 s" in ready.anchor
    cold = run.startup("cold")(figures)
    assert cold.value == 8.0 and not below(8.0, "< 8 s").met(cold.value)
    missing = run.startup("ready", anchored=True)(
        {"ready": {"this tree": [0.5]}, "scsynth": {"not_measured": "no JACK server running"}}
    )
    assert missing.anchor == "not measured: no JACK server running"


def test_only_xruns_with_no_host_stall_before_them_count_against_chronus() -> None:
    rounds = [
        {"bare_xruns": 10, "bare_after_host_stall": 10, "xruns": 53, "after_host_stall": 52,
         "underruns": 0},
        {"bare_xruns": 4, "bare_after_host_stall": 3, "xruns": 7, "after_host_stall": 7,
         "underruns": 1},
    ]  # fmt: skip
    reading = run.own_xruns({"seconds": 60, "rounds": rounds})
    assert reading.value == 1 and reading.chronus.startswith("1 of 60 xruns")
    assert "1 of 14" in reading.anchor


def test_a_round_trip_has_no_target_and_shows_both_servers() -> None:
    one = {"count": 300, "p50_ms": 0.25, "p99_ms": 0.5}
    reading = run.round_trip({"chronus": one, "scsynth": {**one, "p50_ms": 5.0}})
    assert reading.value is None and "p50 5.000 ms" in reading.anchor


def test_plugin_validation_rows_read_the_median_and_the_overhead() -> None:
    figures = {
        "module": "good_kernel.py", "runs": 50, "validate_ms_p50": 26.5,
        "validate_ms_p90": 31.0, "in_process_ms": 12.0, "sandboxed_ms": 24.0,
        "overhead_pct": 100.0, "first_import_ms": 16.0, "overhead_first_import_pct": 50.0,
        "overhead_first_import_cpu_pct": 20.0,
    }  # fmt: skip
    latency = run.plugin_validation(figures)
    assert latency.value == 26.5 and "p90 31.0 ms" in latency.chronus
    overhead = run.sandbox_overhead(figures)
    assert overhead.value == 50.0 and "16.0 ms in-process on a first import" in overhead.chronus
    assert "CPU +20 %" in overhead.chronus and "over a re-import 100 %" in overhead.chronus
    assert not below(5.0, "< 5 %").met(overhead.value)


def test_plugin_startup_rows_read_the_medians_against_three_seconds() -> None:
    figures = {
        "modules": 12, "validated": True, "ready_s": [0.8, 0.7, 0.9],
        "loaded_s": [1.7, 1.9, 1.8], "loaded_median_s": 1.8, "reload_s": [0.2, 0.3, 0.25],
    }  # fmt: skip
    startup = run.plugin_startup(figures)
    assert startup.value == 1.8 and "12 modules, validated" in startup.chronus
    assert "READY alone 0.80 s" in startup.chronus and below(3.0, "< 3 s").met(startup.value)
    assert run.plugin_reload(figures).value == 0.25
    assert run.plugin_reload({**figures, "reload_s": []}).value is None


def test_plugin_live_counts_underruns_against_none() -> None:
    figures = {
        "underruns": 0, "seconds": 25.0, "cycles": 5, "module": "numba kernel",
        "host_stalls": 3, "longest_host_stall_ms": 4.2,
    }  # fmt: skip
    reading = run.plugin_live(figures)
    assert reading.value == 0 and none_of().met(reading.value)
    assert "5 cycles of a numba kernel module" in reading.chronus and "4.2 ms" in reading.chronus


def test_link_phase_reads_the_p99_against_a_millisecond() -> None:
    figures = {
        "beats": 110, "p50_ms": 0.02, "p99_ms": 0.031, "max_ms": 0.04, "mean_ms": 0.001,
        "first_bar_ms": 0.01, "left_out": 1, "nudges": 9, "xruns": 0, "underruns": 2,
    }  # fmt: skip
    reading = run.link_phase(figures)
    assert reading.value == 0.031 and below(1.0, "< 1 ms").met(reading.value)
    assert reading.chronus.startswith("p99 0.031 ms") and "110 beats" in reading.chronus
    assert not below(1.0, "< 1 ms").met(run.link_phase({**figures, "p99_ms": 2.7}).value)


# -- from a run to rows ---------------------------------------------------------------------


def test_json_figures_are_read_whole_or_from_the_last_line() -> None:
    assert run.parse_figures(json.dumps({"a": 1}, indent=1)) == {"a": 1}
    assert run.parse_figures('progress\n{"a": 2}\n') == {"a": 2}
    for bad in ("", "[1, 2]", "no json here"):
        with pytest.raises(ValueError):
            run.parse_figures(bad)


def test_a_benchmark_that_did_not_run_gives_rows_that_say_why() -> None:
    bench = next(b for b in run.BENCHES if b.name == "startup")
    rows = run.rows_of(bench, QUICK, "no JACK server running")
    assert len(rows) == len(bench.figures) == 5
    assert all(r.chronus == "not measured: no JACK server running" for r in rows)
    assert all(r.met == "n/a" and r.value is None for r in rows)
    assert rows[0].how == "`startup.py --runs 2 --cold-runs 1`"


def test_figures_missing_from_a_benchmarks_json_give_not_measured_not_a_crash() -> None:
    bench = next(b for b in run.BENCHES if b.name == "live_build_32")
    rows = run.rows_of(bench, QUICK, {"building": {}})
    assert rows and all(r.chronus.startswith("not measured: its figures lack") for r in rows)


def test_a_device_benchmark_without_jack_is_not_run(tmp_path: Path) -> None:
    bench = next(b for b in run.BENCHES if b.name == "pattern_changes")
    no_jack = run.Setting(quick=True, jack=False, scsynth="no JACK server running")
    assert run.run_bench(bench, no_jack, tmp_path, timeout=5) == "no JACK server running"
    assert not list(tmp_path.iterdir())  # no log: nothing was started


def fake_bench(tmp_path: Path, body: str) -> run.Bench:
    script = tmp_path / "fake.py"
    script.write_text(body)
    return run.Bench("fake", str(script), lambda s: [], (), json_flag=False)


def test_run_bench_reads_a_benchmarks_json_and_logs_its_prose(tmp_path: Path) -> None:
    body = 'import sys\nprint("prose", file=sys.stderr)\nprint(\'{"x": 1}\')\n'
    bench = fake_bench(tmp_path, body)
    assert run.run_bench(bench, QUICK, tmp_path, timeout=30) == {"x": 1}
    assert (tmp_path / "fake.log").read_text() == "prose\n"


def test_a_failing_benchmark_says_how_it_failed(tmp_path: Path) -> None:
    bench = fake_bench(tmp_path, "raise SystemExit('the engine did not start')\n")
    why = run.run_bench(bench, QUICK, tmp_path, timeout=30)
    assert isinstance(why, str) and "exit 1" in why and "the engine did not start" in why


def test_a_benchmark_over_its_time_is_stopped(tmp_path: Path) -> None:
    bench = fake_bench(tmp_path, "import time\ntime.sleep(60)\n")
    why = run.run_bench(bench, QUICK, tmp_path, timeout=0.5)
    assert isinstance(why, str) and "took more than" in why


def test_the_table_of_a_record_names_the_run_and_has_every_row() -> None:
    record = {
        "quick": True, "jack": False, "scsynth": "no JACK server running",
        "scsynth_version": "scsynth 3.13.0", "only": [], "seconds": 42.0,
        "load_after": [1.5, 1.2, 1.0],
        "machine": {"date": "2026-12-05 10:00 UTC", "commit": "abc1234", "nproc": 2,
                    "cpu": "Some CPU", "python": "3.11.7", "load": [0.5, 0.4, 0.3]},
        "results": {"lang_parse": {"load_ms": 90.0, "first_line_ms": 100.0, "build_ms": 96.0,
                                   "lines": 558, "p50_us": 85.0, "p99_us": 240.0,
                                   "max_us": 600.0}},
    }  # fmt: skip
    section = run.table(record)
    assert section.startswith(BEGIN) and section.endswith(END)
    assert "**quick run**" in section and "`abc1234`" in section and "2 × Some CPU" in section
    assert "0.5 / 0.4 / 0.3 before, 1.5 / 1.2 / 1.0 after" in section
    body = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(body) - 1 == sum(len(b.figures) for b in run.BENCHES)
    assert "| 90.0 ms (median) | yes |" in section
    assert section.count("not run (`--only`)") == sum(
        len(b.figures) for b in run.BENCHES if b.name != "lang_parse"
    )


def test_every_row_the_issue_asks_for_has_its_benchmark() -> None:
    assert {b.name for b in run.BENCHES} >= {
        "live_build_128", "live_build_32", "live_build_bare", "pattern_changes",
        "chain_vs_scsynth", "live_build_play", "startup", "round_trip", "latency",
        "dsp_vs_scsynth", "big_replies", "plugin_validation", "plugin_startup", "plugin_live",
        "link_phase",
    }  # fmt: skip
