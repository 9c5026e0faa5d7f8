"""RDS as AWS answers it (lab/fidelity/rds.py; AWS_FACTS.md sections 2, 3, 4, 5), probed with plain boto3
against the lab endpoint, and with psycopg2 against the lab PostgreSQL the API's endpoint names."""

import datetime
import itertools
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import boto3
import psycopg2
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labtools import address_of, create_ad_user, delete_ad_user, kinit, lab_api, ldap_admin, master, sql, unique

ROOT = Path(__file__).resolve().parents[2]
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
ENGINE = "aurora-postgresql"
POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
JOIN_SECONDS = 1.0
CLUSTER_SECONDS = 0.6
CONSUMER_ACCOUNT = "222233334444"
_cidrs = itertools.count(1)


def contract():
    """.lab/env as it is now (the endpoint rewrites passwords the API changes)."""
    path = Path(os.environ.get("LAB_STATE_DIR") or ROOT / ".lab") / "env"
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, dummy, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def wait_for(predicate, timeout=15, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s")


def password():
    return f"Lab-{unique('')}-Pw9"


def pg_login(lab, cluster, user, secret, host=None):
    """Connect where the API says (the cluster's endpoint name, or `host`, and its Port), dialling the lab's
    address, as every client does."""
    conn = psycopg2.connect(host=host or cluster["Endpoint"], hostaddr=address_of(lab, cluster["Endpoint"]),
                            port=cluster["Port"], dbname="postgres", user=user, password=secret,
                            connect_timeout=5, sslmode="disable")
    conn.autocommit = True
    return conn


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rds(lab):
    return boto3.client("rds", config=NO_RETRY)


@pytest.fixture(scope="module")
def ec2(lab):
    return boto3.client("ec2")


@pytest.fixture(scope="module")
def iam(lab):
    return boto3.client("iam")


@pytest.fixture(scope="module", autouse=True)
def knobs(lab):
    saved = lab_api(lab, "GET", "knobs")
    lab_api(lab, "POST", "knobs", {"join_seconds": JOIN_SECONDS, "cluster_seconds": CLUSTER_SECONDS})
    yield
    lab_api(lab, "POST", "knobs", {k: saved[k] for k in ("join_seconds", "cluster_seconds")})


@pytest.fixture(autouse=True)
def clean_faults(lab):
    lab_api(lab, "DELETE", "faults")
    yield
    lab_api(lab, "DELETE", "faults")


@pytest.fixture(scope="module")
def net(lab, ec2):
    """A VPC with two subnets in two AZs, a DB subnet group, and an Active AWS Managed Microsoft AD."""
    ds = boto3.client("ds")
    n = 150 + next(_cidrs) + int(time.time()) % 50
    vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    group = unique("lab-rds-")
    boto3.client("rds").create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="lab rds tests",
                                               SubnetIds=subnets)
    directory_id = ds.create_microsoft_ad(Name=lab["LAB_AD_DOMAIN"], Password=contract()["LAB_AD_ADMIN_PASSWORD"],
                                          VpcSettings={"VpcId": vpc, "SubnetIds": subnets},
                                          Edition="Standard")["DirectoryId"]
    described = wait_for(lambda: next((d for d in ds.describe_directories(DirectoryIds=[directory_id])
                                       ["DirectoryDescriptions"] if d["Stage"] == "Active"), None), timeout=60)
    yield {"vpc": vpc, "subnets": subnets, "subnet_group": group, "directory": directory_id,
           "directory_sg": described["VpcSettings"]["SecurityGroupId"], "dns_ips": described["DnsIpAddrs"]}
    clusters = boto3.client("rds").describe_db_clusters()["DBClusters"]
    assert not [c for c in clusters if c["DBSubnetGroup"] == group], "a test left a cluster behind"
    ds.delete_directory(DirectoryId=directory_id)


@pytest.fixture(scope="module")
def roles(lab, iam):
    """IAM roles for DomainIAMRoleName: good, without the policy, without the directoryservice principal."""
    def make(principals, attach):
        name = unique("lab-rds-role-")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": principals},
                                                        "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        if attach:
            iam.attach_role_policy(RoleName=name, PolicyArn=POLICY)
        return name

    both = ["rds.amazonaws.com", "directoryservice.rds.amazonaws.com"]
    return {"good": make(both, True), "no_policy": make(both, False),
            "no_trust": make(["rds.amazonaws.com"], True)}


@pytest.fixture(scope="module")
def sgs(net, ec2):
    """DB security groups: one open to the directory's SG on 5432, one open to a CIDR only."""
    def group(prefix):
        return ec2.create_security_group(GroupName=unique(prefix), Description="db", VpcId=net["vpc"])["GroupId"]

    good, closed = group("lab-db-"), group("lab-db-closed-")
    ec2.authorize_security_group_ingress(GroupId=good, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": net["directory_sg"]}]}])
    ec2.authorize_security_group_ingress(GroupId=closed, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}])
    return {"good": good, "closed": closed}


@pytest.fixture
def made(rds, lab):
    """Creates clusters (and instances) for one test and deletes them after it."""
    created = {"clusters": [], "instances": []}

    def cluster(net, sg=None, **kwargs):
        cluster_id = unique("lab-rds-")
        args = {"DBClusterIdentifier": cluster_id, "Engine": ENGINE, "EngineVersion": "16.6",
                "DBSubnetGroupName": net["subnet_group"], "VpcSecurityGroupIds": [sg] if sg else []}
        if not kwargs.get("ManageMasterUserPassword"):
            args["MasterUserPassword"] = password()
        args["MasterUsername"] = unique("m_")
        args.update(kwargs)
        answer = rds.create_db_cluster(**args)["DBCluster"]
        created["clusters"].append(cluster_id)
        return answer, args

    def instance(cluster_id, **kwargs):
        instance_id = unique("lab-rds-i-")
        answer = rds.create_db_instance(DBInstanceIdentifier=instance_id, DBClusterIdentifier=cluster_id,
                                        Engine=ENGINE, DBInstanceClass="db.r6g.large", **kwargs)["DBInstance"]
        created["instances"].append(instance_id)
        return answer

    yield type("Made", (), {"cluster": staticmethod(cluster), "instance": staticmethod(instance)})
    for instance_id in created["instances"]:
        rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
    for cluster_id in created["clusters"]:
        rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)


