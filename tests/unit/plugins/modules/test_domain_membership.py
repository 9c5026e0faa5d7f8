# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.domain_membership with botocore's Stubber: every request is checked against the API model,
and a call the test did not expect fails it."""

import datetime
import json
import urllib.parse

import pytest
from ansible.module_utils.common.warnings import get_warning_messages
from botocore.stub import ANY

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.modules import domain_membership as module_under_test

CLUSTER = "orders"
ID = "d-1234567890"
OTHER = "d-abcdef0123"
ROLE = "rds-directory-access"
VPC = "vpc-0123456789abcdef0"
DB_SG = "sg-0aaaaaaaaaaaaaaaa"
DIR_SG = "sg-0bbbbbbbbbbbbbbbb"
FILTER = [{"Name": "db-cluster-id", "Values": [CLUSTER]}]
POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
JOIN = dict(cluster_id=CLUSTER, directory_id=ID, iam_role_name=ROLE)


@pytest.fixture
def polls_every_15s(monkeypatch):
    """The timeout tests count polls at 15 s (they pass poll_interval=15); the module default must not leak in."""
    monkeypatch.setattr(rds_domain, "POLL_SECONDS", 1)


@pytest.fixture
def aws(monkeypatch):
    """Stubbed clients handed to the module; all expected calls must happen."""
    stubbers = stubbed(monkeypatch, "rds", "ds", "iam", "sts", "ec2")
    yield stubbers
    assert_all_used(stubbers)


def run(check_mode=False, **args):
    return run_module(module_under_test.main, check_mode, **args)


# --- what AWS answers --------------------------------------------------------------------------

def membership(status, domain=ID, role=ROLE):
    return {"Domain": domain, "Status": status, "FQDN": "corp.example.com", "IAMRoleName": role}


def cluster(status=None, domain=ID, role=ROLE):
    return dict(DBClusterIdentifier=CLUSTER, Engine="aurora-postgresql", EngineVersion="16.4", Port=5432,
                Status="available", DBSubnetGroup="orders-subnets", PreferredMaintenanceWindow="sun:05:00-sun:05:30",
                VpcSecurityGroups=[{"VpcSecurityGroupId": DB_SG, "Status": "active"}],
                DomainMemberships=[membership(status, domain, role)] if status else [])


def instance(number, status=None, domain=ID):
    return dict(DBInstanceIdentifier=f"{CLUSTER}-{number}", DBInstanceClass="db.r6g.large", DBClusterIdentifier=CLUSTER,
                DBInstanceStatus="available",
                DBSubnetGroup={"VpcId": VPC}, DomainMemberships=[membership(status, domain)] if status else [])


def expect_cluster(aws, status=None, domain=ID, role=ROLE):
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [cluster(status, domain, role)]},
                            {"DBClusterIdentifier": CLUSTER})


def expect_instances(aws, *statuses, domain=ID):
    aws["rds"].add_response("describe_db_instances",
                            {"DBInstances": [instance(n + 1, s, domain) for n, s in enumerate(statuses)]},
                            {"Filters": FILTER})


def expect_read(aws, status, *instance_statuses, domain=ID, role=ROLE):
    expect_cluster(aws, status, domain, role)
    expect_instances(aws, *instance_statuses, domain=domain)


def expect_directory(aws, *stages, reason=None):
    """The directory read before a join (Active unless stages say otherwise: each a DescribeDirectories answer)."""
    for stage in stages or ("Active",):
        answer = dict(DirectoryId=ID, Name="corp.example.com", Type="MicrosoftAD", Stage=stage,
                      **({"StageReason": reason} if reason else {}))
        aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [answer]}, {"DirectoryIds": [ID]})


def expect_modify(aws, domain=ID, role=ROLE):
    params = {"DBClusterIdentifier": CLUSTER, "Domain": domain, "ApplyImmediately": True}
    if domain != "none":
        params["DomainIAMRoleName"] = role
    aws["rds"].add_response("modify_db_cluster", {"DBCluster": {"DBClusterIdentifier": CLUSTER}}, params)


def trust_policy(*services):
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}]}
    return urllib.parse.quote(json.dumps(document))


def expect_preflight(aws, managed_policy=True, events=("Kerberos authentication could not be enabled",),
                     engine="aurora-postgresql", instance_class="db.r6g.large", port=5432,
                     source=(CLUSTER, "db-cluster")):
    """The diagnosis of a failed join: every preflight check's calls, then the cluster's (or the DB instance's,
    source) events (None: not queued)."""
    aws["rds"].add_response("describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": [
        {"Engine": engine, "EngineVersion": "16.4", "DBInstanceClass": instance_class,
         "SupportsKerberosAuthentication": True}]},
        {"Engine": engine, "EngineVersion": "16.4", "DBInstanceClass": instance_class, "MaxRecords": 1000})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [dict(
        DirectoryId=ID, Name="corp.example.com", Type="MicrosoftAD", Stage="Active", DnsIpAddrs=["10.0.1.10"],
        VpcSettings={"VpcId": VPC, "SubnetIds": [], "SecurityGroupId": DIR_SG})]}, {"DirectoryIds": [ID]})
    aws["iam"].add_response("get_role", {"Role": {
        "Path": "/", "RoleName": ROLE, "RoleId": "AROAEXAMPLEEXAMPLE123", "Arn": f"arn:aws:iam::123456789012:role/{ROLE}",
        "CreateDate": "2024-01-01T00:00:00Z",
        "AssumeRolePolicyDocument": trust_policy("directoryservice.rds.amazonaws.com", "rds.amazonaws.com")}},
        {"RoleName": ROLE})
    attached = [{"PolicyName": "AmazonRDSDirectoryServiceAccess", "PolicyArn": POLICY}] if managed_policy else []
    aws["iam"].add_response("list_attached_role_policies", {"AttachedPolicies": attached}, {"RoleName": ROLE})
    if not managed_policy:
        aws["iam"].add_response("list_role_policies", {"PolicyNames": []}, {"RoleName": ROLE})
    aws["sts"].add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x",
                                                    "UserId": "AIDAEXAMPLE"}, {})
    aws["ec2"].add_response("describe_security_groups", {"SecurityGroups": [{
        "GroupId": DB_SG, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                                             "UserIdGroupPairs": [{"GroupId": DIR_SG}]}]}]}, {"GroupIds": [DB_SG]})
    aws["ec2"].add_response("describe_security_groups", {"SecurityGroups": [{
        "GroupId": DIR_SG, "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]},
        {"GroupIds": [DIR_SG]})
    if events is None:
        return
    answer = []
    for event in events:
        message, date = event if isinstance(event, tuple) else (event, None)
        answer.append(dict({"SourceIdentifier": source[0], "SourceType": source[1], "Message": message},
                           **({"Date": date} if date else {})))
    aws["rds"].add_response("describe_events", {"Events": answer},
                            {"SourceIdentifier": source[0], "SourceType": source[1], "Duration": ANY})


# --- state: present ------------------------------------------------------------------------------

def test_check_mode_predicts_the_join_and_sends_nothing(aws):
    expect_read(aws, None, None)
    result = run(check_mode=True, **JOIN)
    assert result["changed"] is True and result["membership"] == {}
    assert result["diff"] == {"before": {}, "after": {"domain": ID, "status": "kerberos-enabled", "iam_role_name": ROLE}}


def test_join_waits_until_the_cluster_and_every_instance_are_enabled(aws):
    expect_read(aws, None, None, None)
    expect_directory(aws)
    expect_modify(aws)
    for status in ("pending-enable-kerberos", "enabling-kerberos", "kerberos-enabled"):
        expect_cluster(aws, status)
    expect_instances(aws, "kerberos-enabled", "enabling-kerberos")
    expect_instances(aws, "kerberos-enabled", "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled", "kerberos-enabled")
    result = run(**JOIN)
    assert result["changed"] is True and result["retried"] is False
    assert result["membership"]["status"] == "kerberos-enabled" and result["membership"]["fqdn"] == "corp.example.com"
    assert result["membership"]["instances"] == [{"id": "orders-1", "status": "kerberos-enabled"},
                                                 {"id": "orders-2", "status": "kerberos-enabled"}]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"] == {"domain": ID, "status": "kerberos-enabled", "iam_role_name": ROLE}
    assert "findings" not in result
    # The last read, in rds_cluster_info's keys: the cluster role publishes it without reading the cluster again.
    assert result["cluster"]["db_cluster_identifier"] == CLUSTER and result["cluster"]["port"] == 5432
    assert result["cluster"]["domain_memberships"][0]["status"] == "kerberos-enabled"


@pytest.mark.parametrize("joined", ["kerberos-enabled", "joined"])
def test_a_joined_cluster_is_left_alone(aws, joined):
    # One read: a converged cluster costs two API calls (the cluster and its instances), not four.
    expect_read(aws, joined, joined)
    result = run(**JOIN)
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]


def test_a_joined_cluster_in_check_mode_is_no_change(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(check_mode=True, **JOIN)
    assert result["changed"] is False and result["membership"]["domain"] == ID


def test_a_role_name_differing_only_in_case_is_the_same_role(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled", role=ROLE.upper())
    assert run(**JOIN)["changed"] is False


def test_a_join_under_way_is_waited_for_not_sent_again(aws):
    expect_read(aws, "enabling-kerberos", "enabling-kerberos")
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(**JOIN)
    assert result["changed"] is False and result["membership"]["status"] == "kerberos-enabled"


def test_a_cluster_in_another_domain_is_moved(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled", domain=OTHER)
    expect_directory(aws)
    expect_modify(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(**JOIN)
    assert result["changed"] is True
    assert result["diff"]["before"]["domain"] == OTHER and result["diff"]["after"]["domain"] == ID


def test_another_role_is_a_change(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled", role="old-role")
    expect_directory(aws)
    expect_modify(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    assert run(**JOIN)["changed"] is True


def test_a_cluster_still_leaving_a_domain_is_let_go_first(aws):
    expect_read(aws, "disabling-kerberos", "disabling-kerberos", domain=OTHER)
    expect_directory(aws)
    expect_cluster(aws, "disabling-kerberos", domain=OTHER)
    expect_cluster(aws, None)
    expect_instances(aws, None)
    expect_modify(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    assert run(**JOIN)["changed"] is True


def test_a_join_that_failed_before_the_run_is_retried_as_a_change(aws):
    expect_read(aws, "enable-kerberos-failed", "enable-kerberos-failed")
    expect_directory(aws)
    expect_modify(aws)
    expect_cluster(aws, "enable-kerberos-failed")  # read back before AWS moved on
    expect_cluster(aws, "pending-enable-kerberos")
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(**JOIN)
    assert result["changed"] is True and result["retried"] is False
    assert result["diff"]["before"]["status"] == "enable-kerberos-failed"


def test_a_failed_join_is_diagnosed_and_retried_once(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    expect_modify(aws)
    expect_cluster(aws, "pending-enable-kerberos")
    expect_cluster(aws, "enable-kerberos-failed")
    expect_read(aws, "enable-kerberos-failed", "enable-kerberos-failed")
    expect_preflight(aws)
    expect_modify(aws)
    expect_cluster(aws, "pending-enable-kerberos")  # the retry was accepted
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(**JOIN)
    assert result["changed"] is True and result["retried"] is True
    assert result["membership"]["status"] == "kerberos-enabled"
    assert {f["status"] for f in result["findings"]} == {"ok"}
    assert result["events"] == ["Kerberos authentication could not be enabled"]
    assert any("retrying once" in w for w in get_warning_messages())


def test_a_join_that_fails_again_fails_with_the_cause_and_the_fix(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    expect_modify(aws)
    expect_cluster(aws, "enable-kerberos-failed")
    expect_read(aws, "enable-kerberos-failed", "enable-kerberos-failed")
    expect_preflight(aws, managed_policy=False)
    expect_modify(aws)
    expect_cluster(aws, "pending-enable-kerberos")
    expect_cluster(aws, "failed")  # the SQL Server style status counts as failed too
    expect_read(aws, "failed", "failed")
    expect_preflight(aws, managed_policy=False, events=("Kerberos authentication could not be enabled: role lacks ds",))
    result = run(**JOIN)
    assert result["failed"] and result["retried"] is True
    assert "could not join directory d-1234567890 (orders is failed, orders-1 is failed), also after one retry" in result["msg"]
    assert "[iam_role_policy]" in result["msg"] and f"Fix: Attach {POLICY} to the role." in result["msg"]
    assert "RDS events: Kerberos authentication could not be enabled: role lacks ds" in result["msg"]
    assert [f["check"] for f in result["findings"] if f["status"] == "fail"] == ["iam_role_policy"]


def test_without_retry_the_first_failure_fails_with_the_diagnosis(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    expect_modify(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "enable-kerberos-failed")
    expect_read(aws, "kerberos-enabled", "enable-kerberos-failed")
    expect_preflight(aws, events=())
    result = run(retry_failed_join=False, **JOIN)
    assert result["failed"] and result["retried"] is False
    assert "(orders-1 is enable-kerberos-failed). The preflight checks found nothing failing." in result["msg"]
    assert "the same directory id retries the join" in result["msg"]


def test_the_events_of_this_run_are_reported_once_each(aws):
    now = datetime.datetime.now(datetime.timezone.utc)
    expect_directory(aws)
    expect_read(aws, None, None)
    expect_modify(aws)
    expect_cluster(aws, "enable-kerberos-failed")
    expect_read(aws, "enable-kerberos-failed", "enable-kerberos-failed")
    expect_preflight(aws, events=[("an old failure", now - datetime.timedelta(minutes=50)),
                                  ("no route to the domain controllers", now),
                                  ("no route to the domain controllers", now + datetime.timedelta(seconds=1))])
    result = run(retry_failed_join=False, **JOIN)
    assert result["events"] == ["no route to the domain controllers"]
    assert "RDS events: no route to the domain controllers" in result["msg"]


def test_unreadable_events_do_not_hide_the_failure(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    expect_modify(aws)
    expect_cluster(aws, "enable-kerberos-failed")
    expect_read(aws, "enable-kerberos-failed", "enable-kerberos-failed")
    expect_preflight(aws, managed_policy=False, events=None)
    aws["rds"].add_client_error("describe_events", "AccessDenied", "no rds:DescribeEvents", 403)
    result = run(retry_failed_join=False, **JOIN)
    assert result["failed"] and "[iam_role_policy]" in result["msg"]
    assert result["events"][0].startswith("(the cluster's events could not be read:")


def test_a_cluster_that_never_finishes_leaving_times_out_before_the_join(aws, polls_every_15s):
    expect_read(aws, "disabling-kerberos", "disabling-kerberos", domain=OTHER)
    for dummy in range(4):
        expect_cluster(aws, "disabling-kerberos", domain=OTHER)
    expect_read(aws, "disabling-kerberos", "disabling-kerberos", domain=OTHER)
    result = run(poll_interval=15, wait_timeout=30, **JOIN)
    assert result["failed"] and "waiting for cluster orders to leave its domain: the cluster is disabling-kerberos" in result["msg"]


def test_a_join_refused_at_once_is_diagnosed(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    aws["rds"].add_client_error("modify_db_cluster", "InvalidParameterCombination",
                                "IAM role provided is not valid, please check that the role exists and has the correct "
                                "policies", expected_params={"DBClusterIdentifier": CLUSTER, "Domain": ID,
                                                             "DomainIAMRoleName": ROLE, "ApplyImmediately": True})
    expect_role_created(aws, datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))  # old: not retried
    expect_preflight(aws, events=())
    result = run(**JOIN)
    assert result["failed"]
    assert result["msg"].startswith("AWS refused to join cluster orders to directory d-1234567890: "
                                    "InvalidParameterCombination: IAM role provided is not valid")
    assert result["findings"] and result["events"] == []


def test_a_busy_cluster_is_modified_once_it_accepts(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    aws["rds"].add_client_error("modify_db_cluster", "InvalidDBClusterStateFault", "cluster is modifying")
    expect_modify(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    assert run(**JOIN)["changed"] is True


def test_a_join_that_takes_too_long_times_out_with_the_statuses(aws, polls_every_15s):
    expect_read(aws, None, None)
    expect_directory(aws)
    expect_modify(aws)
    for dummy in range(4):  # 30 s at 10 s pauses
        expect_cluster(aws, "enabling-kerberos")
    expect_read(aws, "enabling-kerberos", "enabling-kerberos")
    result = run(poll_interval=15, wait_timeout=30, **JOIN)
    assert result["failed"]
    assert result["msg"].startswith("Timed out after 30s waiting for cluster orders to join directory d-1234567890: "
                                    "the cluster is enabling-kerberos, instances: orders-1 enabling-kerberos.")
    assert "raise wait_timeout" in result["msg"]


def test_a_join_put_off_to_the_maintenance_window_says_so(aws, polls_every_15s):
    expect_read(aws, "pending-maintenance-enable-kerberos")
    for dummy in range(4):
        expect_cluster(aws, "pending-maintenance-enable-kerberos")
    expect_read(aws, "pending-maintenance-enable-kerberos")
    result = run(poll_interval=15, wait_timeout=30, **JOIN)
    assert result["failed"] and "maintenance window (sun:05:00-sun:05:30)" in result["msg"]


def test_without_wait_the_change_is_sent_and_not_waited_for(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    expect_modify(aws)
    expect_read(aws, "pending-enable-kerberos", "pending-enable-kerberos")
    result = run(wait=False, **JOIN)
    assert result["changed"] is True and result["membership"]["status"] == "pending-enable-kerberos"


def test_a_missing_cluster_fails_naming_it(aws):
    aws["rds"].add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "DBCluster orders not found.",
                                404, expected_params={"DBClusterIdentifier": CLUSTER})
    result = run(**JOIN)
    assert result["failed"] and "DB cluster orders does not exist (cluster_id)" in result["msg"]


def test_an_unexpected_error_fails_with_aws_error(aws):
    aws["rds"].add_client_error("describe_db_clusters", "AccessDenied", "not allowed", 403,
                                expected_params={"DBClusterIdentifier": CLUSTER})
    result = run(**JOIN)
    assert result["failed"] and "Failed to describe DB cluster" in result["msg"]


# --- state: absent -------------------------------------------------------------------------------

def test_absent_on_a_cluster_in_no_domain_sends_nothing(aws):
    expect_read(aws, None, None)
    result = run(cluster_id=CLUSTER, state="absent")
    assert result["changed"] is False and result["membership"] == {}


def test_absent_on_a_missing_cluster_is_no_change(aws):
    aws["rds"].add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "not found", 404,
                                expected_params={"DBClusterIdentifier": CLUSTER})
    assert run(cluster_id=CLUSTER, state="absent")["changed"] is False


def test_absent_check_mode_predicts_the_leave_and_sends_nothing(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(check_mode=True, cluster_id=CLUSTER, state="absent")
    assert result["changed"] is True and result["diff"]["after"] == {}
    assert result["membership"]["status"] == "kerberos-enabled"


def test_absent_leaves_and_waits_until_the_membership_is_gone(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    expect_modify(aws, "none")
    expect_cluster(aws, "pending-disable-kerberos")
    expect_cluster(aws, "disabling-kerberos")
    expect_cluster(aws, None)
    expect_instances(aws, "disabling-kerberos")
    expect_instances(aws, None)
    expect_read(aws, None, None)
    result = run(cluster_id=CLUSTER, directory_id=ID, state="absent")
    assert result["changed"] is True and result["membership"] == {}
    assert result["diff"]["before"]["domain"] == ID and result["diff"]["after"] == {}


def test_absent_leaves_another_directory_alone(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled", domain=OTHER)
    result = run(cluster_id=CLUSTER, directory_id=ID, state="absent")
    assert result["changed"] is False and result["membership"]["domain"] == OTHER
    assert any("left alone" in w for w in get_warning_messages())


def test_absent_while_already_leaving_only_waits(aws):
    expect_read(aws, "disabling-kerberos", "disabling-kerberos")
    expect_cluster(aws, None)
    expect_instances(aws, None)
    expect_read(aws, None, None)
    assert run(cluster_id=CLUSTER, state="absent")["changed"] is False


def test_absent_that_takes_too_long_times_out(aws, polls_every_15s):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    expect_modify(aws, "none")
    for dummy in range(4):
        expect_cluster(aws, "disabling-kerberos")
    expect_read(aws, "disabling-kerberos", "disabling-kerberos")
    result = run(poll_interval=15, cluster_id=CLUSTER, state="absent", wait_timeout=30)
    assert result["failed"] and "waiting for cluster orders to leave its domain" in result["msg"]


def test_absent_without_wait(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    expect_modify(aws, "none")
    expect_read(aws, "pending-disable-kerberos", "pending-disable-kerberos")
    result = run(cluster_id=CLUSTER, state="absent", wait=False)
    assert result["changed"] is True and result["membership"]["status"] == "pending-disable-kerberos"


# --- bad input: fails before any call, naming the option -----------------------------------------

@pytest.mark.parametrize("args, expect", [
    (dict(JOIN, directory_id="d-xyz"), "directory_id 'd-xyz' is not a directory id"),
    (dict(JOIN, directory_id="D-1234567890"), "directory_id 'D-1234567890' is not a directory id"),
    (dict(JOIN, wait_timeout=-5), "wait_timeout must be a positive number of seconds (got -5)"),
    (dict(JOIN, wait_timeout=0), "wait_timeout must be a positive number"),
    (dict(JOIN, state="joined"), "value of state must be one of: present, absent, got: joined"),
    (dict(JOIN, iam_role_name=f"arn:aws:iam::123456789012:role/{ROLE}"), "iam_role_name 'arn:aws:iam::"),
    (dict(JOIN, iam_role_name="a role"), "iam_role_name 'a role' is not an IAM role name"),
    (dict(JOIN, cluster_id="1orders"), "cluster_id '1orders' is not a DB cluster identifier"),
    (dict(JOIN, cluster_id="orders--1"), "cluster_id 'orders--1' is not a DB cluster identifier"),
    (dict(cluster_id=CLUSTER, directory_id=ID), "state is present but all of the following are missing: iam_role_name"),
    (dict(cluster_id=CLUSTER, iam_role_name=ROLE), "missing: directory_id"),
    (dict(directory_id=ID, iam_role_name=ROLE), "one of the following is required: cluster_id, db_instance_id"),
    (dict(JOIN, db_instance_id="orders-pg"), "parameters are mutually exclusive: cluster_id|db_instance_id"),
    (dict(directory_id=ID, iam_role_name=ROLE, db_instance_id="1pg"),
     "db_instance_id '1pg' is not a DB instance identifier"),
])
def test_bad_input_fails_before_any_call(aws, args, expect):
    result = run(**args)
    assert result["failed"] and expect in result["msg"]


def test_a_cluster_still_being_created_is_waited_for_before_the_join(aws):
    creating = cluster()
    expect_directory(aws)
    creating["Status"] = "creating"
    new_instance = dict(instance(1), DBInstanceStatus="creating")
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [creating]}, {"DBClusterIdentifier": CLUSTER})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": [new_instance]},
                            {"Filters": [{"Name": "db-cluster-id", "Values": [CLUSTER]}]})
    # The waits: the cluster (creating, then available), then its instances (available).
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [creating]}, {"DBClusterIdentifier": CLUSTER})
    expect_cluster(aws)
    expect_instances(aws, None)
    expect_modify(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(**JOIN)
    assert result["changed"] is True and result["membership"]["status"] == "kerberos-enabled"


def test_a_cluster_that_fails_while_being_created_is_not_joined(aws):
    creating = cluster()
    creating["Status"] = "creating"
    failed = dict(creating, Status="failed")
    expect_directory(aws)
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [creating]}, {"DBClusterIdentifier": CLUSTER})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": []},
                            {"Filters": [{"Name": "db-cluster-id", "Values": [CLUSTER]}]})
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [failed]}, {"DBClusterIdentifier": CLUSTER})
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [failed]}, {"DBClusterIdentifier": CLUSTER})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": []},
                            {"Filters": [{"Name": "db-cluster-id", "Values": [CLUSTER]}]})
    result = run(**JOIN)
    assert result["failed"] and "did not become available to join (failed): orders failed" in result["msg"]


def test_poll_interval_must_be_positive(aws):
    result = run(poll_interval=0, **JOIN)
    assert result["failed"] and "poll_interval must be a positive number of seconds (got 0)" in result["msg"]


# --- apply_immediately ----------------------------------------------------------------------------

def expect_modify_later(aws, domain=ID, role=ROLE):
    params = {"DBClusterIdentifier": CLUSTER, "Domain": domain, "ApplyImmediately": False}
    if domain != "none":
        params["DomainIAMRoleName"] = role
    aws["rds"].add_response("modify_db_cluster", {"DBCluster": {"DBClusterIdentifier": CLUSTER}}, params)


def test_a_join_held_for_the_maintenance_window_is_accepted_not_waited_out(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    expect_modify_later(aws)  # ApplyImmediately false reaches AWS
    expect_cluster(aws, "pending-enable-kerberos")
    expect_cluster(aws, "pending-maintenance-enable-kerberos")
    expect_cluster(aws, "pending-maintenance-enable-kerberos")  # read once more: deferred, not done
    expect_read(aws, "pending-maintenance-enable-kerberos", None)
    result = run(apply_immediately=False, **JOIN)
    assert result["failed"] is False and result["changed"] is True and result["deferred"] is True
    assert result["membership"]["status"] == "pending-maintenance-enable-kerberos"
    assert "maintenance window (sun:05:00-sun:05:30, UTC)" in result["msg"]
    assert "Kerberos logins work only once RDS has applied it" in result["msg"]


def test_a_held_join_is_no_change_on_the_next_run(aws):
    expect_read(aws, "pending-maintenance-enable-kerberos", None)
    expect_cluster(aws, "pending-maintenance-enable-kerberos")
    expect_cluster(aws, "pending-maintenance-enable-kerberos")
    expect_read(aws, "pending-maintenance-enable-kerberos", None)
    result = run(apply_immediately=False, **JOIN)
    assert result["changed"] is False and result["deferred"] is True


def test_without_apply_immediately_a_join_rds_applies_at_once_is_waited_for(aws):
    expect_read(aws, None, None)
    expect_directory(aws)
    expect_modify_later(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(apply_immediately=False, **JOIN)
    assert result["changed"] is True and result["deferred"] is False and "msg" not in result


def test_a_leave_held_for_the_maintenance_window_is_accepted(aws):
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    expect_modify_later(aws, "none")
    expect_cluster(aws, "pending-maintenance-disable-kerberos")
    expect_cluster(aws, "pending-maintenance-disable-kerberos")
    expect_read(aws, "pending-maintenance-disable-kerberos", "kerberos-enabled")
    result = run(cluster_id=CLUSTER, state="absent", apply_immediately=False)
    assert result["changed"] is True and result["deferred"] is True
    assert "keep working until RDS applies it" in result["msg"]


# --- IAM propagation ---------------------------------------------------------------------------------

INVALID_ROLE = "IAM role provided is not valid, please check that the role exists and has the correct policies"


def expect_role_created(aws, created):
    aws["iam"].add_response("get_role", {"Role": {
        "Path": "/", "RoleName": ROLE, "RoleId": "AROAEXAMPLEEXAMPLE123", "Arn": f"arn:aws:iam::123456789012:role/{ROLE}",
        "CreateDate": created, "AssumeRolePolicyDocument": trust_policy("directoryservice.rds.amazonaws.com")}},
        {"RoleName": ROLE})


def refuse_role(aws):
    aws["rds"].add_client_error("modify_db_cluster", "InvalidParameterCombination", INVALID_ROLE, 400,
                                expected_params={"DBClusterIdentifier": CLUSTER, "Domain": ID, "DomainIAMRoleName": ROLE,
                                                 "ApplyImmediately": True})


@pytest.fixture
def pauses(monkeypatch):
    """The module's pauses between tries, recorded instead of slept."""
    slept = []
    monkeypatch.setattr(module_under_test.time, "sleep", slept.append)
    return slept


