# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.cluster_parameter_group against a stubbed RDS (every request checked against the model):
the group found or created for the family, libraries added after the ones listed, the group attached, the
pending-reboot instances rebooted writer first, check mode, and AWS's pre-April-2025 trap."""

import datetime

import pytest

from aws_stubs import assert_all_used, capture_warnings, run, stubbed

from ansible_collections.aurora.kerberos.plugins.module_utils import cluster_params as cp
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.modules import cluster_parameter_group

GROUP = "orders-params"
FAMILY = "aurora-postgresql16"
PRELOAD_ROW = {"ParameterName": "shared_preload_libraries", "ParameterValue": "pg_stat_statements", "ApplyType": "static",
               "AllowedValues": "pg_ad_mapping,pg_stat_statements,pgaudit", "IsModifiable": True, "Source": "engine-default"}
CASEINS_ROW = {"ParameterName": "krb_caseins_users", "ParameterValue": "0", "ApplyType": "dynamic", "AllowedValues": "0,1",
               "IsModifiable": True, "Source": "engine-default"}
OLD = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)
NEW = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)


def cluster(group=GROUP, status="in-sync", created=NEW, kerberos=False, members=("orders-1",)):
    return {"DBClusterIdentifier": "orders", "EngineVersion": "16.6", "DBClusterParameterGroup": group, "Status": "available",
            "ClusterCreateTime": created,
            "DomainMemberships": [{"Domain": "d-1234567890", "Status": "kerberos-enabled"}] if kerberos else [],
            "DBClusterMembers": [{"DBInstanceIdentifier": m, "IsClusterWriter": i == 0, "DBClusterParameterGroupStatus": status}
                                 for i, m in enumerate(members)]}


def group_row(name=GROUP, family=FAMILY):
    return {"DBClusterParameterGroupName": name, "DBParameterGroupFamily": family, "Description": "x"}


def expect_cluster(stub, answer):
    if answer is None:
        stub.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", http_status_code=404,
                              expected_params={"DBClusterIdentifier": "orders"})
    else:
        stub.add_response("describe_db_clusters", {"DBClusters": [answer]}, {"DBClusterIdentifier": "orders"})


def expect_group(stub, found, name=GROUP, family=FAMILY):
    if found:
        stub.add_response("describe_db_cluster_parameter_groups", {"DBClusterParameterGroups": [group_row(name, family)]},
                          {"DBClusterParameterGroupName": name})
    else:
        stub.add_client_error("describe_db_cluster_parameter_groups", "DBParameterGroupNotFound", http_status_code=404,
                              expected_params={"DBClusterParameterGroupName": name})


def expect_rows(stub, rows, name=GROUP):
    stub.add_response("describe_db_cluster_parameters", {"Parameters": rows}, {"DBClusterParameterGroupName": name})


def expect_available(stub, answer):
    stub.add_response("describe_db_clusters", {"DBClusters": [answer]}, {"DBClusterIdentifier": "orders"})
    stub.add_response("describe_db_instances", {"DBInstances": [
        {"DBInstanceIdentifier": m["DBInstanceIdentifier"], "DBInstanceStatus": "available"} for m in answer["DBClusterMembers"]]},
        {"Filters": [{"Name": "db-cluster-id", "Values": ["orders"]}]})


PRELOAD_CHANGE = {"ParameterName": "shared_preload_libraries", "ParameterValue": "pg_stat_statements,pg_ad_mapping",
                  "ApplyMethod": "pending-reboot"}


def test_plan_appends_libraries_keeps_the_listed_ones_and_picks_the_apply_method():
    changes, problems = cp.plan_parameters([PRELOAD_ROW, CASEINS_ROW], ["pg_ad_mapping"], {"krb_caseins_users": "1"})
    assert problems == []
    assert changes == [PRELOAD_CHANGE,
                       {"ParameterName": "krb_caseins_users", "ParameterValue": "1", "ApplyMethod": "immediate"}]
    done = dict(PRELOAD_ROW, ParameterValue="pg_stat_statements, pg_ad_mapping")
    assert cp.plan_parameters([done, CASEINS_ROW], ["pg_ad_mapping"], {"krb_caseins_users": "0"}) == ([], [])


def test_plan_names_what_cannot_be_set():
    changes, problems = cp.plan_parameters([PRELOAD_ROW], ["pg_cron"], {"no_such": "1"})
    assert changes == []
    assert "cannot hold pg_cron" in problems[0] and "no parameter no_such" in problems[1]


@pytest.mark.parametrize("created, kerberos, advised", [(OLD, True, True), (NEW, True, False), (OLD, False, False)])
def test_the_trap_is_kerberos_on_a_cluster_created_before_april_2025(created, kerberos, advised):
    assert cp.rejoin_advised(cluster(created=created, kerberos=kerberos)) is advised