def describe(rds, cluster_id):
    return rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]


def membership_status(rds, cluster_id):
    memberships = describe(rds, cluster_id)["DomainMemberships"]
    return memberships[0]["Status"] if memberships else None


def statuses_until(rds, cluster_id, final, timeout=JOIN_SECONDS * 4 + 3):
    """The distinct membership statuses seen, in order, until `final` (None: the membership is gone)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = membership_status(rds, cluster_id)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == final:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"membership never reached {final}: saw {seen}")


def events(rds, cluster_id):
    return [e["Message"] for e in rds.describe_events(SourceIdentifier=cluster_id, SourceType="db-cluster")["Events"]]


# --- clusters that lead to the real database (AWS_FACTS section 5) -----------------------------

def test_cluster_is_created_over_cluster_seconds_with_a_database_of_its_own(lab, rds, net, made):
    answer, args = made.cluster(net, Port=int(lab["LAB_PG_PORT"]) + 7)
    cluster_id = args["DBClusterIdentifier"]
    assert answer["Status"] == "creating"
    # Endpoint names of AWS's form: <id>.cluster-<12 characters of the account and Region>.<region>.rds.<suffix>.
    suffix = f".{lab['AWS_REGION']}.rds.amazonaws.com"
    writer, reader = answer["Endpoint"], answer["ReaderEndpoint"]
    assert writer.startswith(f"{cluster_id}.cluster-") and writer.endswith(suffix)
    assert reader == writer.replace(".cluster-", ".cluster-ro-", 1)
    # The asked port is the port the cluster's server listens on, at an address of its own.
    assert answer["Port"] == int(lab["LAB_PG_PORT"]) + 7
    assert answer["DomainMemberships"] == []
    assert describe(rds, cluster_id)["Status"] == "creating"
    wait_for(lambda: describe(rds, cluster_id)["Status"] == "available", timeout=CLUSTER_SECONDS + 3)
    conn = pg_login(lab, answer, args["MasterUsername"], args["MasterUserPassword"])
    assert sql(conn, "SELECT current_user")[0][0] == args["MasterUsername"]
    conn.close()
    resolved = subprocess.run([sys.executable, str(ROOT / "lab" / "lab.py"), "resolve", reader], capture_output=True,
                              text=True, check=True).stdout.split()
    assert resolved == [address_of(lab, writer), str(answer["Port"])]
    assert resolved[0] != lab["LAB_PG_HOSTADDR"]  # the demo cluster's address is its alone


def test_two_clusters_have_their_own_endpoints_and_their_own_logins(lab, rds, net, made):
    first, first_args = made.cluster(net, Port=5432)
    second, second_args = made.cluster(net, Port=5432)
    assert first["Endpoint"] != second["Endpoint"]
    assert first["Port"] == second["Port"] == 5432  # the port asked, as on AWS
    assert address_of(lab, first["Endpoint"]) != address_of(lab, second["Endpoint"])
    conn = pg_login(lab, first, first_args["MasterUsername"], first_args["MasterUserPassword"])
    sql(conn, "CREATE ROLE only_on_the_first LOGIN")
    conn.close()
    conn = pg_login(lab, second, second_args["MasterUsername"], second_args["MasterUserPassword"])
    assert sql(conn, "SELECT rolname FROM pg_roles WHERE rolname IN ('only_on_the_first', %s)",
               first_args["MasterUsername"]) == []
    conn.close()
    # Deleting a cluster stops its server and removes its data; the other one goes on.
    address = address_of(lab, first["Endpoint"])
    rds.delete_db_cluster(DBClusterIdentifier=first_args["DBClusterIdentifier"], SkipFinalSnapshot=True)
    assert first["Endpoint"] not in lab_api(lab, "GET", "endpoints")["endpoints"]
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host=first["Endpoint"], hostaddr=address, port=first["Port"], dbname="postgres",
                         user=first_args["MasterUsername"], password=first_args["MasterUserPassword"], connect_timeout=3)
    assert not list((Path(lab["LAB_STATE_DIR"]) / "pg" / "servers").glob(f"{first_args['DBClusterIdentifier']}-*"))
    pg_login(lab, second, second_args["MasterUsername"], second_args["MasterUserPassword"]).close()
    rds.create_db_cluster(DBClusterIdentifier=first_args["DBClusterIdentifier"], Engine=ENGINE,
                          MasterUsername="boss", MasterUserPassword=password(),
                          DBSubnetGroupName=net["subnet_group"])  # for made's clean-up


def test_a_cluster_identifier_that_exists_is_refused_as_aws_does(lab, rds, net, made):
    """rds model, CreateDBCluster errors: DBClusterAlreadyExistsFault (moto answered a snapshot fault)."""
    answer, args = made.cluster(net)
    with pytest.raises(ClientError) as refused:
        rds.create_db_cluster(**args)
    assert refused.value.response["Error"]["Code"] == "DBClusterAlreadyExistsFault"
    assert rds.describe_db_clusters(DBClusterIdentifier=args["DBClusterIdentifier"])["DBClusters"][0]["Status"] == answer["Status"]


def test_master_user_is_an_rds_superuser_login_not_a_superuser(lab, rds, net, made):
    answer, args = made.cluster(net)
    conn = pg_login(lab, answer, args["MasterUsername"], args["MasterUserPassword"])
    row = sql(conn, "SELECT rolcanlogin, rolcreaterole, rolcreatedb, rolsuper, "
                    "pg_has_role(rolname, 'rds_superuser', 'MEMBER') FROM pg_roles WHERE rolname = %s",
              args["MasterUsername"])
    conn.close()
    assert row == [(True, True, True, False, True)]


def test_one_transaction_drops_as_many_roles_as_on_the_smallest_aurora_instance(lab, rds, net, made):
    """Each DROP ROLE holds a lock until the commit. The lab's lock table is the size of a 4 GiB Aurora instance's
    (lab/README.md, some 26,000), so 20,000 roles go in one transaction; with PostgreSQL's default 64 a transaction
    the lab ran out of shared memory on them (checked)."""
    answer, args = made.cluster(net)
    conn = pg_login(lab, answer, args["MasterUsername"], args["MasterUserPassword"])
    conn.autocommit = False
    names = [f"lab_locks_{i}" for i in range(20000)]
    try:
        with conn.cursor() as cur:
            cur.execute(";".join(f'CREATE ROLE "{name}"' for name in names))
            conn.commit()
            cur.execute(";".join(f'DROP ROLE "{name}"' for name in names))
            conn.commit()
            cur.execute(r"SELECT count(*) FROM pg_roles WHERE rolname LIKE 'lab\_locks\_%'")
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()


def test_instances_take_cluster_seconds_and_point_at_the_lab_postgres(lab, rds, net, made):
    answer, args = made.cluster(net)
    instance = made.instance(args["DBClusterIdentifier"])
    assert instance["DBInstanceStatus"] == "creating"
    assert instance["Endpoint"] == {"Address": answer["Endpoint"].replace(
        f"{args['DBClusterIdentifier']}.cluster-", f"{instance['DBInstanceIdentifier']}.", 1), "Port": answer["Port"]}
    wait_for(lambda: rds.describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
             ["DBInstances"][0]["DBInstanceStatus"] == "available", timeout=CLUSTER_SECONDS + 3)
    members = describe(rds, args["DBClusterIdentifier"])["DBClusterMembers"]
    assert [m["DBInstanceIdentifier"] for m in members] == [instance["DBInstanceIdentifier"]]
    pg_login(lab, answer, args["MasterUsername"], args["MasterUserPassword"], instance["Endpoint"]["Address"]).close()


def test_modify_master_password_changes_the_login(lab, rds, net, made):
    answer, args = made.cluster(net)
    new = password()
    rds.modify_db_cluster(DBClusterIdentifier=args["DBClusterIdentifier"], MasterUserPassword=new)
    pg_login(lab, answer, args["MasterUsername"], new).close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        pg_login(lab, answer, args["MasterUsername"], args["MasterUserPassword"])


def test_managed_master_password_is_the_secrets_password_and_rotates(lab, rds, net, made):
    answer, args = made.cluster(net, ManageMasterUserPassword=True)
    assert "MasterUserPassword" not in args
    arn = answer["MasterUserSecret"]["SecretArn"]
    secrets = boto3.client("secretsmanager")
    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    assert value["username"] == args["MasterUsername"]
    pg_login(lab, answer, value["username"], value["password"]).close()
    rds.modify_db_cluster(DBClusterIdentifier=args["DBClusterIdentifier"], RotateMasterUserPassword=True,
                          ApplyImmediately=True)
    rotated = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    assert rotated["password"] != value["password"]
    pg_login(lab, answer, args["MasterUsername"], rotated["password"]).close()
    with pytest.raises(psycopg2.OperationalError):
        pg_login(lab, answer, args["MasterUsername"], value["password"])
    # Back to a password of one's own: RDS deletes the secret.
    own = password()
    rds.modify_db_cluster(DBClusterIdentifier=args["DBClusterIdentifier"], ManageMasterUserPassword=False,
                          MasterUserPassword=own, ApplyImmediately=True)
    pg_login(lab, answer, args["MasterUsername"], own).close()
    assert "MasterUserSecret" not in describe(rds, args["DBClusterIdentifier"])


@pytest.mark.parametrize("change, code, text", [
    ({"MasterUsername": "rdsadmin"}, "InvalidParameterValue", "reserved word"),
    ({"MasterUsername": "1st"}, "InvalidParameterValue", "MasterUsername"),
    ({"MasterUsername": "a" * 17}, "InvalidParameterValue", "1 to 16 characters"),
    ({"MasterUsername": "Select"}, "InvalidParameterValue", "reserved word"),
    ({"MasterUsername": "analyze"}, "InvalidParameterValue", "reserved word"),
    ({"MasterUserPassword": "has/slash-123"}, "InvalidParameterValue", "printable ASCII"),
    ({"MasterUserPassword": "x" * 42}, "InvalidParameterValue", "41"),
    ({"MasterUserPassword": "short"}, "InvalidParameterValue", "8 characters"),
    ({"ManageMasterUserPassword": True, "MasterUserPassword": "Valid-pass-123"}, "InvalidParameterCombination",
     "ManageMasterUserPassword"),
])
def test_master_user_is_validated_like_aws(lab, rds, net, change, code, text):
    args = {"DBClusterIdentifier": unique("lab-rds-bad-"), "Engine": ENGINE, "MasterUsername": "boss",
            "MasterUserPassword": "Valid-pass-123", "DBSubnetGroupName": net["subnet_group"], **change}
    got, message = error_of(rds.create_db_cluster, **args)
    assert (got, text in message) == (code, True), message
    assert not rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [args["DBClusterIdentifier"]]}])[
        "DBClusters"]


def test_the_demo_clusters_master_password_keeps_the_env_file_in_step(lab, rds, net, made):
    before = contract()["LAB_PG_MASTER_PASSWORD"]
    new = password()
    # Another cluster with the contract's master user: the env file keeps the demo cluster's password.
    made.cluster(net, MasterUsername=lab["LAB_PG_MASTER_USER"], MasterUserPassword=new)
    assert contract()["LAB_PG_MASTER_PASSWORD"] == before
    # The demo cluster itself (LAB_PG_CLUSTER), at the env file's LAB_PG_HOST and LAB_PG_PORT.
    demo = rds.create_db_cluster(DBClusterIdentifier=lab["LAB_PG_CLUSTER"], Engine=ENGINE,
                                 MasterUsername=lab["LAB_PG_MASTER_USER"], MasterUserPassword=new,
                                 Port=int(lab["LAB_PG_PORT"]), DBSubnetGroupName=net["subnet_group"])["DBCluster"]
    try:
        assert (demo["Endpoint"], demo["Port"]) == (lab["LAB_PG_HOST"], int(lab["LAB_PG_PORT"]))
        assert contract()["LAB_PG_MASTER_PASSWORD"] == new
        master(contract()).close()
        rds.modify_db_cluster(DBClusterIdentifier=lab["LAB_PG_CLUSTER"], MasterUserPassword=before)
        assert contract()["LAB_PG_MASTER_PASSWORD"] == before
        master(contract()).close()
    finally:
        rds.delete_db_cluster(DBClusterIdentifier=lab["LAB_PG_CLUSTER"], SkipFinalSnapshot=True)
        if contract()["LAB_PG_MASTER_PASSWORD"] != before:  # the env file as the test found it
            rds.create_db_cluster(DBClusterIdentifier=lab["LAB_PG_CLUSTER"], Engine=ENGINE,
                                  MasterUsername=lab["LAB_PG_MASTER_USER"], MasterUserPassword=before,
                                  DBSubnetGroupName=net["subnet_group"])
            rds.delete_db_cluster(DBClusterIdentifier=lab["LAB_PG_CLUSTER"], SkipFinalSnapshot=True)


# --- domain membership (AWS_FACTS sections 3 and 4) ---------------------------------------------

def test_join_goes_pending_enabling_enabled_on_the_cluster_and_its_instances(lab, rds, net, roles, sgs, made):
    answer, args = made.cluster(net, sgs["good"], Domain=net["directory"], DomainIAMRoleName=roles["good"])
    cluster_id = args["DBClusterIdentifier"]
    instance = made.instance(cluster_id)
    assert answer["DomainMemberships"] == [{
        "Domain": net["directory"], "Status": "pending-enable-kerberos", "FQDN": lab["LAB_AD_DOMAIN"],
        "IAMRoleName": roles["good"], "DnsIps": net["dns_ips"]}]
    assert statuses_until(rds, cluster_id, "kerberos-enabled") == [
        "pending-enable-kerberos", "enabling-kerberos", "kerberos-enabled"]
    shown = rds.describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])["DBInstances"][0]
    assert shown["DomainMemberships"] == describe(rds, cluster_id)["DomainMemberships"]
    # The same id again on a joined cluster changes nothing.
    rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain=net["directory"], DomainIAMRoleName=roles["good"])
    assert membership_status(rds, cluster_id) == "kerberos-enabled"
    assert events(rds, cluster_id) == []


def test_join_through_modify_then_leave_with_none(lab, rds, net, roles, sgs, made):
    dummy, args = made.cluster(net, sgs["good"])
    cluster_id = args["DBClusterIdentifier"]
    instance = made.instance(cluster_id)
    assert rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain=net["directory"],
                                 DomainIAMRoleName=roles["good"])["DBCluster"]["DomainMemberships"][0]["Status"] \
        == "pending-enable-kerberos"
    statuses_until(rds, cluster_id, "kerberos-enabled")
    left = rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain="none")["DBCluster"]
    assert left["DomainMemberships"][0]["Status"] == "pending-disable-kerberos"
    assert statuses_until(rds, cluster_id, None) == ["pending-disable-kerberos", "disabling-kerberos", None]
    shown = rds.describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])["DBInstances"][0]
    assert shown["DomainMemberships"] == []
    # "none" on a cluster that is no member changes nothing.
    rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain="none")
    assert describe(rds, cluster_id)["DomainMemberships"] == []


def test_unknown_directory_is_domain_not_found(lab, rds, net, roles, made):
    code, message = error_of(made.cluster, net, Domain="d-0000000000", DomainIAMRoleName=roles["good"])
    assert code == "DomainNotFoundFault" and "d-0000000000" in message
    dummy, args = made.cluster(net)
    code, dummy = error_of(rds.modify_db_cluster, DBClusterIdentifier=args["DBClusterIdentifier"],
                           Domain="d-0000000000", DomainIAMRoleName=roles["good"])
    assert code == "DomainNotFoundFault"
    assert describe(rds, args["DBClusterIdentifier"])["DomainMemberships"] == []


def test_a_directory_that_is_not_active_is_refused(lab, rds, net, roles, sgs, made):
    lab_api(lab, "POST", "faults", {"directory_stage": {net["directory"]: ["Impaired", "lab: injected"]}})
    stage = boto3.client("ds").describe_directories(DirectoryIds=[net["directory"]])["DirectoryDescriptions"][0]["Stage"]
    if stage == "Active":
        pytest.skip("the ds extension's directory_stage fault is not installed")
    code, message = error_of(made.cluster, net, sgs["good"], Domain=net["directory"], DomainIAMRoleName=roles["good"])
    assert code == "InvalidParameterCombination" and "Impaired" in message


def test_a_missing_role_is_refused_at_call_time(lab, rds, net, sgs, made):
    code, message = error_of(made.cluster, net, sgs["good"], Domain=net["directory"], DomainIAMRoleName="no-such-role")
    assert code == "InvalidParameterCombination" and message.startswith("IAM role provided is not valid")


def test_a_role_without_the_directoryservice_principal_is_refused_at_call_time(lab, rds, net, roles, sgs, made):
    """AWS_FACTS section 3 (aws-cdk#28600): RDS answers the call itself with "IAM role provided is not valid"."""
    dummy, args = made.cluster(net, sgs["good"])
    code, message = error_of(rds.modify_db_cluster, DBClusterIdentifier=args["DBClusterIdentifier"],
                             Domain=net["directory"], DomainIAMRoleName=roles["no_trust"])
    assert code == "InvalidParameterCombination" and message.startswith("IAM role provided is not valid")


def test_a_role_without_the_policy_fails_the_join_then_a_retry_after_the_fix_succeeds(lab, rds, iam, net, roles,
                                                                                      sgs, made):
    dummy, args = made.cluster(net, sgs["good"], Domain=net["directory"], DomainIAMRoleName=roles["no_policy"])
    cluster_id = args["DBClusterIdentifier"]
    assert statuses_until(rds, cluster_id, "enable-kerberos-failed") == [
        "pending-enable-kerberos", "enabling-kerberos", "enable-kerberos-failed"]
    [message] = events(rds, cluster_id)
    assert roles["no_policy"] in message and "AmazonRDSDirectoryServiceAccess" in message
    iam.attach_role_policy(RoleName=roles["no_policy"], PolicyArn=POLICY)
    try:
        rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain=net["directory"],
                              DomainIAMRoleName=roles["no_policy"])
        assert statuses_until(rds, cluster_id, "kerberos-enabled")[0] == "pending-enable-kerberos"
    finally:
        iam.detach_role_policy(RoleName=roles["no_policy"], PolicyArn=POLICY)


