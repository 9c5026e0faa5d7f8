# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.cluster_info with botocore's Stubber: one call, its tags from TagList, rds_cluster_info's keys."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import cluster_info as module_under_test


@pytest.fixture
def rds(monkeypatch):
    stubbers = stubbed(monkeypatch, "rds")
    yield stubbers["rds"]
    assert_all_used(stubbers)


def run(**args):
    return run_module(module_under_test.main, **args)


def test_a_cluster_is_read_once_with_its_tags(rds):
    rds.add_response("describe_db_clusters", {"DBClusters": [{
        "DBClusterIdentifier": "orders", "Status": "available", "Port": 5432, "DBClusterParameterGroup": "orders-params",
        "DomainMemberships": [{"Domain": "d-1234567890", "Status": "kerberos-enabled", "IAMRoleName": "rds-ds"}],
        "TagList": [{"Key": "aurora.kerberos:chain", "Value": "c1"}]}]}, {"DBClusterIdentifier": "orders"})
    result = run(cluster_id="orders")  # no list_tags_for_resource is stubbed: a second call fails the test
    assert not result["failed"] and result["changed"] is False
    cluster = result["cluster"]
    assert cluster["tags"] == {"aurora.kerberos:chain": "c1"} and "tag_list" not in cluster
    assert cluster["db_cluster_parameter_group"] == "orders-params" and cluster["port"] == 5432
    assert cluster["domain_memberships"] == [{"domain": "d-1234567890", "status": "kerberos-enabled",
                                              "iam_role_name": "rds-ds"}]


def test_a_missing_cluster_is_an_empty_dict(rds):
    rds.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "DBCluster orders not found.", 404,
                         expected_params={"DBClusterIdentifier": "orders"})
    result = run(cluster_id="orders")
    assert not result["failed"] and result["cluster"] == {}


def test_a_db_instance_with_kind_instance(rds):
    rds.add_response("describe_db_instances", {"DBInstances": [{
        "DBInstanceIdentifier": "orders-pg", "Engine": "postgres", "Endpoint": {"Address": "orders-pg.x", "Port": 5432}}]},
        {"DBInstanceIdentifier": "orders-pg"})
    result = run(cluster_id="orders-pg", kind="instance")
    assert result["cluster"]["endpoint"] == {"address": "orders-pg.x", "port": 5432} and result["cluster"]["tags"] == {}


def test_a_read_that_is_denied_fails_with_aws_words(rds):
    rds.add_client_error("describe_db_clusters", "AccessDenied", "not authorized to perform: rds:DescribeDBClusters",
                         403, expected_params={"DBClusterIdentifier": "orders"})
    result = run(cluster_id="orders")
    assert result["failed"] and "rds:DescribeDBClusters" in result["msg"]


def test_a_bad_identifier_is_refused_before_any_call(rds):
    result = run(cluster_id="Orders_1")
    assert result["failed"] and "cluster_id must be lower-case letters" in result["msg"]


def missing(rds):
    rds.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "DBCluster orders not found.", 404,
                         expected_params={"DBClusterIdentifier": "orders"})


def orderable(rds, kerberos):
    rds.add_response("describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": [
        {"Engine": "aurora-postgresql", "EngineVersion": "16.6", "DBInstanceClass": "db.r6g.large",
         "SupportsKerberosAuthentication": kerberos}]},
        {"Engine": "aurora-postgresql", "EngineVersion": "16.6", "DBInstanceClass": "db.r6g.large", "MaxRecords": 1000})


WANTED = {"engine_version": "16.6", "instance_class": "db.r6g.large"}


def test_engine_support_of_a_missing_cluster_is_checked_in_the_same_module(rds):
    missing(rds)
    orderable(rds, kerberos=True)
    result = run(cluster_id="orders", engine_support=WANTED)
    assert not result["failed"] and result["cluster"] == {}
    assert result["engine_support"]["status"] == "ok" and "16.6" in result["engine_support"]["message"]


def test_engine_support_without_kerberos_is_a_fail_finding_not_a_module_failure(rds):
    missing(rds)
    orderable(rds, kerberos=False)
    result = run(cluster_id="orders", engine_support=WANTED)
    assert not result["failed"] and result["engine_support"]["status"] == "fail"
    assert "does not support Kerberos authentication" in result["engine_support"]["message"]


def test_an_existing_cluster_is_not_checked_against_engine_support(rds):
    rds.add_response("describe_db_clusters", {"DBClusters": [{"DBClusterIdentifier": "orders", "Status": "available"}]},
                     {"DBClusterIdentifier": "orders"})
    result = run(cluster_id="orders", engine_support=WANTED)  # no orderable call is stubbed: one would fail the test
    assert result["cluster"]["db_cluster_identifier"] == "orders" and result["engine_support"] is None


def test_an_unreadable_orderable_answer_warns(rds):
    missing(rds)
    rds.add_client_error("describe_orderable_db_instance_options", "AccessDenied",
                         "not authorized to perform: rds:DescribeOrderableDBInstanceOptions", 403)
    result = run(cluster_id="orders", engine_support=WANTED)
    assert not result["failed"] and result["engine_support"]["status"] == "warn"
    assert "Not checked" in result["engine_support"]["message"]
