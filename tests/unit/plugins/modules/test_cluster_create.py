# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.cluster_create with botocore's Stubber (which refuses any call not stubbed): the cluster and its
missing instances in one module, nothing existing modified, ManageMasterUserPassword, the InvalidDBClusterStateFault
retry, and every refusal before the first write."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import cluster_create as module_under_test

NEW = {"cluster_id": "orders", "engine_version": "16.6", "master_username": "postgres", "master_user_password": "S3cret-pass",
       "db_subnet_group_name": "orders-db", "vpc_security_group_ids": ["sg-0123456789abcdef0"], "port": 5432,
       "db_cluster_parameter_group_name": "orders-params", "tags": {"aurora.kerberos:chain": "c1"},
       "instance_class": "db.r6g.large", "instance_count": 2, "poll_interval": 5, "wait_timeout": 60}


@pytest.fixture
def rds(monkeypatch):
    stubbers = stubbed(monkeypatch, "rds")
    monkeypatch.setattr(module_under_test.time, "sleep", lambda seconds: None)
    yield stubbers["rds"]
    assert_all_used(stubbers)


def run(check_mode=False, **args):
    return run_module(module_under_test.main, check_mode, **args)


def expect_cluster_created(rds, **extra):
    params = dict({"DBClusterIdentifier": "orders", "Engine": "aurora-postgresql", "MasterUsername": "postgres",
                   "MasterUserPassword": "S3cret-pass", "StorageEncrypted": True, "DeletionProtection": False,
                   "CopyTagsToSnapshot": True, "Tags": [{"Key": "aurora.kerberos:chain", "Value": "c1"}],
                   "EngineVersion": "16.6", "DBSubnetGroupName": "orders-db",
                   "VpcSecurityGroupIds": ["sg-0123456789abcdef0"], "Port": 5432,
                   "DBClusterParameterGroupName": "orders-params"}, **extra)
    params = {k: v for k, v in params.items() if v is not None}
    rds.add_response("create_db_cluster", {"DBCluster": {"DBClusterIdentifier": "orders", "Status": "creating"}}, params)


def expect_instance(rds, name):
    rds.add_response("create_db_instance", {"DBInstance": {"DBInstanceIdentifier": name}}, {
        "DBInstanceIdentifier": name, "DBClusterIdentifier": "orders", "Engine": "aurora-postgresql",
        "DBInstanceClass": "db.r6g.large", "PubliclyAccessible": False, "Tags": []})


def test_a_new_cluster_and_its_instances_in_one_module_from_the_read_given(rds):
    expect_cluster_created(rds)
    expect_instance(rds, "orders-1")
    expect_instance(rds, "orders-2")
    result = run(cluster={}, **NEW)  # the read given: no DescribeDBClusters is stubbed
    assert not result["failed"] and result["changed"]
    assert result["cluster_created"] and result["instances_created"] == ["orders-1", "orders-2"]
    assert result["diff"] == {"before": {"cluster": None, "instances": []},
                              "after": {"cluster": "orders", "instances": ["orders-1", "orders-2"]}}
    assert "S3cret-pass" not in repr(result)


def test_an_existing_cluster_gets_only_its_missing_instances_counted_not_named(rds):
    cluster = {"db_cluster_identifier": "orders", "db_cluster_members": [{"db_instance_identifier": "orders-2"}]}
    expect_instance(rds, "orders-1")  # one missing of two; orders-2 is taken, orders-1 is the lowest free
    result = run(cluster=cluster, **NEW)  # no create_db_cluster stubbed: a modification would fail the test
    assert result["changed"] and not result["cluster_created"] and result["instances_created"] == ["orders-1"]


def test_a_converged_cluster_changes_nothing_and_reads_when_not_given(rds):
    rds.add_response("describe_db_clusters", {"DBClusters": [{"DBClusterIdentifier": "orders", "DBClusterMembers": [
        {"DBInstanceIdentifier": "orders-a"}, {"DBInstanceIdentifier": "orders-b"}]}]}, {"DBClusterIdentifier": "orders"})
    result = run(**NEW)
    assert not result["failed"] and not result["changed"] and result["instances_created"] == []


def test_check_mode_predicts_and_writes_nothing(rds):
    result = run(check_mode=True, cluster={}, **NEW)
    assert result["changed"] and result["cluster_created"] and result["instances_created"] == ["orders-1", "orders-2"]


def test_manage_master_user_password_sends_it_instead_of_a_password(rds):
    expect_cluster_created(rds, MasterUserPassword=None, ManageMasterUserPassword=True)
    expect_instance(rds, "orders-1")
    args = {**NEW, "master_user_password": None, "manage_master_user_password": True, "instance_count": 1}
    result = run(cluster={}, **args)
    assert not result["failed"] and result["cluster_created"]


