"""A real editor as the client: headless Neovim (0.7+) asks `codecustom lsp` for a completion on the
fixture repo and gets the customized suggestion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("nvim_driver.lua")


def _nvim() -> str:
    nvim = shutil.which("nvim")
    if nvim is None:
        if os.environ.get("CODECUSTOM_CI") == "1":
            pytest.fail("Neovim is not installed but CODECUSTOM_CI=1: CI must run the real-editor test "
                        "(.ci/run installs it with apt-get install neovim)")
        pytest.skip("Neovim (nvim) is not installed: apt-get install neovim to run the real-editor test")
    return nvim


def test_neovim_receives_the_customized_completion(customized_repo, tmp_path):
    nvim = _nvim()
    editing = customized_repo.root / "geometry" / "editing.py"  # the user is writing circle_area's body
    editing.write_text(customized_repo.typing_text)
    out = tmp_path / "nvim.json"
    env = {**customized_repo.env(), "CC_OUT": str(out), "CC_ROOT": str(customized_repo.root),
           "CC_FILE": str(editing), "CC_POS": json.dumps(list(customized_repo.cursor)),
           "CC_CMD": json.dumps(customized_repo.server_command()),
           # each wait in the driver ends on its event (ready, answered, exited); this only bounds a hang
           "CC_INIT": json.dumps({"model": {"threads": 1}}), "CC_TIMEOUT_MS": "300000"}
    done = subprocess.run([nvim, "--headless", "--clean", "-n", "-i", "NONE", "-c", f"luafile {DRIVER}"],
                          env=env, cwd=customized_repo.root, capture_output=True, text=True, timeout=1200)
    assert out.is_file(), f"nvim wrote no result (exit {done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(out.read_text())
    assert not result["errors"], result["errors"]
    assert result["filetype"] == "python"
    assert result["ready"], result["status"]
    assert result["status"]["artifact"] == str(customized_repo.artifact)
    assert "loading" in result["statuses"]  # it saw the model load in the background
    items = [item for response in result["responses"] for item in (response.get("result") or {}).get("items", [])]
    assert [item["textEdit"]["newText"] for item in items] == [customized_repo.expected]
    assert result["exit_code"] == 0  # shutdown/exit from Neovim ends the server cleanly
