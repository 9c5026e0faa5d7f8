"""A real account holds things this collection did not make. One with the same name as ours is used
as it is, never changed and never deleted; what the collection makes carries its tag and goes on teardown."""

import json
import time

import boto3
import pytest

from ansible_run import playbook, recap
from labtools import unique

PLAYBOOK = "tests/integration/playbooks/iam_role_ownership.yml"
DIRECTORY_PLAYBOOK = "tests/integration/playbooks/directory_ownership.yml"
RDS_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]}}]}
INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def iam(lab):
    return boto3.client("iam", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def snapshot(client, name):
    """Everything about a role that a run could change."""
    role = client.get_role(RoleName=name)["Role"]
    return dict(trust=role["AssumeRolePolicyDocument"],
                attached=sorted(p["PolicyArn"] for p in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
                inline=sorted(client.list_role_policies(RoleName=name)["PolicyNames"]),
                tags=sorted((t["Key"], t["Value"]) for t in client.list_role_tags(RoleName=name)["Tags"]))


def run(name, state, output):
    done = playbook(PLAYBOOK, "-e", json.dumps({"own_role_name": name, "own_state": state, "own_output_file": str(output)}))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done


@pytest.fixture
def someone_elses_role(lab):
    """A role of the same name, made outside the chain: the RDS trust, another team's inline policy and tag."""
    client, name = iam(lab), unique("aurkrb-theirs-")
    client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(RDS_TRUST), Tags=[{"Key": "team", "Value": "dba"}])
    client.put_role_policy(RoleName=name, PolicyName="reports-bucket", PolicyDocument=json.dumps(INLINE))
    yield name
    client.delete_role_policy(RoleName=name, PolicyName="reports-bucket")
    client.delete_role(RoleName=name)


def test_a_same_named_role_made_by_someone_else_is_used_as_it_is_and_never_deleted(lab, someone_elses_role, tmp_path):
    client, output = iam(lab), tmp_path / "output.json"
    before = snapshot(client, someone_elses_role)
    present = run(someone_elses_role, "present", output)
    assert recap(present.stdout)["changed"] == 0, present.stdout[-4000:]
    assert "was not made by this chain" in present.stdout or "without the tag aurora.kerberos:chain" in present.stdout
    published = json.loads(output.read_text())
    assert published["arn"] == client.get_role(RoleName=someone_elses_role)["Role"]["Arn"] and not published["owned"]
    absent = run(someone_elses_role, "absent", output)
    assert recap(absent.stdout)["changed"] == 0, absent.stdout[-4000:]
    assert snapshot(client, someone_elses_role) == before


def test_the_role_the_collection_makes_carries_its_tag_and_goes_on_teardown(lab, tmp_path):
    client, name, output = iam(lab), unique("aurkrb-ours-"), tmp_path / "output.json"
    try:
        assert recap(run(name, "present", output).stdout)["changed"] > 0
        assert ("aurora.kerberos:chain", "aurora-kerberos") in snapshot(client, name)["tags"]
        assert json.loads(output.read_text())["owned"]
        assert recap(run(name, "present", output).stdout)["changed"] == 0
        assert recap(run(name, "absent", output).stdout)["changed"] > 0
        assert name not in [r["RoleName"] for r in client.list_roles()["Roles"]]
    finally:
        if name in [r["RoleName"] for r in client.list_roles()["Roles"]]:
            for policy in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                client.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            client.delete_role(RoleName=name)


def ds(lab):
    return boto3.client("ds", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def test_a_same_named_directory_made_by_someone_else_keeps_its_tags_and_is_never_deleted(lab):
    """Found by name in the VPC: used as it is (no tag purged, no ownership tag added), and teardown
    (directory_state absent) leaves it with everything in it."""
    client = ds(lab)
    made = client.create_microsoft_ad(Name=lab["LAB_AD_DOMAIN"], Password=lab["LAB_AD_ADMIN_PASSWORD"], Edition="Standard",
                                      VpcSettings={"VpcId": lab["LAB_VPC_ID"], "SubnetIds": lab["LAB_SUBNET_IDS"].split(",")},
                                      Tags=[{"Key": "cost-center", "Value": "it-42"}])["DirectoryId"]
    try:
        def tags():
            return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceId=made)["Tags"]}
        present = playbook(DIRECTORY_PLAYBOOK)
        assert present.returncode == 0, present.stdout[-6000:]
        assert recap(present.stdout)["changed"] == 0, present.stdout[-4000:]
        assert tags() == {"cost-center": "it-42"}
        absent = playbook(DIRECTORY_PLAYBOOK, "-e", "own_state=absent")
        assert absent.returncode == 0, absent.stdout[-6000:]
        assert "this chain did not create it" in absent.stdout
        assert [d["DirectoryId"] for d in client.describe_directories(DirectoryIds=[made])["DirectoryDescriptions"]] == [made]
        assert tags() == {"cost-center": "it-42"}
    finally:
        client.delete_directory(DirectoryId=made)
        gone_within(client, made, seconds=60)