def test_a_cluster_on_the_default_group_gets_a_new_group_attached_and_its_writer_rebooted(monkeypatch):
    rds = stubbed(monkeypatch, "rds")["rds"]
    before = cluster(group="default.aurora-postgresql16", members=("orders-1", "orders-2"))
    expect_cluster(rds, before)
    expect_group(rds, False, name="orders-params")
    rds.add_response("create_db_cluster_parameter_group", {"DBClusterParameterGroup": group_row("orders-params")},
                     {"DBClusterParameterGroupName": "orders-params", "DBParameterGroupFamily": FAMILY,
                      "Description": "aurora.kerberos: orders (aurora-postgresql16)"})
    expect_rows(rds, [PRELOAD_ROW], name="orders-params")
    rds.add_response("modify_db_cluster_parameter_group", {"DBClusterParameterGroupName": "orders-params"},
                     {"DBClusterParameterGroupName": "orders-params", "Parameters": [PRELOAD_CHANGE]})
    expect_available(rds, before)
    rds.add_response("modify_db_cluster", {"DBCluster": before},
                     {"DBClusterIdentifier": "orders", "DBClusterParameterGroupName": "orders-params", "ApplyImmediately": True})
    pending = cluster(group="orders-params", status="pending-reboot", members=("orders-1", "orders-2"))
    expect_cluster(rds, pending)
    for instance in ("orders-1", "orders-2"):  # the writer first
        expect_available(rds, pending)
        rds.add_response("reboot_db_instance", {"DBInstance": {"DBInstanceIdentifier": instance}},
                         {"DBInstanceIdentifier": instance})
    expect_available(rds, cluster(group="orders-params", members=("orders-1", "orders-2")))
    result = run(cluster_parameter_group.main, cluster_id="orders", preload_libraries=["pg_ad_mapping"], poll_interval=1)
    assert_all_used({"rds": rds})
    assert result["changed"] and result["parameter_group"] == {"name": "orders-params", "family": FAMILY, "created": True}
    assert result["attached"] and result["rebooted"] == ["orders-1", "orders-2"] and result["pending_reboot"] == []
    assert result["diff"]["before"]["parameter_group"] == "default.aurora-postgresql16"


def test_a_converged_cluster_changes_nothing_and_reboots_nothing_in_two_reads(monkeypatch):
    rds = stubbed(monkeypatch, "rds")["rds"]
    expect_cluster(rds, cluster())
    expect_rows(rds, [dict(PRELOAD_ROW, ParameterValue="pg_stat_statements,pg_ad_mapping", Source="user")])
    result = run(cluster_parameter_group.main, cluster_id="orders", preload_libraries=["pg_ad_mapping"])
    assert_all_used({"rds": rds})
    assert not result["changed"] and result["changes"] == [] and result["rebooted"] == []


def test_check_mode_predicts_the_change_and_the_reboot_and_writes_nothing(monkeypatch):
    rds = stubbed(monkeypatch, "rds")["rds"]
    expect_cluster(rds, cluster())
    expect_rows(rds, [PRELOAD_ROW])
    result = run(cluster_parameter_group.main, check_mode=True, cluster_id="orders", preload_libraries=["pg_ad_mapping"])
    assert_all_used({"rds": rds})  # no modify, no reboot was stubbed: a write would have failed the test
    assert result["changed"] and result["changes"] == [PRELOAD_CHANGE] and result["rebooted"] == ["orders-1"]


def test_for_a_cluster_not_created_yet_only_the_group_is_made(monkeypatch):
    rds = stubbed(monkeypatch, "rds")["rds"]
    expect_cluster(rds, None)
    expect_group(rds, False, name="orders-params")
    rds.add_response("create_db_cluster_parameter_group", {"DBClusterParameterGroup": group_row("orders-params")},
                     {"DBClusterParameterGroupName": "orders-params", "DBParameterGroupFamily": "aurora-postgresql17",
                      "Description": "aurora.kerberos: orders (aurora-postgresql17)",
                      "Tags": [{"Key": "aurora.kerberos:chain", "Value": "prod"}]})
    expect_rows(rds, [PRELOAD_ROW], name="orders-params")
    rds.add_response("modify_db_cluster_parameter_group", {"DBClusterParameterGroupName": "orders-params"},
                     {"DBClusterParameterGroupName": "orders-params", "Parameters": [PRELOAD_CHANGE]})
    result = run(cluster_parameter_group.main, cluster_id="orders", engine_version="17.5", preload_libraries=["pg_ad_mapping"],
                 tags_on_create={"aurora.kerberos:chain": "prod"})
    assert_all_used({"rds": rds})
    assert not result["cluster_exists"] and not result["attached"] and result["rebooted"] == []