def test_an_instance_the_creating_cluster_cannot_take_yet_is_retried(rds):
    expect_cluster_created(rds)
    rds.add_client_error("create_db_instance", "InvalidDBClusterStateFault",
                         "DB cluster orders is not in a valid state: creating", 400)
    expect_instance(rds, "orders-1")
    expect_instance(rds, "orders-2")
    result = run(cluster={}, **NEW)
    assert not result["failed"] and result["instances_created"] == ["orders-1", "orders-2"]


def test_an_instance_that_fails_says_the_cluster_was_created_and_what_was_made(rds):
    expect_cluster_created(rds)
    expect_instance(rds, "orders-1")
    rds.add_client_error("create_db_instance", "InstanceQuotaExceeded", "DB instance quota exceeded", 400)
    result = run(cluster={}, **NEW)
    assert result["failed"] and "orders-2" in result["msg"] and "DB instance quota exceeded" in result["msg"]
    assert "the cluster was created" in result["msg"] and result["instances_created"] == ["orders-1"]


def test_a_cluster_someone_else_created_since_the_read_is_refused_not_modified(rds):
    rds.add_client_error("create_db_cluster", "DBClusterAlreadyExistsFault", "DB Cluster already exists", 400)
    result = run(cluster={}, **NEW)
    assert result["failed"] and "created by someone else" in result["msg"] and "nothing was created" in result["msg"]


@pytest.mark.parametrize("change, words", [
    ({"master_user_password": None}, "master_user_password or manage_master_user_password=true"),
    ({"manage_master_user_password": True}, "not both"),
    ({"master_username": None}, "master_username is required"),
    ({"instance_class": None}, "instance_class is required to create orders-1, orders-2"),
    ({"instance_count": 0}, "instance_count must be at least 1"),
    ({"cluster_id": "Orders_1"}, "cluster_id 'Orders_1' is not a DB cluster identifier"),
])
def test_bad_input_is_refused_before_any_write(rds, change, words):
    result = run(cluster={}, **dict(NEW, **change))  # nothing stubbed: any call would fail the test
    assert result["failed"] and "Refused before any change" in result["msg"] and words in result["msg"]
    assert "S3cret-pass" not in result["msg"]


PRELOAD_ROW = {"ParameterName": "shared_preload_libraries", "ParameterValue": "pg_stat_statements", "ApplyType": "static",
               "AllowedValues": "pg_ad_mapping,pg_stat_statements", "IsModifiable": True, "Source": "engine-default"}
GROUP = {"preload_libraries": ["pg_ad_mapping"], "tags_on_create": {"aurora.kerberos:chain": "c1"}}
WITH_GROUP = dict({k: v for k, v in NEW.items() if k != "db_cluster_parameter_group_name"}, parameter_group=GROUP)


def test_a_new_cluster_gets_its_parameter_group_made_first_and_named_in_the_create(rds):
    rds.add_client_error("describe_db_cluster_parameter_groups", "DBParameterGroupNotFound", http_status_code=404,
                         expected_params={"DBClusterParameterGroupName": "orders-params"})
    rds.add_response("create_db_cluster_parameter_group", {"DBClusterParameterGroup": {
        "DBClusterParameterGroupName": "orders-params", "DBParameterGroupFamily": "aurora-postgresql16"}},
        {"DBClusterParameterGroupName": "orders-params", "DBParameterGroupFamily": "aurora-postgresql16",
         "Description": "aurora.kerberos: orders (aurora-postgresql16)", "Tags": [{"Key": "aurora.kerberos:chain", "Value": "c1"}]})
    rds.add_response("describe_db_cluster_parameters", {"Parameters": [PRELOAD_ROW]},
                     {"DBClusterParameterGroupName": "orders-params"})
    rds.add_response("modify_db_cluster_parameter_group", {"DBClusterParameterGroupName": "orders-params"}, {
        "DBClusterParameterGroupName": "orders-params", "Parameters": [{
            "ParameterName": "shared_preload_libraries", "ParameterValue": "pg_stat_statements,pg_ad_mapping",
            "ApplyMethod": "pending-reboot"}]})
    expect_cluster_created(rds, DBClusterParameterGroupName="orders-params")
    expect_instance(rds, "orders-1")
    args = dict(WITH_GROUP, instance_count=1)
    result = run(cluster={}, **args)  # one module: the group, the cluster that names it, its instance
    assert not result["failed"] and result["cluster_created"] and result["instances_created"] == ["orders-1"]
    assert result["parameter_group"]["parameter_group"] == {"name": "orders-params", "family": "aurora-postgresql16",
                                                            "created": True}
    assert result["diff"]["after"]["parameter_group"] == "orders-params"


def test_an_existing_cluster_ignores_parameter_group(rds):
    cluster = {"db_cluster_identifier": "orders", "db_cluster_members": [{"db_instance_identifier": "orders-1"}]}
    args = dict(WITH_GROUP, instance_count=1)
    result = run(cluster=cluster, **args)  # nothing stubbed: no call at all
    assert not result["changed"] and result["parameter_group"] is None


