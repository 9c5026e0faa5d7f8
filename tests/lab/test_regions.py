"""Regions and partitions as AWS answers them (lab/fidelity/partitions.py; AWS_FACTS.md section 3), in the
lab's own Region (LAB_REGION, AWS_REGION in .lab/env): run the lab in us-east-1, af-south-1, ca-west-1,
cn-north-1 or us-gov-west-1 and these tests check that Region's answers.

The expectations are written out here from AWS's pages, not imported from the lab or the collection."""

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labtools import lab_api, unique

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
ENGINE = "aurora-postgresql"
# AWS "Enable or disable AWS Regions": the opt-in Regions; of those, the ones launched after il-central-1
# (RDS user guide, "Supported Regions and DB engines for Kerberos authentication").
OPT_IN = {"af-south-1", "ap-east-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "eu-central-2", "eu-south-1",
          "eu-south-2", "il-central-1", "me-central-1", "me-south-1",
          "ca-west-1", "ap-southeast-5", "ap-southeast-7", "mx-central-1", "ap-east-2", "ap-southeast-6"}
AFTER_IL_CENTRAL_1 = {"ca-west-1", "ap-southeast-5", "ap-southeast-7", "mx-central-1", "ap-east-2", "ap-southeast-6"}
GLOBAL = ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]


def partition_of(region):
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def suffix_of(region):
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def principals_for(region):
    """What the role RDS uses must trust in this Region (AWS_FACTS section 3)."""
    suffix = suffix_of(region)
    found = list(GLOBAL)
    if region in OPT_IN:
        found += [f"directoryservice.rds.{region}.{suffix}", f"rds.{region}.{suffix}"]
    if region in AFTER_IL_CENTRAL_1:
        found.append(f"directoryservice-postgresql.rds.{region}.{suffix}")
    return found


def policy_arn(partition):
    return f"arn:{partition}:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"


def trust(principals):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": list(principals)}, "Action": "sts:AssumeRole"}]})


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def region(lab):
    return lab["AWS_REGION"]


@pytest.fixture(scope="module")
def iam(lab):
    return boto3.client("iam", config=NO_RETRY)


@pytest.fixture(scope="module")
def roles(iam):
    made = []

    def make(principals, policy=None):
        name = unique("lab-region-role-")
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(principals))["Role"]
        made.append(name)
        if policy:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy)
        return role

    yield make
    for name in made:
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)


# --- the lab's Region ----------------------------------------------------------------------------

def test_the_contract_gives_the_lab_region(lab, region):
    assert lab["AWS_DEFAULT_REGION"] == region == boto3.session.Session().region_name
    assert lab["LAB_PG_HOST"].endswith(f".{region}.rds.{suffix_of(region)}")


def test_describe_regions_gives_the_opt_in_status_of_the_partitions_regions(region):
    ec2 = boto3.client("ec2")
    regions = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions(AllRegions=True)["Regions"]}
    # the lab's Region: opted in when it is an opt-in Region (nothing works in one the account has not)
    assert regions[region] == ("opted-in" if region in OPT_IN else "opt-in-not-required")
    # only the caller's partition, each Region with AWS's status
    assert {partition_of(r) for r in regions} == {partition_of(region)}
    for name, status in regions.items():
        expected = "opt-in-not-required" if name not in OPT_IN else "opted-in" if name == region else "not-opted-in"
        assert status == expected, name
    # without AllRegions: only the enabled ones
    enabled = {r["RegionName"] for r in ec2.describe_regions()["Regions"]}
    assert enabled == {r for r, s in regions.items() if s != "not-opted-in"}


# --- partitions in ARNs ----------------------------------------------------------------------------

