"""Shared by tests/lab and tests/integration: the `lab` fixture starts the lab if it is down,
and leaves it as it found it."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB = [sys.executable, str(ROOT / "lab" / "lab.py")]


def read_env(path):
    """The exports of .lab/env, without a shell."""
    env = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("export "):
            key, dummy, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


@pytest.fixture(scope="session")
def lab():
    """The lab's contract (.lab/env) as a dict; the lab is healthy while tests run."""
    was_up = subprocess.run([*LAB, "status", "--quiet"], check=False).returncode == 0
    if not was_up:
        subprocess.run([*LAB, "up"], check=True)
    env = read_env(Path(os.environ.get("LAB_STATE_DIR") or ROOT / ".lab") / "env")
    saved = dict(os.environ)
    os.environ.update(env)
    yield env
    os.environ.clear()
    os.environ.update(saved)
    if not was_up:
        subprocess.run([*LAB, "down"], check=True)
