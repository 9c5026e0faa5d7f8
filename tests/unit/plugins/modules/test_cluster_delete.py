# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.cluster_delete with botocore's Stubber: every request is checked against the RDS model, and a
call the test did not expect fails it (so "no write before the refusal" is proved by the absence of a stub)."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import cluster_delete as module_under_test

CLUSTER = "orders"
SNAPSHOT = "orders-final"
FILTER = [{"Name": "db-cluster-id", "Values": [CLUSTER]}]


@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "rds")
    yield stubbers["rds"]
    assert_all_used(stubbers)


def run(check_mode=False, **args):
    return run_module(module_under_test.main, check_mode, **dict({"cluster_id": CLUSTER}, **args))


def expect_cluster(rds, protected=False, status="available", members=(("orders-1", True), ("orders-2", False))):
    cluster = dict(DBClusterIdentifier=CLUSTER, Status=status, DeletionProtection=protected,
                   DBClusterMembers=[{"DBInstanceIdentifier": i, "IsClusterWriter": w} for i, w in members])
    rds.add_response("describe_db_clusters", {"DBClusters": [cluster]}, {"DBClusterIdentifier": CLUSTER})


def expect_no_cluster(rds):
    rds.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "DBCluster orders not found.",
                         http_status_code=404, expected_params={"DBClusterIdentifier": CLUSTER})


def expect_snapshot(rds, exists):
    if exists:
        rds.add_response("describe_db_cluster_snapshots", {"DBClusterSnapshots": [{"DBClusterSnapshotIdentifier": SNAPSHOT}]},
                         {"DBClusterSnapshotIdentifier": SNAPSHOT})
    else:
        rds.add_client_error("describe_db_cluster_snapshots", "DBClusterSnapshotNotFoundFault", "not found",
                             http_status_code=404, expected_params={"DBClusterSnapshotIdentifier": SNAPSHOT})


def expect_deletion(rds, final_snapshot=SNAPSHOT, instances=("orders-2", "orders-1")):
    rds.add_response("describe_db_instances", {"DBInstances": [
        {"DBInstanceIdentifier": i, "DBInstanceStatus": "available"} for i in instances]}, {"Filters": FILTER})
    for instance in instances:
        rds.add_response("delete_db_instance", {"DBInstance": {"DBInstanceIdentifier": instance}},
                         {"DBInstanceIdentifier": instance, "SkipFinalSnapshot": True})
    params = {"DBClusterIdentifier": CLUSTER, "SkipFinalSnapshot": final_snapshot is None}
    if final_snapshot:
        params["FinalDBSnapshotIdentifier"] = final_snapshot
    rds.add_response("delete_db_cluster", {"DBCluster": {"DBClusterIdentifier": CLUSTER}}, params)
    rds.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "gone", http_status_code=404,
                         expected_params={"DBClusterIdentifier": CLUSTER})


def test_a_protected_cluster_is_refused_before_any_write(aws):
    expect_cluster(aws, protected=True)
    result = run(final_snapshot_identifier=SNAPSHOT)
    assert result["failed"] and "has deletion protection" in result["msg"]
    assert "disable_deletion_protection=true" in result["msg"] and "--no-deletion-protection" in result["msg"]
    assert result["deleted_instances"] == []


def test_a_taken_snapshot_name_is_refused_before_any_write(aws):
    expect_cluster(aws)
    expect_snapshot(aws, exists=True)
    result = run(final_snapshot_identifier=SNAPSHOT)
    assert result["failed"] and f"{SNAPSHOT} already exists" in result["msg"]


def test_readers_then_writer_then_the_cluster_with_its_final_snapshot(aws):
    expect_cluster(aws)
    expect_snapshot(aws, exists=False)
    expect_deletion(aws)
    result = run(final_snapshot_identifier=SNAPSHOT)
    assert not result["failed"] and result["changed"]
    assert result["deleted_instances"] == ["orders-2", "orders-1"]
    assert result["final_snapshot_identifier"] == SNAPSHOT


def test_protection_is_turned_off_first_when_asked(aws):
    expect_cluster(aws, protected=True, members=(("orders-1", True),))
    aws.add_response("modify_db_cluster", {"DBCluster": {"DBClusterIdentifier": CLUSTER}},
                     {"DBClusterIdentifier": CLUSTER, "DeletionProtection": False, "ApplyImmediately": True})
    expect_deletion(aws, final_snapshot=None, instances=("orders-1",))
    result = run(skip_final_snapshot=True, disable_deletion_protection=True)
    assert result["changed"] and result["deletion_protection_disabled"]
    assert result["final_snapshot_identifier"] is None


def test_check_mode_predicts_and_writes_nothing(aws):
    expect_cluster(aws, protected=True)
    expect_snapshot(aws, exists=False)
    result = run(check_mode=True, final_snapshot_identifier=SNAPSHOT, disable_deletion_protection=True)
    assert result["changed"] and result["deleted_instances"] == ["orders-2", "orders-1"]
    assert result["deletion_protection_disabled"]


def test_a_missing_cluster_is_no_change(aws):
    expect_no_cluster(aws)
    result = run(final_snapshot_identifier=SNAPSHOT)
    assert not result["failed"] and not result["changed"]


@pytest.mark.parametrize("args, words", [
    ({}, "final_snapshot_identifier is required"),
    ({"final_snapshot_identifier": SNAPSHOT, "skip_final_snapshot": True}, "exclude each other"),
    ({"final_snapshot_identifier": "orders--final"}, "not a DB cluster snapshot identifier"),
])
def test_bad_input_is_refused_before_any_call(aws, args, words):
    result = run(**args)
    assert result["failed"] and words in result["msg"]