def test_security_groups_closed_to_the_directory_fail_the_join_then_a_retry_after_the_fix_succeeds(
        lab, rds, ec2, net, roles, sgs, made):
    dummy, args = made.cluster(net, sgs["closed"], Domain=net["directory"], DomainIAMRoleName=roles["good"])
    cluster_id = args["DBClusterIdentifier"]
    statuses_until(rds, cluster_id, "enable-kerberos-failed")
    [message] = events(rds, cluster_id)
    assert sgs["closed"] in message and net["directory_sg"] in message
    permission = {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": net["directory_sg"]}]}
    ec2.authorize_security_group_ingress(GroupId=sgs["closed"], IpPermissions=[permission])
    try:
        rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain=net["directory"])  # the role stays
        statuses_until(rds, cluster_id, "kerberos-enabled")
        assert describe(rds, cluster_id)["DomainMemberships"][0]["IAMRoleName"] == roles["good"]
    finally:
        ec2.revoke_security_group_ingress(GroupId=sgs["closed"], IpPermissions=[permission])


AD_PORTS = [("tcp", 53, 53), ("udp", 53, 53), ("tcp", 88, 88), ("udp", 88, 88), ("tcp", 464, 464), ("udp", 464, 464),
            ("tcp", 389, 389), ("udp", 389, 389), ("tcp", 445, 445), ("tcp", 135, 135), ("tcp", 636, 636),
            ("tcp", 3268, 3269), ("tcp", 1024, 65535)]


