"""The molecule scenario (extensions/molecule/default) on the lab: site.yml converges, a rerun changes
nothing (molecule's idempotence step), and verify.yml proves the Kerberos login."""

import os
import re
import subprocess

from ansible_run import BIN, ROOT
from labtools import secret_names

STEPS = ("syntax", "create", "converge", "idempotence", "verify", "destroy")


def test_molecule_scenario_passes_on_the_lab(lab, tmp_path):
    # A private ephemeral directory: two checkouts' runs never share molecule's state.
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path),
               NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    done = subprocess.run([str(BIN / "molecule"), "test"], cwd=ROOT, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    # Every step of the sequence ran and passed: none skipped or missing.
    for step in STEPS:
        assert re.search(rf"\bdefault\b\W+{step}: Executed: Successful", output), f"{step}: {output[-4000:]}"
    recap = re.search(r"actions=(\d+)\s+successful=(\d+)", output)
    assert recap and int(recap[1]) == int(recap[2]) == len(STEPS), output[-2000:]
    assert f"alice@{lab['LAB_AD_REALM']}: logged in over GSSAPI" in output
    for name in secret_names(lab):
        assert lab[name] not in output, f"{name} appears in molecule's output"