def test_every_arn_the_lab_returns_carries_the_partition(lab, region, iam, roles):
    partition = partition_of(region)
    prefix = f"arn:{partition}:"
    assert boto3.client("sts").get_caller_identity()["Arn"].startswith(prefix)
    assert roles(GLOBAL)["Arn"].startswith(prefix)
    assert iam.get_policy(PolicyArn=policy_arn(partition))["Policy"]["Arn"] == policy_arn(partition)
    ec2 = boto3.client("ec2")
    for subnet in ec2.describe_subnets(SubnetIds=lab["LAB_SUBNET_IDS"].split(","))["Subnets"]:
        assert subnet["SubnetArn"].startswith(f"{prefix}ec2:{region}:")
    group = ec2.describe_security_groups(GroupIds=[lab["LAB_DB_SECURITY_GROUP_ID"]])["SecurityGroups"][0]
    assert group["SecurityGroupArn"].startswith(f"{prefix}ec2:{region}:")
    secrets = boto3.client("secretsmanager")
    secret = secrets.create_secret(Name=unique("lab-region-"), SecretString="{}")
    try:
        assert secret["ARN"].startswith(f"{prefix}secretsmanager:{region}:")
    finally:
        secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
    if partition != "aws":
        # the commercial partition's ARN names nothing here, as on AWS
        code, dummy, status = error_of(iam.get_policy, PolicyArn=policy_arn("aws"))
        assert (code, status) == ("NoSuchEntity", 404)


# --- IAM refuses a service principal that does not exist ----------------------------------------

def principals_that_do_not_exist(region):
    """Forms that exist only elsewhere: a regionalized principal for a Region that is not opt-in, the
    engine-specific one for a Region launched before ca-west-1, and a Region of another partition."""
    suffix = suffix_of(region)
    not_opt_in = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}[partition_of(region)]
    old = "af-south-1" if partition_of(region) == "aws" else not_opt_in
    other_partition = "af-south-1.amazonaws.com" if partition_of(region) != "aws" else "cn-north-1.amazonaws.com.cn"
    return [f"directoryservice.rds.{not_opt_in}.{suffix}", f"rds.{not_opt_in}.{suffix}",
            f"directoryservice-postgresql.rds.{old}.{suffix}", f"directoryservice.rds.{other_partition}"]


def test_iam_refuses_a_trust_policy_naming_a_principal_that_does_not_exist(region, iam, roles):
    for principal in principals_that_do_not_exist(region):
        name = unique("lab-region-bad-")
        code, message, status = error_of(iam.create_role, RoleName=name, AssumeRolePolicyDocument=trust(GLOBAL + [principal]))
        assert (code, status) == ("MalformedPolicyDocument", 400), principal
        assert message == f'Invalid principal in policy: "SERVICE":"{principal}"'
        assert error_of(iam.get_role, RoleName=name)[0] == "NoSuchEntity"  # nothing was made
    # UpdateAssumeRolePolicy too, and the role keeps its trust
    role = roles(GLOBAL)
    bad = principals_that_do_not_exist(region)[0]
    code, dummy, status = error_of(iam.update_assume_role_policy, RoleName=role["RoleName"],
                                   PolicyDocument=trust(GLOBAL + [bad]))
    assert (code, status) == ("MalformedPolicyDocument", 400)
    kept = iam.get_role(RoleName=role["RoleName"])["Role"]["AssumeRolePolicyDocument"]
    assert bad not in json.dumps(kept)


