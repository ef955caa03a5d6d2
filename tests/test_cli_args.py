"""The CLI's options: one given before the subcommand is not overwritten by the subcommand's
own default (argparse sets a subparser's defaults over the parent's values)."""

from __future__ import annotations

import pytest

from chronus.cli import build_parser


@pytest.mark.parametrize("command", [["send", "tempo 120"], ["run", "x.chr"], ["health"]])
def test_engine_before_the_subcommand_is_kept(command: list[str]) -> None:
    args = build_parser().parse_args(["--engine", "127.0.0.1:57333", *command])
    assert args.engine == ("127.0.0.1", 57333)
    args = build_parser().parse_args([*command[:1], "--engine", "127.0.0.1:57334", *command[1:]])
    assert args.engine == ("127.0.0.1", 57334)
    assert build_parser().parse_args(command).engine is None  # the subcommand's default


@pytest.mark.parametrize("command", [["run", "x.chr"], ["engine"]])
def test_backend_before_the_subcommand_is_kept(command: list[str]) -> None:
    assert build_parser().parse_args(["--backend", "null", *command]).backend == "null"
    assert build_parser().parse_args(command).backend == "auto"
    assert build_parser().parse_args([*command, "--backend", "device"]).backend == "device"


def test_engine_http_takes_host_port_or_a_port_on_loopback() -> None:
    assert build_parser().parse_args(["engine"]).http is None
    args = build_parser().parse_args(["engine", "--http", "0.0.0.0:8080"])
    assert args.http == ("0.0.0.0", 8080)
    assert build_parser().parse_args(["engine", "--http", "8080"]).http == ("127.0.0.1", 8080)
    assert build_parser().parse_args(["engine", "--http", ":0"]).http == ("127.0.0.1", 0)


def test_shell_options_and_the_engine_port_apart() -> None:
    args = build_parser().parse_args([])
    assert (args.quiet, args.new_engine, args.shell_port) == (False, False, 57120)
    args = build_parser().parse_args(["--quiet", "--new-engine", "--port", "57200"])
    assert (args.quiet, args.new_engine, args.shell_port) == (True, True, 57200)
    args = build_parser().parse_args(["--port", "57201", "engine", "--port", "57202"])
    assert (args.shell_port, args.port) == (57201, 57202)


def test_the_shell_logs_unless_no_log(monkeypatch: pytest.MonkeyPatch) -> None:
    import chronus.shell.app as app
    from chronus.cli import main

    asked: list[dict[str, object]] = []
    monkeypatch.setattr(app, "run_shell", lambda **kwargs: asked.append(kwargs) or 0)
    assert main(["--backend", "null"]) == 0
    assert main(["--no-log"]) == 0
    assert [a["log"] for a in asked] == [True, False]