def gone_within(client, directory_id, seconds):
    """The lab deletes in the background, as AWS does: wait until the id is no longer described, so the
    next test can create a directory of the lab's name."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not client.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"]:
                return
        except client.exceptions.EntityDoesNotExistException:
            return
        time.sleep(0.5)
    raise AssertionError(f"{directory_id} still described after {seconds} s")


# --- the role in other Regions and partitions (AWS_FACTS.md section 3) ----------------------------------------

REGIONS_PLAYBOOK = "tests/integration/playbooks/iam_role_regions.yml"
GLOBAL = ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]
REGIONAL = {
    # Region: the principals beyond the two global ones, and the partition
    "af-south-1": (["directoryservice.rds.af-south-1.amazonaws.com", "rds.af-south-1.amazonaws.com"], "aws"),
    "ca-west-1": (["directoryservice.rds.ca-west-1.amazonaws.com", "rds.ca-west-1.amazonaws.com",
                   "directoryservice-postgresql.rds.ca-west-1.amazonaws.com"], "aws"),
    "cn-northwest-1": ([], "aws-cn"),
}


def regional_iam(lab, region):
    return boto3.client("iam", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=region,
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def test_the_role_trusts_what_its_region_needs_with_its_partitions_policy(lab, tmp_path):
    """The lab answers DescribeRegions and IAM for any Region (IAM refusing a principal that does not exist), so
    the role is made for Regions the lab does not run in: the principals and the policy ARN follow each Region.
    Then the user's own list and the aws:SourceAccount condition, on request. (A second run changing nothing is
    checked for the lab's own Region above and by site.yml's converged run.)"""
    account = boto3.client("sts", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                           aws_access_key_id="lab", aws_secret_access_key="lab").get_caller_identity()["Account"]
    cases = [{"name": unique(f"aurkrb-{region}-"), "region": region} for region in sorted(REGIONAL)]
    given = ["rds.amazonaws.com", "directoryservice.rds.amazonaws.com"]
    cases.append({"name": unique("aurkrb-given-"), "region": "us-east-1", "trust_principals": given,
                  "source_account_condition": True})
    args = ["-e", json.dumps({"own_cases": cases, "own_output_file": str(tmp_path / "output.json")})]
    try:
        first = playbook(REGIONS_PLAYBOOK, *args)
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
        for case in cases:
            client = regional_iam(lab, case["region"])
            extra, partition = REGIONAL.get(case["region"], ([], "aws"))
            role = client.get_role(RoleName=case["name"])["Role"]
            statement = role["AssumeRolePolicyDocument"]["Statement"][0]
            assert role["Arn"].startswith(f"arn:{partition}:iam::"), case
            assert statement["Principal"]["Service"] == case.get("trust_principals", GLOBAL + extra), case
            if case.get("source_account_condition"):
                assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
            else:
                assert "Condition" not in statement, case  # aws:SourceAccount only on request
            policy = f"arn:{partition}:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
            assert [p["PolicyArn"] for p in client.list_attached_role_policies(RoleName=case["name"])["AttachedPolicies"]] \
                == [policy], case
    finally:
        for case in cases:
            client = regional_iam(lab, case["region"])
            if case["name"] in [r["RoleName"] for r in client.list_roles()["Roles"]]:
                for attached in client.list_attached_role_policies(RoleName=case["name"])["AttachedPolicies"]:
                    client.detach_role_policy(RoleName=case["name"], PolicyArn=attached["PolicyArn"])
                client.delete_role(RoleName=case["name"])
