"""Run ansible-playbook from the venv against the lab, and read its recap."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def playbook(*args, extra_env=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", **(extra_env or {}))
    return subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)


def recap(output):
    """{'ok': n, 'changed': n, 'failed': n, ...} summed over every host in the PLAY RECAP."""
    totals = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        for key, value in re.findall(r"(\w+)=(\d+)", line):
            totals[key] = totals.get(key, 0) + int(value)
    return totals
