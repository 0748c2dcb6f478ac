"""The ``fanout`` command as a whole: version, global options anywhere, help with examples and
exit codes for every subcommand, a light start, and one-line errors for an AWS it cannot use."""

from __future__ import annotations

import socket
import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest
from helpers import ROOT

from constructs_lib.cli.core import EXIT_CODES, EXIT_UNREACHABLE, EXIT_USAGE
from constructs_lib.cli.main import main, parser


def _subcommands(top: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import argparse

    found: list[tuple[str, ...]] = []
    for action in getattr(top, "_actions", []):
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = (*prefix, name)
                nested = _subcommands(sub, path)
                found += nested or [path]
    return found


SUBCOMMANDS = _subcommands(parser())


def test_the_console_script_is_fanout() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"] == {"fanout": "constructs_lib.cli.main:main"}


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"fanout {version('constructs-lib')}\n"


def test_every_subcommand_is_there() -> None:
    assert {path[0] for path in SUBCOMMANDS} == {"dlq", "replay", "local", "diagram"}
    assert {path[1] for path in SUBCOMMANDS if path[0] == "dlq"} == {
        "list",
        "peek",
        "redrive",
        "status",
        "cancel",
        "delete",
        "export",
        "import",
    }


@pytest.mark.parametrize("path", SUBCOMMANDS, ids=[" ".join(p) for p in SUBCOMMANDS])
def test_each_subcommands_help_has_examples_and_exit_codes(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    assert "examples:\n  fanout " + " ".join(path) in text
    assert "exit codes:\n" in text
    for code, meaning in EXIT_CODES.items():
        assert f"{code}  {meaning}" in text
    assert "--region" in text and "--endpoint-url" in text and "--output" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--region", "eu-west-3", "--output", "json", "dlq", "list"],
        ["dlq", "--region", "eu-west-3", "list", "--output", "json"],
        ["dlq", "list", "--region", "eu-west-3", "--output", "json"],
    ],
    ids=["before", "between", "after"],
)
def test_global_options_count_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    assert (args.region, args.output, args.endpoint_url, args.profile) == (
        "eu-west-3",
        "json",
        None,
        None,
    )


def test_an_option_given_before_is_not_reset_by_the_subcommand() -> None:
    args = parser().parse_args(["--endpoint-url", "http://127.0.0.1:5000", "dlq", "list"])
    assert args.endpoint_url == "http://127.0.0.1:5000"


def test_help_starts_without_aws_cdk_jsii_boto3_or_rich() -> None:
    probe = (
        "import sys; from constructs_lib.cli.main import main\n"
        "try:\n    main(['dlq', 'redrive', '--help'])\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in ('aws_cdk', 'jsii', 'boto3', 'rich', 'moto') if m in sys.modules]\n"
        "print('LOADED', loaded)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.splitlines()[-1] == "LOADED []"


def test_an_aws_subcommand_never_imports_aws_cdk(emulator_endpoint: str) -> None:
    probe = (
        "import sys; from constructs_lib.cli.main import run\n"
        f"code = run(['dlq', 'list', '--endpoint-url', {emulator_endpoint!r}, '--region', "
        "'eu-west-1'])\n"
        "print('RESULT', code, [m for m in ('aws_cdk', 'jsii') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PATH": ""},
    )
    assert result.stdout.splitlines()[-1] == "RESULT 0 []"


@pytest.fixture(scope="module")
def emulator_endpoint() -> object:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_endpoint_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    url = f"http://127.0.0.1:{_closed_port()}"

    assert main(["dlq", "list", "--endpoint-url", url, "--region", "eu-west-1"]) == (
        EXIT_UNREACHABLE
    )

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"fanout: error: cannot reach {url}")
    assert "is the endpoint running and the URL right" in err


def test_no_region_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    assert main(["dlq", "list"]) == EXIT_UNREACHABLE
    assert capsys.readouterr().err == (
        "fanout: error: no AWS region: pass --region or set AWS_REGION\n"
    )


def test_a_malformed_endpoint_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "list", "--endpoint-url", "127.0.0.1:5000"]) == EXIT_USAGE
    assert "is not an http(s) URL with a host" in capsys.readouterr().err
