"""The least-privilege controller policy (docs/iam-policy.json) against the lab's IAM authorization.

An IAM user holding exactly that policy, as one managed policy, runs site.yml, verify.yml, the doctor and
teardown.yml with its own access keys: all pass. The lab refuses every call those keys make that the policy
does not allow (lab/README.md, "IAM authorization"), so a policy that lacks a permission fails the run:
with the statement ClusterWrite removed, teardown stops at the cluster's Domain none, and the failure output
names the missing permission, rds:ModifyDBCluster, in AWS's words.
"""

import json
from pathlib import Path

import boto3
import pytest

from ansible_run import ROOT, playbook, recap
from labtools import lab_api, unique
from test_site import CLUSTER_ID, INVENTORY, aws, chain_state, confirm_all, fresh

POLICY = ROOT / "docs" / "iam-policy.json"
REMOVED = "ClusterWrite"  # the statement that allows rds:ModifyDBCluster


@pytest.fixture(scope="module")
def controller(lab):
    """An IAM user with docs/iam-policy.json attached as a managed policy, and its access keys."""
    iam = aws(lab, "iam")
    name = unique("aurkrb-controller-")
    iam.create_user(UserName=name)
    policy = iam.create_policy(PolicyName=name, PolicyDocument=POLICY.read_text())["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    yield dict(name=name, policy=policy, env=env)
    iam.detach_user_policy(UserName=name, PolicyArn=policy)
    for version in iam.list_policy_versions(PolicyArn=policy)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=policy, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=policy)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


def use_policy(lab, controller, document):
    """Make document the controller's policy (a new default version of its one managed policy)."""
    aws(lab, "iam").create_policy_version(PolicyArn=controller["policy"], PolicyDocument=json.dumps(document),
                                          SetAsDefault=True)


def test_the_chain_runs_with_exactly_the_policy_and_fails_naming_a_missing_permission(lab, controller):
    fresh(lab)
    keys = controller["env"]
    # The keys are held to the policy: a call it does not allow is refused.
    as_controller = boto3.client("iam", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                                 aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                                 aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
    with pytest.raises(as_controller.exceptions.ClientError) as refused:
        as_controller.create_user(UserName=unique("not-allowed-"))
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    lab_api(lab, "DELETE", "calls")
    site = playbook(*INVENTORY, "site.yml", extra_env=keys)
    assert site.returncode == 0, site.stdout[-6000:] + site.stderr[-3000:]
    state = chain_state(lab)
    assert [m["Status"] for m in state["memberships"]] == ["kerberos-enabled"]

    verify = playbook(*INVENTORY, "playbooks/verify.yml", extra_env=keys)
    assert verify.returncode == 0, verify.stdout[-6000:]
    assert f"alice@{lab['LAB_AD_REALM']}: logged in over GSSAPI" in verify.stdout

    doctor = playbook(*INVENTORY, "playbooks/doctor.yml", "-e", f"doctor_principal=alice@{lab['LAB_AD_REALM']}",
                      extra_env=keys)
    assert doctor.returncode == 0, doctor.stdout[-6000:]
    assert "all links hold" in doctor.stdout

    # Nothing was refused, not even a call whose refusal a module would have taken for "not there".
    calls = lab_api(lab, "GET", "calls")["calls"]
    assert calls and [c for c in calls if c["denied"]] == []

    # Without the statement that allows rds:ModifyDBCluster, teardown stops at the cluster's Domain none.
    full = json.loads(POLICY.read_text())
    assert REMOVED in [s["Sid"] for s in full["Statement"]]
    use_policy(lab, controller, dict(full, Statement=[s for s in full["Statement"] if s["Sid"] != REMOVED]))
    teardown = ("playbooks/teardown.yml", "-e", "cluster_delete=true", "-e", confirm_all(lab))
    lab_api(lab, "DELETE", "calls")
    short = playbook(*INVENTORY, *teardown, extra_env=keys)
    assert short.returncode != 0, short.stdout[-6000:]
    assert "is not authorized to perform: rds:ModifyDBCluster on resource: " \
           f"arn:aws:rds:{lab['AWS_REGION']}:" in short.stdout, short.stdout[-6000:]
    assert "because no identity-based policy allows the rds:ModifyDBCluster action" in short.stdout
    assert [(c["operation"], c["status"]) for c in lab_api(lab, "GET", "calls")["calls"] if c["denied"]] == \
        [("ModifyDBCluster", 403)]
    assert [m["Status"] for m in chain_state(lab)["memberships"]] == ["kerberos-enabled"], "refused, so unchanged"

    use_policy(lab, controller, full)
    lab_api(lab, "DELETE", "calls")
    down = playbook(*INVENTORY, *teardown, extra_env=keys)
    assert down.returncode == 0, down.stdout[-6000:]
    assert recap(down.stdout)["changed"] > 0
    assert [c for c in lab_api(lab, "GET", "calls")["calls"] if c["denied"]] == []
    state = chain_state(lab)
    assert (state["directories"], state["clusters"], state["roles"], state["db_group_rules"]) == ([], [], [], [])
    assert not [c for c in aws(lab, "rds").describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == CLUSTER_ID]
