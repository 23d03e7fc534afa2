"""User errors as train.py and sample.py report them, in-process: what `report_errors` prints around
`run(cfg)` / `sample(cfg)` after Hydra has composed the config."""
from __future__ import annotations

import pytest

from ganlab.cli import EXIT_USER_ERROR, report_errors


def user_error(function, cfg, capsys) -> str:
    """Runs `function(cfg)` as the entry points do: it must stop with exit status 2; returns stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit:
        report_errors(function, cfg)
    assert exit.value.code == EXIT_USER_ERROR
    return capsys.readouterr().err


def check_message(stderr: str, fragments: list[str], **values) -> None:
    """Each fragment ({name} filled from `values`) is in stderr, which holds one `error: ` and no traceback."""
    for fragment in fragments:
        for key, value in values.items():
            fragment = fragment.replace("{" + key + "}", str(value))
        assert fragment in stderr, stderr
    assert "Traceback" not in stderr and stderr.count("error: ") == 1, stderr
