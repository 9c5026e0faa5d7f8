# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""rds_domain module_utils: validation, reads, the change and the waiters, with botocore's Stubber
checking every request against the RDS API model."""

import boto3
import botocore.waiter
import pytest
from botocore.stub import Stubber

from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain

CLUSTER = "orders"
ID = "d-1234567890"
FILTER = [{"Name": "db-cluster-id", "Values": [CLUSTER]}]
SESSION = boto3.session.Session()


@pytest.fixture
def rds(monkeypatch):
    client = SESSION.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(botocore.waiter.time, "sleep", lambda seconds: None)
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def membership(status, domain=ID):
    return {"Domain": domain, "Status": status, "FQDN": "corp.example.com", "IAMRoleName": "role"}


def cluster(*memberships):
    return {"DBClusterIdentifier": CLUSTER, "DomainMemberships": list(memberships)}


def instance(number, *memberships):
    return {"DBInstanceIdentifier": f"{CLUSTER}-{number}", "DomainMemberships": list(memberships)}


def clusters_answer(rds, *memberships):
    rds.stubber.add_response("describe_db_clusters", {"DBClusters": [cluster(*memberships)]},
                             {"DBClusterIdentifier": CLUSTER})


def instances_answer(rds, *instances):
    rds.stubber.add_response("describe_db_instances", {"DBInstances": list(instances)}, {"Filters": FILTER})


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, problem", [
    (dict(cluster_id="orders"), None),
    (dict(cluster_id="a"), None),
    (dict(cluster_id="Orders-2"), None),
    (dict(cluster_id="orders-"), "cluster_id 'orders-'"),
    (dict(cluster_id="or--ders"), "cluster_id 'or--ders'"),
    (dict(cluster_id="9orders"), "cluster_id '9orders'"),
    (dict(cluster_id="o" * 64), "not a DB cluster identifier"),
    (dict(cluster_id="orders_1"), "not a DB cluster identifier"),
    (dict(directory_id=ID), None),
    (dict(directory_id="d-12345"), "directory_id 'd-12345' is not a directory id"),
    (dict(directory_id="d-123456789g"), "use d- and 10 hex digits"),
    (dict(iam_role_name="rds-directory-access"), None),
    (dict(iam_role_name="with+=,.@_-chars"), None),
    (dict(iam_role_name="x" * 65), "is not an IAM role name"),
    (dict(iam_role_name="arn:aws:iam::123456789012:role/x"), "is an ARN: give the role's name"),
    (dict(wait_timeout=1), None),
    (dict(wait_timeout=0), "wait_timeout must be a positive number of seconds (got 0)"),
    (dict(wait_timeout=-1), "wait_timeout must be a positive number of seconds (got -1)"),
])
def test_input_problems(kwargs, problem):
    problems = rds_domain.input_problems(**kwargs)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_all_input_problems_are_reported_together():
    problems = rds_domain.input_problems("9x", "d-1", "a b", -1)
    assert [p.split(" ")[0] for p in problems] == ["cluster_id", "directory_id", "iam_role_name", "wait_timeout"]


# --- reads --------------------------------------------------------------------------------------

def test_get_cluster(rds):
    clusters_answer(rds, membership("kerberos-enabled"))
    assert rds_domain.get_cluster(rds, CLUSTER)["DomainMemberships"][0]["Status"] == "kerberos-enabled"


def test_get_cluster_knows_the_real_not_found_code(rds):
    rds.stubber.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "not found", 404,
                                 expected_params={"DBClusterIdentifier": CLUSTER})
    assert rds_domain.get_cluster(rds, CLUSTER) is None


def test_get_cluster_with_an_empty_answer(rds):
    rds.stubber.add_response("describe_db_clusters", {"DBClusters": []}, {"DBClusterIdentifier": CLUSTER})
    assert rds_domain.get_cluster(rds, CLUSTER) is None


def test_get_cluster_raises_other_errors(rds):
    rds.stubber.add_client_error("describe_db_clusters", "AccessDenied", "no", 403)
    with pytest.raises(rds_domain.AnsibleRDSDomainError, match="Failed to describe DB cluster"):
        rds_domain.get_cluster(rds, CLUSTER)


def test_get_cluster_instances_pages(rds):
    rds.stubber.add_response("describe_db_instances", {"DBInstances": [instance(1)], "Marker": "m"}, {"Filters": FILTER})
    rds.stubber.add_response("describe_db_instances", {"DBInstances": [instance(2)]}, {"Filters": FILTER, "Marker": "m"})
    assert [i["DBInstanceIdentifier"] for i in rds_domain.get_cluster_instances(rds, CLUSTER)] == ["orders-1", "orders-2"]


def test_get_subnet_group(rds):
    rds.stubber.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [{"DBSubnetGroupName": "g", "VpcId": "vpc-1"}]},
                             {"DBSubnetGroupName": "g"})
    rds.stubber.add_client_error("describe_db_subnet_groups", "DBSubnetGroupNotFoundFault", "gone", 404,
                                 expected_params={"DBSubnetGroupName": "h"})
    assert rds_domain.get_subnet_group(rds, "g")["VpcId"] == "vpc-1"
    assert rds_domain.get_subnet_group(rds, "h") is None


def test_describe_cluster_events(rds):
    rds.stubber.add_response("describe_events", {"Events": [{"Message": "joined"}]},
                             {"SourceIdentifier": CLUSTER, "SourceType": "db-cluster", "Duration": 90})
    assert rds_domain.describe_cluster_events(rds, CLUSTER, 90) == [{"Message": "joined"}]


@pytest.mark.parametrize("version, instance_class, params", [
    (None, None, {"Engine": "aurora-postgresql", "MaxRecords": 1000}),
    ("16.4", None, {"Engine": "aurora-postgresql", "EngineVersion": "16.4", "MaxRecords": 1000}),
    ("16.4", "db.r6g.large", {"Engine": "aurora-postgresql", "EngineVersion": "16.4", "DBInstanceClass": "db.r6g.large",
                              "MaxRecords": 1000}),
])
def test_describe_orderable_options(rds, version, instance_class, params):
    rds.stubber.add_response("describe_orderable_db_instance_options",
                             {"OrderableDBInstanceOptions": [{"SupportsKerberosAuthentication": True}]}, params)
    rows = rds_domain.describe_orderable_options(rds, "aurora-postgresql", version, instance_class)
    assert rows == [{"SupportsKerberosAuthentication": True}]


@pytest.mark.parametrize("rows, expected", [([{"Engine": "aurora-postgresql", "EngineVersion": "16.6"}], "16.6"), ([], None)])
def test_default_engine_version(rds, rows, expected):
    rds.stubber.add_response("describe_db_engine_versions", {"DBEngineVersions": rows},
                             {"Engine": "aurora-postgresql", "DefaultOnly": True})
    assert rds_domain.default_engine_version(rds, "aurora-postgresql") == expected


# --- reading memberships ------------------------------------------------------------------------

def test_active_membership_skips_removed_ones():
    resource = cluster(membership("removed", "d-0000000000"), membership("kerberos-enabled"))
    assert rds_domain.active_membership(resource)["Domain"] == ID
    assert rds_domain.active_membership(cluster(membership("removed"))) is None
    assert rds_domain.active_membership(None) is None
    assert rds_domain.active_membership({"DomainMemberships": None}) is None


def test_normalize_reports_each_instance_in_the_clusters_domain():
    resource = cluster(membership("kerberos-enabled"))
    result = rds_domain.normalize(resource, [instance(1, membership("kerberos-enabled")), instance(2)])
    assert result == dict(domain=ID, status="kerberos-enabled", fqdn="corp.example.com", iam_role_name="role", ou=None,
                          dns_ips=[], instances=[{"id": "orders-1", "status": "kerberos-enabled"},
                                                 {"id": "orders-2", "status": None}])
    assert rds_domain.normalize(cluster(), []) == {}
    assert rds_domain.diff_view(result) == {"domain": ID, "status": "kerberos-enabled", "iam_role_name": "role"}
    assert rds_domain.diff_view({}) == {}


def test_is_done_needs_the_cluster_and_every_instance():
    joined = membership("kerberos-enabled")
    assert rds_domain.is_done(cluster(joined), [instance(1, joined), instance(2, membership("joined"))], ID)
    assert not rds_domain.is_done(cluster(joined), [instance(1, joined), instance(2)], ID)
    assert not rds_domain.is_done(cluster(joined), [], "d-0000000000")


def test_failed_statuses_names_each_failed_resource():
    failed = membership("enable-kerberos-failed")
    assert rds_domain.failed_statuses(cluster(failed), [instance(1, membership("failed")), instance(2)], ID) == {
        "orders": "enable-kerberos-failed", "orders-1": "failed"}
    assert rds_domain.failed_statuses(cluster(membership("kerberos-enabled")), [], ID) == {}


# --- the change ---------------------------------------------------------------------------------

def test_modify_domain_joins_with_the_role(rds):
    rds.stubber.add_response("modify_db_cluster", {"DBCluster": {}}, {
        "DBClusterIdentifier": CLUSTER, "Domain": ID, "DomainIAMRoleName": "role", "ApplyImmediately": True})
    assert rds_domain.modify_domain(rds, CLUSTER, ID, "role") is True


def test_modify_domain_leaves_without_a_role(rds):
    rds.stubber.add_response("modify_db_cluster", {"DBCluster": {}}, {
        "DBClusterIdentifier": CLUSTER, "Domain": "none", "ApplyImmediately": True})
    assert rds_domain.modify_domain(rds, CLUSTER, "none", "ignored") is True


def test_modify_domain_raises_a_refusal(rds):
    rds.stubber.add_client_error("modify_db_cluster", "DomainNotFoundFault", "Domain d-1234567890 not found.", 404)
    with pytest.raises(rds_domain.AnsibleRDSDomainError, match="Failed to modify the DB cluster's domain membership"):
        rds_domain.modify_domain(rds, CLUSTER, ID, "role")


# --- waiters ------------------------------------------------------------------------------------

def test_the_waiter_factory_refuses_what_is_not_a_directory_id():
    with pytest.raises(ValueError):
        rds_domain.DomainWaiterFactory("d-1' || '")


def test_wait_for_join_waits_for_the_cluster_then_the_instances(rds):
    clusters_answer(rds, membership("pending-enable-kerberos"))
    clusters_answer(rds, membership("removed", "d-0000000000"), membership("kerberos-enabled"))
    instances_answer(rds, instance(1, membership("kerberos-enabled")), instance(2, membership("enabling-kerberos")))
    instances_answer(rds, instance(1, membership("kerberos-enabled")), instance(2, membership("kerberos-enabled")))
    assert rds_domain.wait_for_join(rds, CLUSTER, ID, 600) == rds_domain.DONE


def test_wait_for_join_on_a_cluster_without_instances(rds):
    clusters_answer(rds, membership("joined"))
    instances_answer(rds)
    assert rds_domain.wait_for_join(rds, CLUSTER, ID, 600) == rds_domain.DONE


def test_wait_for_join_ignores_another_domains_status(rds):
    clusters_answer(rds, membership("kerberos-enabled", "d-0000000000"))
    clusters_answer(rds, membership("kerberos-enabled"))
    instances_answer(rds, instance(1, membership("kerberos-enabled")))
    assert rds_domain.wait_for_join(rds, CLUSTER, ID, 600) == rds_domain.DONE


@pytest.mark.parametrize("status", ["enable-kerberos-failed", "failed"])
def test_wait_for_join_stops_on_a_failed_cluster(rds, status):
    clusters_answer(rds, membership(status))
    assert rds_domain.wait_for_join(rds, CLUSTER, ID, 600) == rds_domain.FAILED


def test_wait_for_join_stops_on_a_failed_instance(rds):
    clusters_answer(rds, membership("kerberos-enabled"))
    instances_answer(rds, instance(1, membership("enable-kerberos-failed")))
    assert rds_domain.wait_for_join(rds, CLUSTER, ID, 600) == rds_domain.FAILED


def test_wait_for_join_times_out(rds):
    for dummy in range(3):
        clusters_answer(rds, membership("enabling-kerberos"))
    assert rds_domain.wait_for_join(rds, CLUSTER, ID, 2) == rds_domain.TIMED_OUT


def test_wait_for_join_retries_throttling(rds):
    rds.stubber.add_client_error("describe_db_clusters", "Throttling", "slow down", 400)
    clusters_answer(rds, membership("kerberos-enabled"))
    instances_answer(rds)
    assert rds_domain.wait_for_join(rds, CLUSTER, ID, 600) == rds_domain.DONE


def test_wait_for_join_raises_an_unexpected_error(rds):
    rds.stubber.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "deleted meanwhile", 404)
    with pytest.raises(rds_domain.AnsibleRDSDomainError, match="waiting for the domain membership of orders"):
        rds_domain.wait_for_join(rds, CLUSTER, ID, 600)


def test_wait_for_leave(rds):
    clusters_answer(rds, membership("disabling-kerberos"))
    clusters_answer(rds, membership("removed"))
    instances_answer(rds, instance(1, membership("disabling-kerberos")))
    instances_answer(rds, instance(1))
    assert rds_domain.wait_for_leave(rds, CLUSTER, 600) == rds_domain.DONE


def test_wait_for_retry_accepted(rds):
    clusters_answer(rds, membership("enable-kerberos-failed"))
    clusters_answer(rds, membership("pending-enable-kerberos"))
    assert rds_domain.wait_for_retry_accepted(rds, CLUSTER, ID) == rds_domain.DONE


def test_wait_for_retry_accepted_gives_up_quietly(rds):
    for dummy in range(3):
        clusters_answer(rds, membership("enable-kerberos-failed"))
    assert rds_domain.wait_for_retry_accepted(rds, CLUSTER, ID, timeout=2) == rds_domain.TIMED_OUT