def test_a_group_of_another_family_is_refused_before_any_change(monkeypatch):
    rds = stubbed(monkeypatch, "rds")["rds"]
    expect_cluster(rds, cluster(group="default.aurora-postgresql16"))
    expect_group(rds, True, family="aurora-postgresql15")
    result = run(cluster_parameter_group.main, cluster_id="orders", name=GROUP, preload_libraries=["pg_ad_mapping"])
    assert result["failed"] and "is of family aurora-postgresql15" in result["msg"] and "needs aurora-postgresql16" in result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"name": "default.aurora-postgresql16"}, "not default.*"),
    ({"preload_libraries": ["pg ad mapping"]}, "is not a library name"),
    ({"parameters": {"shared_preload_libraries": "x"}}, "give the libraries in preload_libraries"),
])
def test_bad_input_is_refused_before_any_call(monkeypatch, args, message):
    stubbed(monkeypatch, "rds")
    result = run(cluster_parameter_group.main, cluster_id="orders", **args)
    assert result["failed"] and message in result["msg"]


def test_the_trap_warns_when_pg_ad_mapping_is_newly_loaded(monkeypatch):
    warnings = capture_warnings(monkeypatch)
    rds = stubbed(monkeypatch, "rds")["rds"]
    old = cluster(created=OLD, kerberos=True)
    expect_cluster(rds, old)
    expect_rows(rds, [PRELOAD_ROW])
    rds.add_response("modify_db_cluster_parameter_group", {"DBClusterParameterGroupName": GROUP},
                     {"DBClusterParameterGroupName": GROUP, "Parameters": [PRELOAD_CHANGE]})
    expect_cluster(rds, old)  # the lab and AWS: pending-reboot may show later; nothing to reboot yet here
    result = run(cluster_parameter_group.main, cluster_id="orders", preload_libraries=["pg_ad_mapping"])
    assert result["rejoin_advised"] and "created before April 2025" in warnings[0]


def test_a_fixed_parameter_and_a_string_create_time_are_handled():
    changes, problems = cp.plan_parameters([dict(CASEINS_ROW, IsModifiable=False)], [], {"krb_caseins_users": "1"})
    assert changes == [] and problems == ["parameter krb_caseins_users cannot be modified"]
    assert cp.rejoin_advised(dict(cluster(kerberos=True), ClusterCreateTime="2024-06-01T00:00:00Z"))
    assert cp.rejoin_advised(dict(cluster(kerberos=True), ClusterCreateTime=datetime.datetime(2024, 6, 1)))
    assert not cp.rejoin_advised({"DomainMemberships": []})
    assert cp.family("17.5") == "aurora-postgresql17"


def test_without_a_cluster_or_an_engine_version_the_family_is_that_of_awss_default_version(monkeypatch):
    rds = stubbed(monkeypatch, "rds")["rds"]
    expect_cluster(rds, None)
    rds.add_response("describe_db_engine_versions", {"DBEngineVersions": [
        {"Engine": "aurora-postgresql", "EngineVersion": "16.6", "DBParameterGroupFamily": FAMILY}]},
        {"Engine": "aurora-postgresql", "DefaultOnly": True})
    expect_group(rds, True, name="orders-params")
    expect_rows(rds, [PRELOAD_ROW], name="orders-params")
    result = run(cluster_parameter_group.main, check_mode=True, cluster_id="orders", preload_libraries=["pg_ad_mapping"])
    assert_all_used({"rds": rds})
    assert result["parameter_group"] == {"name": "orders-params", "family": FAMILY, "created": False}
    assert result["changes"] == [PRELOAD_CHANGE] and not result["cluster_exists"]


def as_read(answer):
    """A cluster as aurora.kerberos.cluster_info hands it to the next task (snake_case, times as strings)."""
    return rds_domain.described(dict(answer, ClusterCreateTime=answer["ClusterCreateTime"].isoformat()))


def test_a_converged_cluster_given_as_read_costs_one_read(monkeypatch):
    rds = stubbed(monkeypatch, "rds")["rds"]
    expect_rows(rds, [dict(PRELOAD_ROW, ParameterValue="pg_stat_statements,pg_ad_mapping", Source="user")])
    result = run(cluster_parameter_group.main, cluster_id="orders", cluster=as_read(cluster()),
                 preload_libraries=["pg_ad_mapping"])
    assert_all_used({"rds": rds})  # no describe_db_clusters was stubbed: a second read of the cluster fails the test
    assert not result["changed"] and result["parameter_group"]["name"] == GROUP and result["rebooted"] == []


def test_a_cluster_given_as_read_keeps_its_members_order_and_the_trap(monkeypatch):
    rds = stubbed(monkeypatch, "rds")["rds"]
    given = cluster(status="pending-reboot", created=OLD, kerberos=True, members=("orders-1", "orders-2"))
    expect_rows(rds, [dict(PRELOAD_ROW, ParameterValue="pg_stat_statements,pg_ad_mapping", Source="user")])
    result = run(cluster_parameter_group.main, check_mode=True, cluster_id="orders", cluster=as_read(given),
                 preload_libraries=["pg_ad_mapping"])
    assert_all_used({"rds": rds})
    assert result["rebooted"] == ["orders-1", "orders-2"] and result["rejoin_advised"] is True