def test_check_mode_predicts_the_group_and_the_cluster_and_writes_nothing(rds):
    rds.add_client_error("describe_db_cluster_parameter_groups", "DBParameterGroupNotFound", http_status_code=404,
                         expected_params={"DBClusterParameterGroupName": "orders-params"})
    args = dict(WITH_GROUP)
    result = run(check_mode=True, cluster={}, **args)
    assert result["changed"] and result["parameter_group"]["parameter_group"]["created"]
    assert result["parameter_group"]["changes"][0]["ParameterValue"] == "pg_ad_mapping"


def test_a_parameter_group_and_a_group_name_together_are_refused(rds):
    result = run(cluster={}, **dict(NEW, parameter_group=GROUP))
    assert result["failed"] and "mutually exclusive" in result["msg"]


# --- preflight: kerberos_preflight's checks in the same module process, before the first write ------------------------

from test_kerberos_preflight import DB_SG, ID, ROLE, VPC, expect_checks  # noqa: E402  (one set of preflight stubs)

WITH_PREFLIGHT = {**NEW, "vpc_security_group_ids": [DB_SG], "instance_count": 1,
                  "preflight": {"directory_id": ID, "iam_role_name": ROLE}}


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "rds", "ds", "iam", "sts", "ec2")
    monkeypatch.setattr(module_under_test.time, "sleep", lambda seconds: None)
    yield stubbers
    assert_all_used(stubbers)


def expect_subnet_group(rds, vpc_id=VPC):
    rds.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [{"DBSubnetGroupName": "orders-db", "VpcId": vpc_id}]},
                     {"DBSubnetGroupName": "orders-db"})


def test_a_new_cluster_is_preflighted_first_on_what_it_will_be(aws):
    expect_subnet_group(aws["rds"])  # the VPC checks read the new cluster's VPC from its subnet group
    expect_checks(aws, version="16.6")
    expect_cluster_created(aws["rds"], VpcSecurityGroupIds=[DB_SG])
    expect_instance(aws["rds"], "orders-1")
    result = run(cluster={}, **WITH_PREFLIGHT)
    assert not result["failed"] and result["cluster_created"] and result["preflight"]["ok"]
    statuses = {f["check"]: f["status"] for f in result["preflight"]["findings"]}
    assert len(statuses) == 9 and set(statuses.values()) == {"ok"}, result["preflight"]["findings"]


def test_a_failing_preflight_stops_before_anything_is_written(aws):
    expect_subnet_group(aws["rds"])
    expect_checks(aws, version="16.6", kerberos=False)  # no create stubbed: a write would fail the test
    result = run(cluster={}, **{**WITH_GROUP, "vpc_security_group_ids": [DB_SG], "preflight": WITH_PREFLIGHT["preflight"]})
    assert result["failed"] and not result["changed"] and "Nothing was created" in result["msg"]
    assert "[engine_support]" in result["msg"] and result["parameter_group"] is None
    assert [f["check"] for f in result["preflight"]["findings"] if f["status"] == "fail"] == ["engine_support"]
    assert "S3cret-pass" not in repr(result)


def test_check_mode_with_fail_on_empty_reports_the_failing_check_and_writes_nothing(aws):
    expect_subnet_group(aws["rds"])
    expect_checks(aws, version="16.6", kerberos=False)
    preflight = dict(WITH_PREFLIGHT["preflight"], fail_on=[])
    result = run(check_mode=True, cluster={}, **{**WITH_PREFLIGHT, "preflight": preflight})
    assert not result["failed"] and result["cluster_created"] and result["preflight"]["ok"] is False


def test_an_existing_cluster_is_preflighted_as_it_is_with_the_new_instances_class(aws):
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [{
        "DBClusterIdentifier": "orders", "Engine": "aurora-postgresql", "EngineVersion": "16.6", "Port": 5432,
        "VpcSecurityGroups": [{"VpcSecurityGroupId": DB_SG}]}]}, {"DBClusterIdentifier": "orders"})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": [{
        "DBInstanceIdentifier": "orders-2", "DBInstanceClass": "db.r6g.large", "DBSubnetGroup": {"VpcId": VPC}}]},
        {"Filters": [{"Name": "db-cluster-id", "Values": ["orders"]}]})
    expect_checks(aws, version="16.6")
    expect_instance(aws["rds"], "orders-1")
    cluster = {"db_cluster_identifier": "orders", "db_cluster_members": [{"db_instance_identifier": "orders-2"}]}
    result = run(cluster=cluster, **{**WITH_PREFLIGHT, "instance_count": 2})
    assert not result["failed"] and not result["cluster_created"] and result["instances_created"] == ["orders-1"]
    assert result["preflight"]["ok"]


def test_a_preflight_directory_id_that_is_not_one_is_refused_before_any_call(aws):
    result = run(cluster={}, **{**WITH_PREFLIGHT, "preflight": {"directory_id": "corp", "iam_role_name": ROLE}})
    assert result["failed"] and "Refused before any change" in result["msg"] and "directory_id" in result["msg"]