@pytest.fixture
def peered(net, ec2):
    """A DB VPC peered (active) with the directory's, with a DB subnet group and a DB group open on 5432."""
    n = 100 + next(_cidrs) + int(time.time()) % 40
    vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    group = unique("lab-rds-peered-")
    boto3.client("rds").create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="peered",
                                               SubnetIds=subnets)
    db_sg = ec2.create_security_group(GroupName=unique("lab-db-peered-"), Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=db_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": net["directory_sg"]}]}])
    pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=net["vpc"])["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    yield dict(net, subnet_group=group, db_sg=db_sg, cidrs=[f"10.{n}.1.0/24", f"10.{n}.2.0/24"])
    ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)


def test_a_db_in_a_peered_vpc_fails_the_join_until_the_controllers_group_admits_it(lab, rds, ec2, peered, roles, made):
    """AWS_FACTS section 2: the domain controllers' group admits the AD ports only from the directory's VPC."""
    dummy, args = made.cluster(peered, peered["db_sg"], Domain=peered["directory"], DomainIAMRoleName=roles["good"])
    cluster_id = args["DBClusterIdentifier"]
    statuses_until(rds, cluster_id, "enable-kerberos-failed")
    [message] = events(rds, cluster_id)
    assert peered["directory_sg"] in message and "udp/88" in message and "tcp/1024-65535" in message, message
    # From the DB subnets' CIDRs it works as well as by group: here one port short, then all of them.
    permissions = [{"IpProtocol": p, "FromPort": low, "ToPort": high, "IpRanges": [{"CidrIp": cidr}]}
                   for p, low, high in AD_PORTS for cidr in peered["cidrs"] if (p, low) != ("udp", 464)]
    ec2.authorize_security_group_ingress(GroupId=peered["directory_sg"], IpPermissions=permissions)
    by_group = [{"IpProtocol": "udp", "FromPort": 464, "ToPort": 464, "UserIdGroupPairs": [{"GroupId": peered["db_sg"]}]}]
    try:
        rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain=peered["directory"])
        statuses_until(rds, cluster_id, "enable-kerberos-failed")
        latest = [m for m in events(rds, cluster_id) if m != message]
        assert len(latest) == 1 and "udp/464" in latest[0] and "udp/88" not in latest[0], latest
        ec2.authorize_security_group_ingress(GroupId=peered["directory_sg"], IpPermissions=by_group)
        rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain=peered["directory"])
        statuses_until(rds, cluster_id, "kerberos-enabled")
    finally:
        for permission in permissions + by_group:
            try:
                ec2.revoke_security_group_ingress(GroupId=peered["directory_sg"], IpPermissions=[permission])
            except ClientError:
                pass  # not added: the test failed before


