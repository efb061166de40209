"""Shared fixtures of the Python package's tests: the repository, the `mlamp` binary the
Rust tests built (`cargo test --release` / `cargo build --release`; MLAMP_BIN overrides it)
and a runner for it."""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
MODELS = REPO / "examples" / "models"


@pytest.fixture(scope="session")
def mlamp_bin():
    path = pathlib.Path(os.environ.get("MLAMP_BIN", REPO / "target" / "release" / "mlamp"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `cargo build --release` first (or set MLAMP_BIN)")
    return path


@pytest.fixture(scope="session")
def cli(mlamp_bin):
    def run(*args, cwd=REPO):
        out = subprocess.run(
            [str(mlamp_bin), *map(str, args)], cwd=cwd, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    return run
