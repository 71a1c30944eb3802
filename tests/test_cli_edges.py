"""The command line's edges (issue 16): exit codes, no tracebacks for conditions a user causes,
atomic outputs, escaped echo of input, help texts for every command and argument."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import adapter.cli.mapcmd
from adapter.cli import build_parser, main
from adapter.cli.output import escape, write_atomic
from adapter.issues import UsageError
from tests.conftest import ROOT

LAB = ROOT / "examples" / "lab" / "lab-results.csv"
GOOD_LAB = ROOT / "tests" / "golden" / "lab" / "statuses" / "input.csv"


def _good_lab(tmp_path: Path) -> Path:
    good = tmp_path / "good.csv"
    good.write_text("\n".join(GOOD_LAB.read_text().splitlines()[:5]) + "\n")
    return good


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_failed_write_keeps_the_earlier_output_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "b.json"
    target.write_bytes(b"earlier good output")

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"earlier good output"
    assert _leftovers(tmp_path) == []


def test_an_atomic_write_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "b.json"
    target.write_bytes(b"old")
    target.chmod(0o640)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert _leftovers(tmp_path) == []


def test_a_link_is_followed_and_a_device_written_in_place(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"
    write_atomic(Path(os.devnull), b"discarded")  # not replaced by a regular file
    assert Path(os.devnull).is_char_device()


def test_ctrl_c_exits_130_without_traceback_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(adapter.cli.mapcmd, "map_file", interrupted)
    out = tmp_path / "b.json"
    assert main(["map", "lab", str(LAB), "-o", str(out)]) == 130
    assert capsys.readouterr().err == "ball-fhir: interrupted\n"
    assert not out.exists()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (".", "Is a directory"),  # the output path is a folder
        ("a-file/b.json", "cannot write"),  # a folder that is a file
    ],
)
def test_unwritable_outputs_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    good = _good_lab(tmp_path)
    assert main(["map", "lab", str(good), "-o", str(tmp_path / output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ball-fhir: error: ")
    assert message in err
    assert err.count("\n") == 1, err


def test_a_full_disk_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(UsageError, match="No space left on device"):
        write_atomic(tmp_path / "b.json", b"x")
    assert _leftovers(tmp_path) == []


def test_an_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", "lab", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_too_deep_json_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["evaluate", str(deep)]) == 2
    assert (
        capsys.readouterr().err == "ball-fhir: error: the input is nested too deeply to process\n"
    )


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (b"", "the file is empty"),
        (b"\n\r\n  \n", "the file is empty"),
        (b"\x00\x01\x02\xff\xfe binary\x00", "binary file"),
        ("MSH|^~\\&|LAB\rPID|1\r".encode("utf-16"), "UTF-16"),
        (b"just some text\nno segments\n", "no line starts with MSH"),
    ],
)
def test_hl7v2_without_a_message_exits_1_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, hint: str
) -> None:
    source, rejects = tmp_path / "in.hl7", tmp_path / "r.json"
    source.write_bytes(content)
    code = main(["map", "hl7v2", str(source), "-o", str(tmp_path / "b"), "--rejects", str(rejects)])
    assert code == 1
    err = capsys.readouterr().err
    assert "no HL7 v2 message found" in err
    assert hint in err
    first = json.loads(rejects.read_text())["issue"][0]
    rule = "hl7-utf16" if hint == "UTF-16" else "no-message"
    assert (first["severity"], first["details"]["text"]) == ("error", rule)


def test_hl7v2_with_a_message_is_not_flagged(tmp_path: Path) -> None:
    example = ROOT / "examples" / "hl7v2" / "lab-results.hl7"
    rejects = tmp_path / "r.json"
    main(["map", "hl7v2", str(example), "-o", str(tmp_path / "b"), "--rejects", str(rejects)])
    rules = {i.get("details", {}).get("text") for i in json.loads(rejects.read_text())["issue"]}
    assert "hl7v2-no-message" not in rules


def test_input_echoed_to_the_terminal_is_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.hl7"
    source.write_bytes(b"\x1b[31mred\x07\r\nMSH|^~\\&|\x1b]0;title\x07|\r")
    main(["map", "hl7v2", str(source), "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "\x07" not in err
    assert "\\x1b]0;title\\x07" in err  # the rejected record, escaped


def test_escape_renders_controls_bidi_and_surrogates_but_keeps_letters() -> None:
    assert escape("a\x1b[2Jb\tc\u202ed\udc80 Р-1001 µ") == "a\\x1b[2Jb\\tc\\u202ed\\udc80 Р-1001 µ"


def test_run_exits_1_when_sources_had_problems_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--out", str(tmp_path)]) == 1  # the bundled examples hold bad rows
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("Exit 1: the inputs had problems (")
    assert "rejected records" in last


def test_run_exits_0_when_every_source_is_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _good_lab(tmp_path)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(f"jobs:\n  - {{name: good, source: lab, input: {good.name}}}\n")
    assert (
        main(["run", str(manifest), "--out", str(tmp_path / "out"), "--as-of", "2024-06-01"]) == 0
    )
    assert "Exit 1" not in capsys.readouterr().out


def _actions(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, str | None]]:
    """(where, help) of every command and argument under ``parser``, and its description."""
    found: list[tuple[str, str | None]] = [(f"{path} (description)", parser.description or "-")]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((f"{path} {name}", helps.get(name)))
                found.extend(_actions(sub, f"{path} {name}"))
        else:
            found.append((f"{path} {'/'.join(action.option_strings) or action.dest}", action.help))
    return found


def test_every_command_and_argument_has_a_help_text_for_users() -> None:
    actions = _actions(build_parser(), "ball-fhir")
    assert len(actions) > 40
    missing = [where for where, text in actions if not text or text == argparse.SUPPRESS]
    assert missing == []
    markup = [
        where
        for where, text in actions
        if text and any(m in text for m in ("``", ":func:", ":mod:", ":class:"))
    ]
    assert markup == []


@pytest.mark.parametrize("command", [["run"], ["map", "hl7v2"], ["setup"], ["serve"]])
def test_help_is_shown_and_exits_0(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: ball-fhir " + " ".join(command))


CLI = "from adapter.cli import main; raise SystemExit(main())"


def test_lone_surrogates_in_input_exit_2_with_one_line(tmp_path: Path) -> None:
    """Through a real process: its stdout is UTF-8 and refuses the surrogate, as a terminal's."""
    source = tmp_path / "p.json"
    source.write_text('{"resourceType": "Patient", "gender": "x\\udc00"}')
    done = subprocess.run(
        [sys.executable, "-c", CLI, "validate", str(source), "--format", "json"],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("ball-fhir: error: the input is not valid text")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_whatever_a_command_writes_to_a_terminal_is_escaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    main(["iscn", "46,XY\x1b]0;owned\x07\u202e"])
    shown = terminal.getvalue()
    assert "\x1b" not in shown
    assert "\u202e" not in shown
    assert "46,XY\\x1b]0;owned\\x07\\u202e" in shown
    assert shown.count("\n") > 1  # line ends kept


def test_a_pipe_gets_the_exact_text(capsys: pytest.CaptureFixture[str]) -> None:
    main(["iscn", "46,XY\x1b", "--format", "json"])
    assert json.loads(capsys.readouterr().out)["input"] == "46,XY\x1b"