def test_an_injected_failure_fails_only_the_next_join(lab, rds, net, roles, sgs, made):
    lab_api(lab, "POST", "faults", {"fail_next_join": "lab: the domain controllers did not answer"})
    dummy, args = made.cluster(net, sgs["good"], Domain=net["directory"], DomainIAMRoleName=roles["good"])
    cluster_id = args["DBClusterIdentifier"]
    assert "fail_next_join" not in lab_api(lab, "GET", "faults")
    statuses_until(rds, cluster_id, "enable-kerberos-failed")
    events_of_the_last_hour = rds.describe_events(SourceIdentifier=cluster_id, SourceType="db-cluster")["Events"]
    [event] = events_of_the_last_hour
    assert "lab: the domain controllers did not answer" in event["Message"]
    assert event["EventCategories"] == ["failure"] and event["SourceArn"].endswith(f":cluster:{cluster_id}")
    assert rds.describe_events(SourceIdentifier=cluster_id, SourceType="db-cluster", EventCategories=["backup"])[
        "Events"] == []
    assert len(rds.describe_events(SourceIdentifier=cluster_id, SourceType="db-cluster", Duration=5)["Events"]) == 1
    later = event["Date"] + datetime.timedelta(minutes=1)
    assert rds.describe_events(SourceIdentifier=cluster_id, SourceType="db-cluster", StartTime=later)["Events"] == []
    rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain=net["directory"], DomainIAMRoleName=roles["good"])
    statuses_until(rds, cluster_id, "kerberos-enabled")
    assert len(events(rds, cluster_id)) == 1


def test_domain_on_an_instance_of_an_aurora_cluster_is_refused(lab, rds, net, roles, made):
    dummy, args = made.cluster(net)
    code, message = error_of(made.instance, args["DBClusterIdentifier"], Domain=net["directory"],
                             DomainIAMRoleName=roles["good"])
    assert code == "InvalidParameterCombination" and "managed by the DB cluster" in message


