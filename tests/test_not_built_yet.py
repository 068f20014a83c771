"""Commands of later issues refuse in one line with exit code 2, never with fake output."""

import pytest

from tests.cli_helpers import run_cli


@pytest.mark.parametrize(
    "argv",
    [("restore", "photo.jpg", "-o", "out.png")],
)
def test_unbuilt_commands_say_so_and_exit_2(tmp_path, argv):
    result = run_cli(*argv, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "not built yet" in result.stderr