def test_a_role_iam_has_not_propagated_yet_is_retried_until_rds_accepts_it(aws, pauses):
    expect_read(aws, None, None)
    expect_directory(aws)
    refuse_role(aws)
    expect_role_created(aws, module_under_test.utcnow() - datetime.timedelta(seconds=5))  # read once
    refuse_role(aws)
    expect_modify(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(**JOIN)
    assert result["failed"] is False and result["changed"] is True
    assert result["membership"]["status"] == "kerberos-enabled"
    assert len(pauses) == 2 and all(0 < p <= 15 for p in pauses)  # poll_interval, within the 60 s


def test_with_no_propagation_tolerance_a_new_role_fails_naming_the_cause(aws, pauses):
    expect_read(aws, None, None)
    expect_directory(aws)
    refuse_role(aws)
    expect_role_created(aws, module_under_test.utcnow() - datetime.timedelta(seconds=5))
    expect_preflight(aws, events=())
    result = run(iam_role_propagation_timeout=0, **JOIN)
    assert result["failed"] and pauses == []
    assert "InvalidParameterCombination: IAM role provided is not valid" in result["msg"]
    assert f"The IAM role {ROLE} was created 5s ago: IAM is eventually consistent" in result["msg"]
    assert "not retried (iam_role_propagation_timeout 0)" in result["msg"]
    assert "cluster_iam_role_propagation_timeout" in result["msg"]


def test_a_new_role_still_refused_after_the_tolerance_fails_naming_the_cause(aws, pauses, monkeypatch):
    clock = iter(range(0, 1000, 30))  # every reading of the clock is 30 s later
    monkeypatch.setattr(module_under_test.time, "monotonic", lambda: next(clock))
    expect_read(aws, None, None)
    expect_directory(aws)
    refuse_role(aws)
    expect_role_created(aws, module_under_test.utcnow() - datetime.timedelta(seconds=1))
    refuse_role(aws)
    expect_preflight(aws, events=())
    result = run(iam_role_propagation_timeout=60, **JOIN)
    assert result["failed"] and len(pauses) == 1
    assert "retried for iam_role_propagation_timeout (60s)" in result["msg"]


def test_a_negative_propagation_tolerance_is_refused_before_any_call(aws):
    result = run(iam_role_propagation_timeout=-1, **JOIN)
    assert result["failed"] and "iam_role_propagation_timeout must be 0 (no retry) or a positive" in result["msg"]


# --- a DB instance outside any cluster (db_instance_id) ----------------------------------------------

DB = "orders-pg"
DB_JOIN = dict(db_instance_id=DB, directory_id=ID, iam_role_name=ROLE)


def db_instance(status=None, domain=ID, role=ROLE, **extra):
    return dict(dict(DBInstanceIdentifier=DB, DBInstanceClass="db.m6g.large", Engine="postgres", EngineVersion="16.4",
                     DBInstanceStatus="available", Endpoint={"Address": f"{DB}.abc.us-east-1.rds.amazonaws.com",
                                                             "Port": 5433},
                     DBSubnetGroup={"VpcId": VPC}, PreferredMaintenanceWindow="sun:05:00-sun:05:30",
                     VpcSecurityGroups=[{"VpcSecurityGroupId": DB_SG, "Status": "active"}],
                     DomainMemberships=[membership(status, domain, role)] if status else []), **extra)


def expect_db(aws, status=None, domain=ID, role=ROLE, **extra):
    aws["rds"].add_response("describe_db_instances", {"DBInstances": [db_instance(status, domain, role, **extra)]},
                            {"DBInstanceIdentifier": DB})


def expect_modify_db(aws, domain=ID, role=ROLE, apply_immediately=True):
    params = {"DBInstanceIdentifier": DB, "ApplyImmediately": apply_immediately}
    params.update({"DisableDomain": True} if domain == "none" else {"Domain": domain, "DomainIAMRoleName": role})
    aws["rds"].add_response("modify_db_instance", {"DBInstance": {"DBInstanceIdentifier": DB}}, params)


def test_instance_check_mode_predicts_the_join_and_sends_nothing(aws):
    expect_db(aws)
    result = run(check_mode=True, **DB_JOIN)
    assert result["changed"] is True and result["membership"] == {}
    assert result["diff"]["after"] == {"domain": ID, "status": "kerberos-enabled", "iam_role_name": ROLE}


def test_instance_join_is_modify_db_instance_and_waits_for_the_instance(aws):
    expect_db(aws)
    expect_directory(aws)
    expect_modify_db(aws)
    for status in ("pending-enable-kerberos", "enabling-kerberos", "kerberos-enabled"):
        expect_db(aws, status)
    expect_db(aws, "kerberos-enabled")
    result = run(**DB_JOIN)
    assert result["changed"] is True and result["retried"] is False
    assert result["membership"]["status"] == "kerberos-enabled" and result["membership"]["instances"] == []
    assert result["diff"]["before"] == {} and result["diff"]["after"]["domain"] == ID


def test_a_joined_instance_is_left_alone(aws):
    expect_db(aws, "kerberos-enabled")
    result = run(**DB_JOIN)
    assert result["changed"] is False and result["diff"]["before"] == result["diff"]["after"]


def test_an_instance_not_yet_available_is_waited_for_before_the_join(aws):
    expect_db(aws, DBInstanceStatus="creating")
    expect_directory(aws)
    expect_db(aws, DBInstanceStatus="backing-up")
    expect_db(aws)
    expect_modify_db(aws)
    expect_db(aws, "kerberos-enabled")
    expect_db(aws, "kerberos-enabled")
    assert run(**DB_JOIN)["changed"] is True


def test_a_failed_instance_join_is_diagnosed_with_its_events_and_retried_once(aws):
    expect_db(aws)
    expect_directory(aws)
    expect_modify_db(aws)
    expect_db(aws, "enable-kerberos-failed")
    expect_db(aws, "enable-kerberos-failed")
    expect_instance_preflight(aws)
    expect_modify_db(aws)
    expect_db(aws, "pending-enable-kerberos")  # the retry was accepted
    expect_db(aws, "kerberos-enabled")
    expect_db(aws, "kerberos-enabled")
    result = run(**DB_JOIN)
    assert result["changed"] is True and result["retried"] is True
    assert result["events"] == ["Kerberos authentication could not be enabled"]
    assert any(w.startswith(f"DB instance {DB} failed to join") for w in get_warning_messages())


def test_an_instance_join_that_fails_again_names_the_instance(aws):
    expect_db(aws)
    expect_directory(aws)
    expect_modify_db(aws)
    expect_db(aws, "enable-kerberos-failed")
    expect_db(aws, "enable-kerberos-failed")
    expect_instance_preflight(aws)
    result = run(retry_failed_join=False, **DB_JOIN)
    assert result["failed"] and result["retried"] is False
    assert f"DB instance {DB} could not join directory {ID} ({DB} is enable-kerberos-failed)" in result["msg"]


def expect_instance_preflight(aws):
    """The diagnosis of an instance: the preflight checks on its engine, class and port, then its own events."""
    expect_preflight(aws, engine="postgres", instance_class="db.m6g.large", port=5433, source=(DB, "db-instance"))


def test_instance_leave_is_disable_domain_and_waits_until_gone(aws):
    expect_db(aws, "kerberos-enabled")
    expect_modify_db(aws, "none")
    expect_db(aws, "disabling-kerberos")
    expect_db(aws, "removed")
    expect_db(aws)
    result = run(db_instance_id=DB, state="absent")
    assert result["changed"] is True and result["membership"] == {}
    assert result["diff"] == {"before": {"domain": ID, "status": "kerberos-enabled", "iam_role_name": ROLE}, "after": {}}


def test_instance_leave_in_check_mode_sends_nothing(aws):
    expect_db(aws, "kerberos-enabled")
    result = run(check_mode=True, db_instance_id=DB, state="absent")
    assert result["changed"] is True and result["diff"]["after"] == {}


def test_an_instance_in_no_domain_leaving_is_no_change(aws):
    expect_db(aws)
    assert run(db_instance_id=DB, state="absent")["changed"] is False


def test_an_instance_leave_held_for_the_window_returns_deferred(aws):
    expect_db(aws, "kerberos-enabled")
    expect_modify_db(aws, "none", apply_immediately=False)
    expect_db(aws, "pending-maintenance-disable-kerberos")
    expect_db(aws, "pending-maintenance-disable-kerberos")
    expect_db(aws, "pending-maintenance-disable-kerberos")
    result = run(db_instance_id=DB, state="absent", apply_immediately=False)
    assert result["changed"] is True and result["deferred"] is True
    assert result["msg"].startswith(f"DB instance {DB} accepted leaving its domain")


@pytest.mark.parametrize("state", ["present", "absent"])
def test_an_instance_of_an_aurora_cluster_is_refused_before_any_change(aws, state):
    expect_db(aws, "kerberos-enabled", DBClusterIdentifier=CLUSTER, Engine="aurora-postgresql")
    args = DB_JOIN if state == "present" else dict(db_instance_id=DB, state="absent")
    result = run(**args)
    assert result["failed"] and f"is a member of Aurora cluster {CLUSTER}" in result["msg"]
    assert f"give cluster_id {CLUSTER} instead of db_instance_id" in result["msg"]


def test_an_instance_of_a_multi_az_db_cluster_is_refused_with_aws_reason(aws):
    expect_db(aws, DBClusterIdentifier="orders-maz", Engine="postgres")
    result = run(**DB_JOIN)
    assert result["failed"] and "belongs to Multi-AZ DB cluster orders-maz" in result["msg"]
    assert "Multi-AZ DB clusters do not support Kerberos authentication" in result["msg"]


def test_a_multi_az_db_cluster_is_refused_with_aws_reason(aws):
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [dict(cluster(), Engine="postgres")]},
                            {"DBClusterIdentifier": CLUSTER})
    expect_instances(aws, None)
    result = run(**JOIN)
    assert result["failed"] and "is a Multi-AZ DB cluster of engine postgres" in result["msg"]
    assert "Limitations of Multi-AZ DB clusters for Amazon RDS" in result["msg"]