def test_iam_accepts_the_principals_the_region_needs(region, iam, roles):
    role = roles(principals_for(region), policy_arn(partition_of(region)))
    services = iam.get_role(RoleName=role["RoleName"])["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert sorted(services["Principal"]["Service"]) == sorted(principals_for(region))


# --- the join ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def directory(lab, region):
    """A VPC with two subnets in two of the Region's zones, a DB subnet group, a DB security group open to the
    directory's, and an Active AWS Managed Microsoft AD."""
    ec2, ds, rds = boto3.client("ec2"), boto3.client("ds"), boto3.client("rds")
    n = 100 + int(time.time() * 1000) % 50
    vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.{i + 1}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for i, zone in enumerate(zones)]
    group = unique("lab-region-")
    rds.create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="lab region tests", SubnetIds=subnets)
    directory_id = ds.create_microsoft_ad(Name=lab["LAB_AD_DOMAIN"], Password=lab_password(lab),
                                          VpcSettings={"VpcId": vpc, "SubnetIds": subnets},
                                          Edition="Standard")["DirectoryId"]
    deadline = time.monotonic() + 60
    while True:
        described = ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]
        if described["Stage"] == "Active" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert described["Stage"] == "Active"
    sg = ec2.create_security_group(GroupName=unique("lab-region-db-"), Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": described["VpcSettings"]["SecurityGroupId"]}]}])
    yield {"id": directory_id, "subnet_group": group, "sg": sg}
    ds.delete_directory(DirectoryId=directory_id)


def lab_password(lab):
    """Admin's password as .lab/env has it now (the endpoint rewrites it when the API changes it)."""
    import os
    import shlex
    from pathlib import Path

    env = Path(os.environ["LAB_STATE_DIR"]) / "env"
    for line in env.read_text().splitlines():
        if line.startswith("export LAB_AD_ADMIN_PASSWORD="):
            return shlex.split(line.split("=", 1)[1])[0]
    return lab["LAB_AD_ADMIN_PASSWORD"]


@pytest.fixture
def cluster(lab, directory):
    rds = boto3.client("rds", config=NO_RETRY)
    made = []

    def create(role_name):
        cluster_id = unique("lab-region-c-")
        made.append(cluster_id)
        return rds.create_db_cluster(DBClusterIdentifier=cluster_id, Engine=ENGINE, EngineVersion="16.6",
                                     MasterUsername=unique("m_"), MasterUserPassword="Lab-Region-Pw9",
                                     DBSubnetGroupName=directory["subnet_group"], VpcSecurityGroupIds=[directory["sg"]],
                                     Domain=directory["id"], DomainIAMRoleName=role_name)["DBCluster"]

    yield create
    for cluster_id in made:
        try:
            rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
        except ClientError:
            pass  # never created (refused)


def lacking_the_region_principal(region):
    """The principals the Region needs, less the directory-service one that makes the Region's form."""
    needed = principals_for(region)
    if region in AFTER_IL_CENTRAL_1:
        return [p for p in needed if not p.startswith("directoryservice-")]
    if region in OPT_IN:
        return [p for p in needed if not p.startswith(f"directoryservice.rds.{region}.")]
    return ["rds.amazonaws.com"]


def test_the_join_refuses_a_role_without_the_regions_principal(lab, region, roles, cluster):
    partition = partition_of(region)
    role = roles(lacking_the_region_principal(region), policy_arn(partition))
    code, message, status = error_of(cluster, role["RoleName"])
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert message == "IAM role provided is not valid, please check that the role exists and has the correct policies"


@pytest.fixture
def quick_join(lab):
    saved = lab_api(lab, "GET", "knobs")["join_seconds"]
    lab_api(lab, "POST", "knobs", {"join_seconds": 0.2})
    yield
    lab_api(lab, "POST", "knobs", {"join_seconds": saved})


def test_the_join_takes_a_role_with_the_regions_principals_and_partition_policy(lab, region, roles, cluster,
                                                                                quick_join):
    role = roles(principals_for(region), policy_arn(partition_of(region)))
    # A new role may not be usable by RDS at once (IAM's eventual consistency, AWS_FACTS section 3): the
    # same answer, then success, within a bounded time.
    deadline = time.monotonic() + 30
    while True:
        try:
            answer = cluster(role["RoleName"])
            break
        except ClientError as e:
            if e.response["Error"]["Code"] != "InvalidParameterCombination" or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert answer["DBClusterArn"].startswith(f"arn:{partition_of(region)}:rds:{region}:")
    rds = boto3.client("rds")
    deadline = time.monotonic() + 30
    while True:
        status = rds.describe_db_clusters(DBClusterIdentifier=answer["DBClusterIdentifier"])["DBClusters"][0][
            "DomainMemberships"][0]["Status"]
        if status in ("kerberos-enabled", "enable-kerberos-failed") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == "kerberos-enabled"
