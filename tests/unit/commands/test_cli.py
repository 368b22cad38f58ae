"""The command line (hub/commands/cli.py): a bad setting is one line on stderr and exit code 2."""

from __future__ import annotations

import pytest

from hub.commands.cli import main


def test_cli_prints_config_error_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_API_PORT", "99999")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hub: configuration error: HUB_API_PORT:")
    assert "Traceback" not in err
