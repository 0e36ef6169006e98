"""The README's settings table lists every setting with its default, so the docs cannot drift from config.py; and
CI runs the README's test command as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.editors.test_config_sync import server_settings

README = Path(__file__).resolve().parents[2] / "README.md"
CI_RUN = README.parent / ".ci" / "run"


def test_every_setting_is_in_the_readme_table_with_its_default():
    rows = {line.split("|")[1].strip(" `"): line.split("|")[2].strip(" `") for line in README.read_text().splitlines()
            if line.startswith("| `")}  # fmt: skip
    for setting in server_settings():
        assert setting.key in rows, f"README lacks {setting.key}"
        assert rows[setting.key] == json.dumps(setting.default), f"README's default for {setting.key}"


def test_ci_runs_the_readmes_second_command_verbatim():
    commands = re.findall(r"^```bash\n(.*?)\n```$", README.read_text(), re.MULTILINE | re.DOTALL)
    assert commands[1] in CI_RUN.read_text().splitlines()
