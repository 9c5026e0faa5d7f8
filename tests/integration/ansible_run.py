"""Run ansible-playbook from the venv against the lab, and read its recap."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def playbook(*args, extra_env=None, drop_env=()):
    """ansible-playbook with the repo's ansible.cfg, run from the repo root; drop_env names variables
    of this process's environment that the run must not see."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", **(extra_env or {}))
    for name in drop_env:
        env.pop(name, None)
    return subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)


def recap(output):
    """{'ok': n, 'changed': n, 'failed': n, ...} summed over every host in the PLAY RECAP."""
    totals = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        for key, value in re.findall(r"(\w+)=(\d+)", line):
            totals[key] = totals.get(key, 0) + int(value)
    return totals


def install_collection(tarball, path):
    """Install a built collection tarball into <path>/ansible_collections, as an EE build does.
    Runs outside the checkout: its ansible.cfg would report the collection as installed already."""
    done = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", "--no-deps",
                           "--collections-path", str(path), str(tarball)],
                          cwd=path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return Path(path) / "ansible_collections" / "aurora" / "kerberos"
