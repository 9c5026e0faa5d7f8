# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.kerberos_preflight with botocore's Stubber: every request is checked against the API model,
and a call the test did not expect fails it."""

import json
import urllib.parse

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import kerberos_preflight as module_under_test

CLUSTER = "orders"
ID = "d-1234567890"
ROLE = "rds-directory-access"
VPC = "vpc-0123456789abcdef0"
DB_SG = "sg-0aaaaaaaaaaaaaaaa"
DIR_SG = "sg-0bbbbbbbbbbbbbbbb"
POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
EXPLICIT = dict(engine_version="16.4", instance_class="db.r6g.large", db_security_group_ids=[DB_SG], db_vpc_id=VPC,
                directory_id=ID, iam_role_name=ROLE)


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "rds", "ds", "iam", "sts", "ec2")
    yield stubbers
    assert_all_used(stubbers)


def run(check_mode=False, **args):
    return run_module(module_under_test.main, check_mode, **args)


def expect_checks(aws, port=5432, ingress_port=5432, instance_class="db.r6g.large", version="16.4", kerberos=True,
                  engine="aurora-postgresql"):
    aws["rds"].add_response("describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": [
        {"Engine": engine, "EngineVersion": version, "DBInstanceClass": instance_class,
         "SupportsKerberosAuthentication": kerberos}]},
        {"Engine": engine, "EngineVersion": version, "DBInstanceClass": instance_class, "MaxRecords": 1000})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [dict(
        DirectoryId=ID, Name="corp.example.com", Type="MicrosoftAD", Stage="Active", DnsIpAddrs=["10.0.1.10"],
        VpcSettings={"VpcId": VPC, "SubnetIds": [], "SecurityGroupId": DIR_SG})]}, {"DirectoryIds": [ID]})
    document = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "Service": ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]}}]}
    aws["iam"].add_response("get_role", {"Role": {
        "Path": "/", "RoleName": ROLE, "RoleId": "AROAEXAMPLEEXAMPLE123", "Arn": f"arn:aws:iam::123456789012:role/{ROLE}",
        "CreateDate": "2024-01-01T00:00:00Z", "AssumeRolePolicyDocument": urllib.parse.quote(json.dumps(document))}},
        {"RoleName": ROLE})
    aws["iam"].add_response("list_attached_role_policies", {"AttachedPolicies": [{"PolicyArn": POLICY}]}, {"RoleName": ROLE})
    aws["sts"].add_response("get_caller_identity", {"Account": "123456789012"}, {})
    aws["ec2"].add_response("describe_security_groups", {"SecurityGroups": [{
        "GroupId": DB_SG, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": ingress_port, "ToPort": ingress_port,
                                             "UserIdGroupPairs": [{"GroupId": DIR_SG}]}]}]}, {"GroupIds": [DB_SG]})
    aws["ec2"].add_response("describe_security_groups", {"SecurityGroups": [{
        "GroupId": DIR_SG, "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]},
        {"GroupIds": [DIR_SG]})


def test_everything_in_order_is_ok(aws):
    expect_checks(aws)
    result = run(**EXPLICIT)
    assert result["failed"] is False and result["changed"] is False and result["ok"] is True
    assert len(result["findings"]) == 9 and {f["status"] for f in result["findings"]} == {"ok"}


def test_check_mode_runs_the_same_reads(aws):
    expect_checks(aws)
    assert run(check_mode=True, **EXPLICIT)["ok"] is True


def test_the_cluster_gives_what_is_checked(aws):
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [{
        "DBClusterIdentifier": CLUSTER, "Engine": "aurora-postgresql", "EngineVersion": "17.4", "Port": 5433,
        "DBSubnetGroup": "g", "VpcSecurityGroups": [{"VpcSecurityGroupId": DB_SG}]}]}, {"DBClusterIdentifier": CLUSTER})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": [{
        "DBInstanceIdentifier": "orders-1", "DBInstanceClass": "db.r7g.large", "DBSubnetGroup": {"VpcId": VPC}}]},
        {"Filters": [{"Name": "db-cluster-id", "Values": [CLUSTER]}]})
    expect_checks(aws, ingress_port=5433, instance_class="db.r7g.large", version="17.4")
    result = run(cluster_id=CLUSTER, directory_id=ID, iam_role_name=ROLE)
    assert result["ok"] is True
    assert "17.4" in result["findings"][0]["message"]


def test_a_db_not_created_yet_is_checked_in_the_vpc_of_its_subnet_group(aws):
    aws["rds"].add_response("describe_db_subnet_groups", {"DBSubnetGroups": [{"DBSubnetGroupName": "orders-db",
                                                                              "VpcId": VPC}]},
                            {"DBSubnetGroupName": "orders-db"})
    expect_checks(aws)
    explicit = {k: v for k, v in EXPLICIT.items() if k != "db_vpc_id"}
    result = run(db_subnet_group_name="orders-db", **explicit)
    vpc = [f for f in result["findings"] if f["check"] == "vpc_connectivity"][0]
    assert result["ok"] is True and vpc["status"] == "ok" and VPC in vpc["message"]


def test_explicit_options_override_the_cluster(aws):
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [{
        "DBClusterIdentifier": CLUSTER, "Engine": "aurora-postgresql", "EngineVersion": "17.4", "Port": 5433,
        "VpcSecurityGroups": [{"VpcSecurityGroupId": DB_SG}]}]}, {"DBClusterIdentifier": CLUSTER})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": []},
                            {"Filters": [{"Name": "db-cluster-id", "Values": [CLUSTER]}]})
    expect_checks(aws)
    result = run(cluster_id=CLUSTER, port=5432, **EXPLICIT)
    assert result["ok"] is True


def test_a_failing_check_fails_the_task_with_its_message_and_fix(aws):
    expect_checks(aws, ingress_port=3306)
    result = run(**EXPLICIT)
    assert result["failed"] and result["ok"] is False
    assert result["msg"].startswith("Kerberos preflight: 1 check(s) failed: [db_security_group_ingress] No DB security group")
    assert f"Fix: Add an inbound rule on {DB_SG}: TCP 5432 from security group {DIR_SG}" in result["msg"]


def test_fail_on_nothing_reports_without_failing(aws):
    expect_checks(aws, kerberos=False)
    result = run(fail_on=[], **EXPLICIT)
    assert result["failed"] is False and result["ok"] is False
    assert [f["check"] for f in result["findings"] if f["status"] == "fail"] == ["engine_support"]


def test_fail_on_warn_fails_on_a_warning(aws):
    # Nothing given: the engine's default version is checked, but with no instance class it only warns.
    aws["rds"].add_response("describe_db_engine_versions", {"DBEngineVersions": [
        {"Engine": "aurora-postgresql", "EngineVersion": "16.6"}]}, {"Engine": "aurora-postgresql", "DefaultOnly": True})
    aws["rds"].add_response("describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": [
        {"Engine": "aurora-postgresql", "EngineVersion": "16.6", "DBInstanceClass": "db.r6g.large",
         "SupportsKerberosAuthentication": True}]}, {"Engine": "aurora-postgresql", "EngineVersion": "16.6", "MaxRecords": 1000})
    result = run(fail_on=["warn", "fail"])
    assert result["failed"] and result["ok"] is True
    assert "[engine_support] aurora-postgresql 16.6 (the engine's default here) supports Kerberos" in result["msg"]


def test_a_missing_cluster_fails_naming_the_option(aws):
    aws["rds"].add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "not found", 404,
                                expected_params={"DBClusterIdentifier": CLUSTER})
    result = run(cluster_id=CLUSTER)
    assert result["failed"] and "DB cluster orders does not exist (cluster_id)" in result["msg"]


def test_an_unreadable_cluster_fails_with_the_aws_error(aws):
    aws["rds"].add_client_error("describe_db_clusters", "AccessDenied", "no rds:DescribeDBClusters", 403,
                                expected_params={"DBClusterIdentifier": CLUSTER})
    result = run(cluster_id=CLUSTER)
    assert result["failed"] and "Failed to describe DB cluster" in result["msg"]


@pytest.mark.parametrize("args, expect", [
    (dict(directory_id="d-12"), "directory_id 'd-12' is not a directory id"),
    (dict(port=0), "port must be 1-65535 (got 0)"),
    (dict(port=70000), "port must be 1-65535"),
    (dict(db_security_group_ids=["default"]), "db_security_group_ids ['default'] are not security group ids"),
    (dict(db_vpc_id="10.0.0.0/16"), "db_vpc_id '10.0.0.0/16' is not a VPC id"),
    (dict(iam_role_name="arn:aws:iam::1:role/x"), "iam_role_name 'arn:aws:iam::1:role/x' is an ARN"),
    (dict(cluster_id="-x"), "cluster_id '-x' is not a DB cluster identifier"),
    (dict(fail_on=["error"]), "value of fail_on must be one or more of: warn, fail"),
    (dict(cluster_id=CLUSTER, db_instance_id="orders-pg"), "mutually exclusive: cluster_id|db_instance_id"),
    (dict(db_instance_id="pg-"), "db_instance_id 'pg-' is not a DB instance identifier"),
    (dict(engine="mysql"), "value of engine must be one of: aurora-postgresql, postgres"),
])
def test_bad_input_fails_before_any_call(aws, args, expect):
    result = run(**args)
    assert result["failed"] and expect in result["msg"]


# --- RDS for PostgreSQL DB instances ---------------------------------------------------------------

DB = "orders-pg"


def db_instance(**extra):
    return dict(dict(DBInstanceIdentifier=DB, DBInstanceClass="db.m6g.large", Engine="postgres", EngineVersion="16.4",
                     Endpoint={"Address": "orders-pg.abc.us-east-1.rds.amazonaws.com", "Port": 5433},
                     DBSubnetGroup={"VpcId": VPC}, VpcSecurityGroups=[{"VpcSecurityGroupId": DB_SG}]), **extra)


@pytest.mark.parametrize("kerberos, ok", [(True, True), (False, False)])
def test_engine_postgres_checks_the_postgres_row_of_the_exact_version_and_class(aws, kerberos, ok):
    expect_checks(aws, engine="postgres", instance_class="db.m6g.large", kerberos=kerberos)
    params = dict(EXPLICIT)
    params["instance_class"] = "db.m6g.large"
    result = run(fail_on=[], engine="postgres", **params)
    assert result["ok"] is ok
    engine_support = result["findings"][0]
    assert engine_support["check"] == "engine_support"
    if not ok:
        assert engine_support["message"] == ("postgres 16.4 on db.m6g.large does not support Kerberos authentication "
                                             "in this Region.")


def test_the_db_instance_gives_what_is_checked(aws):
    aws["rds"].add_response("describe_db_instances", {"DBInstances": [db_instance()]}, {"DBInstanceIdentifier": DB})
    expect_checks(aws, engine="postgres", instance_class="db.m6g.large", ingress_port=5433)
    result = run(db_instance_id=DB, directory_id=ID, iam_role_name=ROLE)
    assert result["ok"] is True
    assert result["findings"][0]["message"].startswith("postgres 16.4 supports Kerberos authentication on db.m6g.large")


@pytest.mark.parametrize("engine, expect", [
    ("aurora-postgresql", "is a member of Aurora cluster orders, which holds the domain membership for all its "
                          "instances: give cluster_id orders instead of db_instance_id"),
    ("postgres", "belongs to Multi-AZ DB cluster orders: Multi-AZ DB clusters do not support Kerberos authentication"),
])
def test_an_instance_of_a_cluster_fails_with_the_reason(aws, engine, expect):
    member = db_instance(Engine=engine, DBClusterIdentifier=CLUSTER)
    aws["rds"].add_response("describe_db_instances", {"DBInstances": [member]}, {"DBInstanceIdentifier": DB})
    result = run(db_instance_id=DB, directory_id=ID, iam_role_name=ROLE)
    assert result["failed"] and expect in result["msg"]


def test_a_missing_db_instance_fails_naming_the_option(aws):
    aws["rds"].add_client_error("describe_db_instances", "DBInstanceNotFound", "not found", 404,
                                expected_params={"DBInstanceIdentifier": DB})
    result = run(db_instance_id=DB)
    assert result["failed"] and f"DB instance {DB} does not exist (db_instance_id)" in result["msg"]
