"""Each module's integration target (tests/integration/targets/<name>) runs against the lab."""

import pytest

from ansible_run import ROOT, playbook, recap

TARGETS = ROOT / "tests" / "integration" / "targets"
LAB_TARGETS = sorted(p.name for p in TARGETS.iterdir() if (p / "aliases").exists()
                     and "lab" in (p / "aliases").read_text().split())


@pytest.mark.parametrize("target", LAB_TARGETS)
def test_target(lab, target, tmp_path):
    runner = tmp_path / "run.yml"
    runner.write_text(f"""\
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: {target}
""")
    result = playbook("-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter={{ ansible_playbook_python }}",
                      str(runner), extra_env={"ANSIBLE_ROLES_PATH": str(TARGETS)})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert recap(result.stdout)["failed"] == 0