def test_a_standalone_instance_joins_and_leaves_with_disable_domain(lab, rds, net, roles, sgs):
    """Not Aurora, but the same API (AWS_FACTS section 4): the membership lives on the instance."""
    instance_id = unique("lab-rds-pg-")
    answer = rds.create_db_instance(DBInstanceIdentifier=instance_id, Engine="postgres", DBInstanceClass="db.t4g.micro",
                                    MasterUsername="boss", MasterUserPassword=password(), AllocatedStorage=20,
                                    VpcSecurityGroupIds=[sgs["good"]], Domain=net["directory"],
                                    DomainIAMRoleName=roles["good"])["DBInstance"]
    try:
        assert answer["DomainMemberships"][0]["Status"] == "pending-enable-kerberos"

        def status():
            shown = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["DomainMemberships"]
            return shown[0]["Status"] if shown else "gone"

        wait_for(lambda: status() == "kerberos-enabled", timeout=JOIN_SECONDS + 5)
        rds.modify_db_instance(DBInstanceIdentifier=instance_id, DisableDomain=True, ApplyImmediately=True)
        assert status() == "pending-disable-kerberos"
        wait_for(lambda: status() == "gone", timeout=JOIN_SECONDS + 5)
    finally:
        rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)


def test_a_shared_directory_joins_by_the_consumers_own_id_once_accepted(lab, net, sgs):
    ds = boto3.client("ds")
    creds = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{CONSUMER_ACCOUNT}:role/lab-consumer",
                                            RoleSessionName="lab-rds")["Credentials"]
    session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])
    consumer_ds, consumer_rds = session.client("ds"), session.client("rds", config=NO_RETRY)
    consumer_iam = session.client("iam")
    try:
        shared_id = ds.share_directory(DirectoryId=net["directory"], ShareMethod="HANDSHAKE",
                                       ShareTarget={"Id": CONSUMER_ACCOUNT, "Type": "ACCOUNT"})["SharedDirectoryId"]
    except ClientError as exc:
        pytest.skip(f"ShareDirectory is not available: {exc}")
    role = unique("lab-rds-consumer-")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "Service": ["rds.amazonaws.com", "directoryservice.rds.amazonaws.com"]}}]}
    consumer_iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    consumer_iam.attach_role_policy(RoleName=role, PolicyArn=POLICY)
    cluster_id = unique("lab-rds-consumer-")
    base = {"DBClusterIdentifier": cluster_id, "Engine": ENGINE, "MasterUsername": unique("m_"),
            "MasterUserPassword": password(), "DomainIAMRoleName": role}
    try:
        code, dummy = error_of(consumer_rds.create_db_cluster, **base, Domain=net["directory"])
        assert code == "DomainNotFoundFault"  # the owner's id means nothing in the consumer account
        if consumer_ds.describe_directories(DirectoryIds=[shared_id])["DirectoryDescriptions"]:
            code, message = error_of(consumer_rds.create_db_cluster, **base, Domain=shared_id)
            assert code == "InvalidParameterCombination" and "AcceptSharedDirectory" in message
        consumer_ds.accept_shared_directory(SharedDirectoryId=shared_id)
        wait_for(lambda: consumer_ds.describe_directories(DirectoryIds=[shared_id])["DirectoryDescriptions"][0]
                 .get("ShareStatus") == "Shared", timeout=10)
        answer = consumer_rds.create_db_cluster(**base, Domain=shared_id)["DBCluster"]
        assert answer["DomainMemberships"][0]["Domain"] == shared_id
        assert answer["DomainMemberships"][0]["FQDN"] == lab["LAB_AD_DOMAIN"]
        # No DB security group accepts the owner's directory SG here: the join fails, with the cause.
        wait_for(lambda: consumer_rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
                 ["DomainMemberships"][0]["Status"] == "enable-kerberos-failed", timeout=JOIN_SECONDS + 5)
        [event] = consumer_rds.describe_events(SourceIdentifier=cluster_id, SourceType="db-cluster")["Events"]
        assert net["directory_sg"] in event["Message"]
    finally:
        try:
            consumer_rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
        except ClientError:
            pass
        ds.unshare_directory(DirectoryId=net["directory"], UnshareTarget={"Id": CONSUMER_ACCOUNT, "Type": "ACCOUNT"})


def test_delete_directory_is_refused_while_a_cluster_is_a_member(lab, rds, net, roles, sgs, made):
    dummy, args = made.cluster(net, sgs["good"], Domain=net["directory"], DomainIAMRoleName=roles["good"])
    code, message = error_of(boto3.client("ds", config=NO_RETRY).delete_directory, DirectoryId=net["directory"])
    # AWS's recorded answer, exactly: it names no application (AWS_FACTS section 1).
    assert (code, message) == ("ClientException", "Cannot delete the directory because it still has authorized applications.")
    assert args["DBClusterIdentifier"] not in message


# --- Kerberos follows the membership (AWS_FACTS section 10) -------------------------------------

@pytest.fixture
def gss_user(lab, tmp_path):
    """An AD user; login_on(cluster answer, its args) makes it an rds_ad login of that cluster's database.
    ticket() gets it a fresh ticket cache."""
    name = unique("krb")
    create_ad_user(lab, name, lab["LAB_USER_PASSWORD"])
    principal = f"{name}@{lab['LAB_AD_REALM']}"
    caches = iter(tmp_path / f"cc{n}" for n in itertools.count())

    def ticket():
        cache = next(caches)
        got = kinit(lab, principal, lab["LAB_USER_PASSWORD"], cache)
        assert got.returncode == 0, got.stderr
        return cache

    def login_on(cluster, args):
        conn = pg_login(lab, cluster, args["MasterUsername"], args["MasterUserPassword"])
        sql(conn, f'CREATE ROLE "{principal}" LOGIN IN ROLE rds_ad')
        conn.close()

    yield type("GssUser", (), {"principal": principal, "ticket": staticmethod(ticket),
                               "login_on": staticmethod(login_on)})
    delete_ad_user(lab, name)


