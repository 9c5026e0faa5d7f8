"""Each module's integration target (tests/integration/targets/<name>) runs against the lab."""

import contextlib

import pytest

from ansible_run import ROOT, playbook, recap
from labtools import cluster_env, lab_api, member_cluster

TARGETS = ROOT / "tests" / "integration" / "targets"
LAB_TARGETS = sorted(p.name for p in TARGETS.iterdir() if (p / "aliases").exists()
                     and "lab" in (p / "aliases").read_text().split())


def run_target(target, tmp_path, extra_env=None):
    runner = tmp_path / "run.yml"
    runner.write_text(f"""\
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: {target}
""")
    result = playbook("-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter={{ ansible_playbook_python }}",
                      str(runner), extra_env={"ANSIBLE_ROLES_PATH": str(TARGETS), **(extra_env or {})})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert recap(result.stdout)["failed"] == 0
    return result


# Targets that log in over GSSAPI: an endpoint has a Kerberos service principal only while its cluster is
# a member of the directory (AWS_FACTS section 10). They run against that cluster's own database: the
# env's LAB_PG_HOST, LAB_PG_HOSTADDR and LAB_PG_PORT are its endpoint, address and port.
NEED_A_MEMBER = {"kerberos_logins"}


@pytest.mark.parametrize("target", LAB_TARGETS)
def test_target(lab, target, tmp_path):
    with member_cluster(lab) if target in NEED_A_MEMBER else contextlib.nullcontext() as cluster:
        run_target(target, tmp_path, {k: cluster_env(lab, cluster)[k] for k in ("LAB_PG_HOST", "LAB_PG_HOSTADDR", "LAB_PG_PORT")}
                   if cluster else None)


def test_directory_target_rides_out_30_percent_throttling(lab, tmp_path):
    """Every ds call of our modules is retried: a third of them throttled still ends in success."""
    lab_api(lab, "DELETE", "calls")
    lab_api(lab, "POST", "faults", {"throttle": {"ds": 30}})
    try:
        run_target("directory", tmp_path)
    finally:
        lab_api(lab, "DELETE", "faults")
    ds_calls = [c for c in lab_api(lab, "GET", "calls")["calls"] if c["service"] == "ds"]
    throttled = [c for c in ds_calls if c["throttled"]]
    assert throttled and len(throttled) < len(ds_calls)