def test_a_missing_instance_names_the_option_and_the_fix(aws):
    aws["rds"].add_client_error("describe_db_instances", "DBInstanceNotFound", f"DBInstance {DB} not found.", 404,
                                expected_params={"DBInstanceIdentifier": DB})
    result = run(**DB_JOIN)
    assert result["failed"] and "(db_instance_id). Create it first (amazon.aws.rds_instance)" in result["msg"]


# --- a directory still being created --------------------------------------------------------------

def test_a_directory_still_being_created_is_waited_for_until_active_then_joined(aws):
    expect_read(aws, None, None)
    expect_directory(aws, "Creating")  # read first, then the waiter's polls
    expect_directory(aws, "Creating", "Active")
    expect_modify(aws)
    expect_cluster(aws, "kerberos-enabled")
    expect_instances(aws, "kerberos-enabled")
    expect_read(aws, "kerberos-enabled", "kerberos-enabled")
    result = run(poll_interval=1, **JOIN)
    assert result["changed"] is True and result["membership"]["status"] == "kerberos-enabled"


def test_a_failed_directory_is_not_joined_and_says_why(aws):
    expect_read(aws, None, None)
    expect_directory(aws, "Failed", reason="The subnets have no free addresses.")
    result = run(**JOIN)  # no ModifyDBCluster queued: sending one fails the test
    assert result["failed"]
    assert result["msg"] == ("Cluster orders was not joined: Directory d-1234567890 is Failed: The subnets have no free "
                             "addresses. (the directory must be Active before RDS accepts a join; nothing was changed)")


def test_a_directory_not_yet_active_is_not_waited_for_in_check_mode(aws):
    expect_read(aws, None, None)
    assert run(check_mode=True, **JOIN)["changed"] is True


def test_without_wait_the_join_still_waits_for_the_directory_then_is_not_waited_for(aws):
    expect_read(aws, None, None)
    expect_directory(aws, "Creating")
    expect_directory(aws, "Active")
    expect_modify(aws)
    expect_read(aws, "pending-enable-kerberos", "pending-enable-kerberos")
    result = run(wait=False, poll_interval=1, **JOIN)
    assert result["changed"] is True and result["membership"]["status"] == "pending-enable-kerberos"
