"""ModifyDBCluster Domain with ApplyImmediately=false (lab/fidelity/rds.py; AWS_FACTS.md section 4): RDS holds the
join, and the leave, for the maintenance window, and the membership reads pending-maintenance-enable-kerberos
(pending-maintenance-disable-kerberos) until then. The lab's window opens knob maintenance_window_seconds later."""

import boto3
import pytest

from labtools import current_env, lab_api, poll, unique


@pytest.fixture
def window(lab):
    saved = lab_api(lab, "GET", "knobs")["maintenance_window_seconds"]
    yield lambda seconds: lab_api(lab, "POST", "knobs", {"maintenance_window_seconds": seconds})
    lab_api(lab, "POST", "knobs", {"maintenance_window_seconds": saved})


@pytest.fixture
def cluster(lab, fresh_directory):
    """A cluster whose security group accepts the directory's, so that a join can succeed."""
    rds, ec2 = boto3.client("rds"), boto3.client("ec2")
    directory_sg = boto3.client("ds").describe_directories(DirectoryIds=[fresh_directory])[
        "DirectoryDescriptions"][0]["VpcSettings"]["SecurityGroupId"]
    name = unique("lab-mw-")
    group = ec2.create_security_group(GroupName=name, Description="lab maintenance window", VpcId=lab["LAB_VPC_ID"])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": int(lab["LAB_PG_PORT"]), "ToPort": int(lab["LAB_PG_PORT"]),
        "UserIdGroupPairs": [{"GroupId": directory_sg}]}])
    master = current_env(lab)
    rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", EngineVersion="16.6",
                          MasterUsername=master["LAB_PG_MASTER_USER"], MasterUserPassword=master["LAB_PG_MASTER_PASSWORD"],
                          DBSubnetGroupName=lab["LAB_DB_SUBNET_GROUP"], VpcSecurityGroupIds=[group],
                          Port=int(lab["LAB_PG_PORT"]))  # the port the rule opens
    poll(lambda: rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["Status"] == "available",
         30, "available")
    yield name
    rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    ec2.delete_security_group(GroupId=group)


def statuses(rds, cluster_id):
    return [m["Status"] for m in rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]["DomainMemberships"]]


def test_a_join_and_a_leave_without_apply_immediately_wait_for_the_window(lab, fresh_directory, new_role, cluster, window):
    rds = boto3.client("rds")
    role = new_role()
    window(3600)
    rds.modify_db_cluster(DBClusterIdentifier=cluster, Domain=fresh_directory, DomainIAMRoleName=role,
                          ApplyImmediately=False)
    assert statuses(rds, cluster) == ["pending-maintenance-enable-kerberos"]
    # The same request again is no new change, and it is still held.
    rds.modify_db_cluster(DBClusterIdentifier=cluster, Domain=fresh_directory, DomainIAMRoleName=role,
                          ApplyImmediately=False)
    assert statuses(rds, cluster) == ["pending-maintenance-enable-kerberos"]
    # With ApplyImmediately the leave is not held.
    rds.modify_db_cluster(DBClusterIdentifier=cluster, Domain="none", ApplyImmediately=True)
    poll(lambda: statuses(rds, cluster) == [], 30, "left")
    # A window that opens at once: the join held for it then runs as usual.
    window(0)
    rds.modify_db_cluster(DBClusterIdentifier=cluster, Domain=fresh_directory, DomainIAMRoleName=role,
                          ApplyImmediately=False)
    poll(lambda: statuses(rds, cluster) == ["kerberos-enabled"], 30, "kerberos-enabled")
    window(3600)
    rds.modify_db_cluster(DBClusterIdentifier=cluster, Domain="none", ApplyImmediately=False)
    assert statuses(rds, cluster) == ["pending-maintenance-disable-kerberos"]
    # Held leaves keep Kerberos until the window; there the leave runs as usual.
    window(0)
    poll(lambda: statuses(rds, cluster) == [], 30, "left")