def gss_login(lab, principal, cache, host, port):
    """None and the session's (user, gss_authenticated, principal) when the login works, else the error."""
    os.environ.update(KRB5CCNAME=f"FILE:{cache}", KRB5_CONFIG=lab["KRB5_CONFIG"])
    try:
        conn = psycopg2.connect(host=host, hostaddr=address_of(lab, host), port=port,
                                dbname="postgres", user=principal, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        return str(exc), None
    try:
        return None, sql(conn, "SELECT current_user, gss_authenticated, principal FROM pg_stat_gssapi "
                               "WHERE pid = pg_backend_pid()")[0]
    finally:
        conn.close()


def service_accounts(lab, endpoint):
    """(sAMAccountName, msDS-SupportedEncryptionTypes) of each AD account holding postgres/<endpoint>."""
    with ldap_admin(lab) as conn:
        conn.search(lab["LAB_AD_BASE_DN"], f"(servicePrincipalName=postgres/{endpoint})",
                    attributes=["sAMAccountName", "msDS-SupportedEncryptionTypes"])
        return [(str(e.sAMAccountName.value), e["msDS-SupportedEncryptionTypes"].value) for e in conn.entries]


def keytab_enctypes(lab, cluster_id):
    """The enctypes of the keytab of the cluster's server (krb_server_keyfile), or None when there is none."""
    [folder] = (Path(lab["LAB_STATE_DIR"]) / "pg" / "servers").glob(f"{cluster_id}-*")
    path = folder / "postgres.keytab"
    if not path.exists():
        return None
    listed = subprocess.run(["klist", "-k", "-e", str(path)], capture_output=True, text=True, check=True).stdout
    return {line.rsplit("(", 1)[1].rstrip(") ") for line in listed.splitlines() if "@" in line}


NOT_IN_KDC = "Server not found in Kerberos database"


def test_a_gssapi_login_works_only_while_the_cluster_is_a_member(lab, rds, net, roles, sgs, made, gss_user):
    answer, args = made.cluster(net, sgs["good"])
    cluster_id, endpoint, port = args["DBClusterIdentifier"], answer["Endpoint"], answer["Port"]
    made.instance(cluster_id)
    gss_user.login_on(answer, args)
    # Before the join: no principal for the endpoint, no keys in its server, and the client says so.
    assert service_accounts(lab, endpoint) == []
    assert keytab_enctypes(lab, cluster_id) is None
    error, dummy = gss_login(lab, gss_user.principal, gss_user.ticket(), endpoint, port)
    assert NOT_IN_KDC in error, error

    rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain=net["directory"], DomainIAMRoleName=roles["good"])
    # Nobody reads the membership meanwhile: the account comes when the join's time is up all the same.
    accounts = wait_for(lambda: service_accounts(lab, endpoint), timeout=JOIN_SECONDS + 5, step=0.1)
    assert membership_status(rds, cluster_id) == "kerberos-enabled"
    assert [aes for dummy, aes in accounts] == [24] and accounts[0][0].startswith("RDS")
    assert keytab_enctypes(lab, cluster_id) == {"aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96"}
    joined_cache = gss_user.ticket()
    for name in sorted({endpoint, answer["ReaderEndpoint"]}):  # PostgreSQL was not restarted: it reads the keytab per login
        assert gss_login(lab, gss_user.principal, joined_cache, name, port) == (
            None, (gss_user.principal, True, gss_user.principal))

    rds.modify_db_cluster(DBClusterIdentifier=cluster_id, Domain="none")
    assert gss_login(lab, gss_user.principal, joined_cache, endpoint, port)[0] is None  # still a member until done
    wait_for(lambda: service_accounts(lab, endpoint) == [], timeout=JOIN_SECONDS + 5, step=0.1)
    assert membership_status(rds, cluster_id) is None
    assert keytab_enctypes(lab, cluster_id) is None
    error, dummy = gss_login(lab, gss_user.principal, gss_user.ticket(), endpoint, port)
    assert NOT_IN_KDC in error, error
    # A service ticket got while it was a member opens nothing either: PostgreSQL has no key for it.
    error, dummy = gss_login(lab, gss_user.principal, joined_cache, endpoint, port)
    assert error and "GSSAPI" in error, error


def test_each_member_has_its_own_principal_and_keys_and_a_deleted_one_takes_them(
        lab, rds, net, roles, sgs, made, gss_user):
    """Two joined clusters: each endpoint's principal is held by that cluster's own account, each server holds
    only its own keys, and deleting one takes its account; the other's login goes on."""
    first, first_args = made.cluster(net, sgs["good"], Domain=net["directory"], DomainIAMRoleName=roles["good"])
    second, second_args = made.cluster(net, sgs["good"], Domain=net["directory"], DomainIAMRoleName=roles["good"])
    for answer, args in ((first, first_args), (second, second_args)):
        gss_user.login_on(answer, args)
        statuses_until(rds, args["DBClusterIdentifier"], "kerberos-enabled")
    [(first_account, dummy)] = service_accounts(lab, first["Endpoint"])
    [(second_account, dummy)] = service_accounts(lab, second["Endpoint"])
    assert first_account != second_account
    [folder] = (Path(lab["LAB_STATE_DIR"]) / "pg" / "servers").glob(f"{first_args['DBClusterIdentifier']}-*")
    listed = subprocess.run(["klist", "-k", str(folder / "postgres.keytab")], capture_output=True, text=True,
                            check=True).stdout
    assert first["Endpoint"] in listed and second["Endpoint"] not in listed
    rds.delete_db_cluster(DBClusterIdentifier=first_args["DBClusterIdentifier"], SkipFinalSnapshot=True)
    try:
        assert service_accounts(lab, first["Endpoint"]) == []
        assert gss_login(lab, gss_user.principal, gss_user.ticket(), second["Endpoint"], second["Port"])[0] is None
    finally:
        rds.create_db_cluster(DBClusterIdentifier=first_args["DBClusterIdentifier"], Engine=ENGINE,
                              MasterUsername=first_args["MasterUsername"], MasterUserPassword=password(),
                              DBSubnetGroupName=net["subnet_group"])  # for made's clean-up


# --- the catalogue (AWS_FACTS section 4) -------------------------------------------------------

