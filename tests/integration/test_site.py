"""The chain, end to end in the lab: site.yml converges, reruns change nothing, logins are proven."""

import pytest

from ansible_run import playbook, recap
from labtools import secret_names

INVENTORY = ["-i", "inventories/lab"]


@pytest.fixture(scope="module")
def converged(lab):
    first = playbook(*INVENTORY, "site.yml")
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    return first


def secrets_of(lab):
    return [lab[name] for name in secret_names(lab)]


def test_second_run_changes_nothing_and_prints_no_secret(lab, converged):
    # -vvvv, the most ansible-playbook prints (module arguments, results, connection debug).
    again = playbook(*INVENTORY, "site.yml", "-vvvv")
    assert again.returncode == 0, again.stdout[-6000:]
    assert recap(again.stdout)["changed"] == 0, again.stdout[-6000:]
    for output in (converged.stdout, again.stdout, again.stderr):
        for secret in secrets_of(lab):
            assert secret not in output


def test_check_mode_on_a_converged_lab_predicts_no_change(lab, converged):
    check = playbook(*INVENTORY, "site.yml", "--check")
    assert check.returncode == 0, check.stdout[-6000:]
    assert recap(check.stdout)["changed"] == 0, check.stdout[-6000:]


def test_verify_proves_the_login_and_the_refusals(lab, converged):
    verify = playbook(*INVENTORY, "playbooks/verify.yml")
    assert verify.returncode == 0, verify.stdout[-6000:] + verify.stderr[-3000:]
    assert f"alice@{lab['LAB_AD_REALM']}: logged in over GSSAPI" in verify.stdout
    assert verify.stdout.count("refused") >= 2
    for secret in secrets_of(lab):
        assert secret not in verify.stdout