def test_orderable_options_know_current_versions_and_kerberos_support(lab, rds):
    for version in ("16.4", "16.6", "17.4", "17.5"):
        rows = rds.describe_orderable_db_instance_options(Engine=ENGINE, EngineVersion=version, MaxRecords=1000)[
            "OrderableDBInstanceOptions"]
        classes = {r["DBInstanceClass"]: r for r in rows}
        for instance_class in ("db.r6g.large", "db.r7g.xlarge", "db.t4g.medium", "db.serverless"):
            assert classes[instance_class]["SupportsKerberosAuthentication"] is True, (version, instance_class)
        assert {r["EngineVersion"] for r in rows} == {version}
        assert "db.t2.micro" not in classes
    one = rds.describe_orderable_db_instance_options(Engine=ENGINE, EngineVersion="17.5",
                                                     DBInstanceClass="db.t4g.medium")["OrderableDBInstanceOptions"]
    assert [(r["DBInstanceClass"], r["Vpc"]) for r in one] == [("db.t4g.medium", True)]
    older = rds.describe_orderable_db_instance_options(Engine=ENGINE, EngineVersion="13.7")["OrderableDBInstanceOptions"]
    assert older and all(r["SupportsKerberosAuthentication"] for r in older)
    paginator = rds.get_paginator("describe_orderable_db_instance_options")
    versions = {r["EngineVersion"] for page in paginator.paginate(Engine=ENGINE) for r in page["OrderableDBInstanceOptions"]}
    assert {"13.7", "15.2", "16.4", "16.6", "17.4", "17.5"} <= versions


def test_engine_versions_answer_with_the_models_fields(lab, rds):
    rows = [r for page in rds.get_paginator("describe_db_engine_versions").paginate(Engine=ENGINE)
            for r in page["DBEngineVersions"]]
    by_version = {r["EngineVersion"]: r for r in rows}
    assert {"16.4", "16.6", "17.4", "17.5", "13.7"} <= set(by_version)
    row = by_version["16.4"]
    assert row["DBParameterGroupFamily"] == "aurora-postgresql16" and row["MajorEngineVersion"] == "16"
    assert row["Status"] == "available" and row["Engine"] == ENGINE
    assert "16.6" in [t["EngineVersion"] for t in row["ValidUpgradeTarget"]]
    assert not any("erberos" in key for r in rows for key in r)  # not a field of DBEngineVersion
    assert {r["EngineVersion"] for r in rds.describe_db_engine_versions(Engine=ENGINE, EngineVersion="17")[
        "DBEngineVersions"]} == {"17.4", "17.5"}
    [default] = rds.describe_db_engine_versions(Engine=ENGINE, DefaultOnly=True)["DBEngineVersions"]
    assert default["EngineVersion"] in by_version
    assert rds.describe_db_engine_versions(Engine="aurora-postgresql", DBParameterGroupFamily="aurora-postgresql17")[
        "DBEngineVersions"][0]["MajorEngineVersion"] == "17"


def test_every_rds_call_is_in_the_call_log(lab, rds):
    lab_api(lab, "DELETE", "calls")
    rds.describe_db_engine_versions(Engine=ENGINE, EngineVersion="17.5")
    rds.describe_db_clusters()
    code, dummy = error_of(rds.modify_db_cluster, DBClusterIdentifier="lab-no-such-cluster", Domain="none")
    assert code == "DBClusterNotFoundFault"
    calls = [(c["service"], c["operation"], c["mutating"], c["status"]) for c in lab_api(lab, "GET", "calls")["calls"]]
    assert calls == [("rds", "DescribeDBEngineVersions", False, 200), ("rds", "DescribeDBClusters", False, 200),
                     ("rds", "ModifyDBCluster", True, 404)]


def test_delete_cluster_refuses_protection_and_a_taken_snapshot_name_and_takes_the_final_snapshot(lab, rds, net):
    """DeleteDBCluster as AWS answers it: a protected cluster is refused with AWS's wording while its instances may
    still be deleted (ModifyDBInstance DeletionProtection docs); a taken FinalDBSnapshotIdentifier is refused before
    anything goes; FinalDBSnapshotIdentifier leaves a manual snapshot of that name that outlives the cluster."""
    cluster_id, user = unique("lab-rds-del-"), unique("m_")
    taken, final = unique("lab-taken-"), unique("lab-final-")
    rds.create_db_cluster(DBClusterIdentifier=cluster_id, Engine=ENGINE, EngineVersion="16.6", MasterUsername=user,
                          MasterUserPassword=password(), DBSubnetGroupName=net["subnet_group"], DeletionProtection=True)
    try:
        instance_id = f"{cluster_id}-1"
        rds.create_db_instance(DBInstanceIdentifier=instance_id, DBClusterIdentifier=cluster_id, Engine=ENGINE,
                               DBInstanceClass="db.r6g.large")
        assert error_of(rds.delete_db_cluster, DBClusterIdentifier=cluster_id, FinalDBSnapshotIdentifier=final) == (
            "InvalidParameterCombination", "Cannot delete protected Cluster, please disable deletion protection and try again.")
        rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        rds.modify_db_cluster(DBClusterIdentifier=cluster_id, DeletionProtection=False, ApplyImmediately=True)
        rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster_id, DBClusterSnapshotIdentifier=taken)
        code, dummy = error_of(rds.delete_db_cluster, DBClusterIdentifier=cluster_id, FinalDBSnapshotIdentifier=taken)
        assert code == "DBClusterSnapshotAlreadyExistsFault"
        assert describe(rds, cluster_id)["DBClusterIdentifier"] == cluster_id
        rds.delete_db_cluster(DBClusterIdentifier=cluster_id, FinalDBSnapshotIdentifier=final)
        assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == cluster_id]
        snapshot = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)["DBClusterSnapshots"][0]
        assert (snapshot["DBClusterIdentifier"], snapshot["SnapshotType"]) == (cluster_id, "manual")
    finally:
        if [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == cluster_id]:
            rds.modify_db_cluster(DBClusterIdentifier=cluster_id, DeletionProtection=False, ApplyImmediately=True)
            for member in describe(rds, cluster_id)["DBClusterMembers"]:
                rds.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"], SkipFinalSnapshot=True)
            rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
        for snapshot_id in (taken, final):
            try:
                rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot_id)
            except ClientError as e:
                assert e.response["Error"]["Code"] == "DBClusterSnapshotNotFoundFault"
