# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.directory with botocore's Stubber: every request is checked against the API model,
and a call the test did not expect fails it."""

import pytest

from aws_stubs import assert_all_used, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.modules import directory as directory_module

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
PASSWORD = "Passw0rd!x-not-real"
ID = "d-1234567890"


def described(stage="Active", **extra):
    return {**dict(DirectoryId=ID, Name="corp.example.com", ShortName="CORP", Type="MicrosoftAD", Edition="Standard",
                   Stage=stage, DnsIpAddrs=["10.0.1.10", "10.0.2.10"],
                   VpcSettings={"VpcId": VPC, "SubnetIds": SUBNETS, "SecurityGroupId": "sg-0123456789abcdef0"}),
            **extra}


@pytest.fixture
def aws(monkeypatch):
    """Stubbed ds and rds clients handed to the module; all expected calls must happen."""
    stubbers = stubbed(monkeypatch, "ds", "rds", "ec2", "ssm")
    yield stubbers
    assert_all_used(stubbers)


def subnets(zones=("us-east-1a", "us-east-1b"), vpc=VPC):
    return {"Subnets": [{"SubnetId": s, "VpcId": vpc, "AvailabilityZone": z, "CidrBlock": f"10.0.{n}.0/24"}
                        for n, (s, z) in enumerate(zip(SUBNETS, zones))]}


def run(check_mode=False, **args):
    # The claim (SSM Parameter Store) has tests of its own below; the others run without it.
    args.setdefault("claim", False)
    return run_module(directory_module.main, check_mode, **args)


CREATE = dict(name="corp.example.com", password=PASSWORD, vpc_id=VPC, subnet_ids=SUBNETS, edition="Standard")


def changed(**changes):
    return {**CREATE, **changes}


def test_check_mode_on_nothing_predicts_a_creation_and_creates_nothing(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    result = run(check_mode=True, **CREATE)
    assert result["changed"] is True and result["directory"] == {}


def test_create_waits_until_active_and_returns_the_directory(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ds"].add_response("create_microsoft_ad", {"DirectoryId": ID}, {
        "Name": "corp.example.com", "Password": PASSWORD, "Edition": "Standard",
        "VpcSettings": {"VpcId": VPC, "SubnetIds": SUBNETS}})
    for stage in ("Requested", "Creating", "Active", "Active"):
        aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described(stage)]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    result = run(**CREATE)
    assert result["changed"] is True
    assert result["directory"]["directory_id"] == ID and result["directory"]["stage"] == "Active"
    assert result["directory"]["dns_ip_addrs"] == ["10.0.1.10", "10.0.2.10"]
    assert PASSWORD not in repr(result)


def test_existing_directory_is_found_by_name_and_left_alone(aws):
    # Found by name with subnet_ids given: they are read all the same (a wrong value is refused, never ignored).
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    result = run(**CREATE)
    assert result["changed"] is False and result["directory"]["directory_id"] == ID


def test_tags_on_create_go_only_to_a_directory_the_module_creates(aws):
    """The ownership tag reaches CreateMicrosoftAD with the other tags; a directory found by name never gets it."""
    # Found by name with subnet_ids given: they are read all the same (a wrong value is refused, never ignored).
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ds"].add_response("create_microsoft_ad", {"DirectoryId": ID}, {
        "Name": "corp.example.com", "Password": PASSWORD, "Edition": "Standard",
        "VpcSettings": {"VpcId": VPC, "SubnetIds": SUBNETS},
        "Tags": [{"Key": "team", "Value": "db"}, {"Key": "aurora.kerberos:chain", "Value": "prod"}]})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": [{"Key": "team", "Value": "db"},
                                                               {"Key": "aurora.kerberos:chain", "Value": "prod"}]}, {"ResourceId": ID})
    result = run(wait=False, tags={"team": "db"}, purge_tags=False,
                 tags_on_create={"aurora.kerberos:chain": "prod"}, **CREATE)
    assert result["changed"] is True, result
    # Found by name: only the tags of O(tags) are added, never tags_on_create's.
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": [{"Key": "cost-center", "Value": "42"}]}, {"ResourceId": ID})
    aws["ds"].add_response("add_tags_to_resource", {}, {"ResourceId": ID, "Tags": [{"Key": "team", "Value": "db"}]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": [{"Key": "cost-center", "Value": "42"}, {"Key": "team", "Value": "db"}]},
                           {"ResourceId": ID})
    result = run(tags={"team": "db"}, purge_tags=False, tags_on_create={"aurora.kerberos:chain": "prod"}, **CREATE)
    assert result["changed"] is True and result["directory"]["tags"] == {"cost-center": "42", "team": "db"}


def test_failed_directory_reports_the_stage_reason(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ds"].add_response("create_microsoft_ad", {"DirectoryId": ID}, None)
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Failed", StageReason="ENI limit reached")]},
                           {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Failed", StageReason="ENI limit reached")]},
                           {"DirectoryIds": [ID]})
    result = run(**CREATE)
    assert result["failed"] and "is Failed: ENI limit reached" in result["msg"]


def test_an_existing_directory_of_another_edition_is_refused_not_changed(aws):
    # Found by name with subnet_ids given: they are read all the same (a wrong value is refused, never ignored).
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    result = run(**changed(edition="Enterprise"))
    assert result["failed"] and "edition is Standard, not Enterprise" in result["msg"]


def test_tags_are_added_and_purged(aws):
    # Found by name with subnet_ids given: they are read all the same (a wrong value is refused, never ignored).
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": [{"Key": "old", "Value": "1"}]}, {"ResourceId": ID})
    aws["ds"].add_response("remove_tags_from_resource", {}, {"ResourceId": ID, "TagKeys": ["old"]})
    aws["ds"].add_response("add_tags_to_resource", {}, {"ResourceId": ID, "Tags": [{"Key": "team", "Value": "db"}]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": [{"Key": "team", "Value": "db"}]}, {"ResourceId": ID})
    result = run(**changed(tags={"team": "db"}))
    assert result["changed"] is True and result["directory"]["tags"] == {"team": "db"}


@pytest.mark.parametrize("args, expect", [
    (changed(subnet_ids=SUBNETS[:1]), "subnet_ids must list exactly 2"),
    (changed(password="admin-Passw0rd"), 'password must not contain the word "admin"'),
    (changed(name="corp"), "name 'corp' must be the directory's fully qualified DNS name"),
    (changed(vpc_id="10.0.0.0/16"), "vpc_id '10.0.0.0/16' is not a VPC id"),
    (changed(wait_timeout=-5), "wait_timeout must be a positive number"),
    (dict(name="corp.example.com", directory_id="d-xyz"), "directory_id 'd-xyz' is not a directory id"),
    (changed(edition="Hybrid"), "CreateHybridAD"),
    (changed(name="corp.example.com."), "ends with a dot"),
    (changed(name="corp.example"), "reserves (*.example, *.invalid, *.localhost)"),
    (changed(name="dc.lab.localhost"), "reserves"),
    (changed(password="abcdefgh 1x"), "password must use 3 of"),
])
def test_bad_input_fails_before_any_call(aws, args, expect):
    result = run(**args)
    assert result["failed"] and expect in result["msg"]
    assert PASSWORD not in result["msg"]


def uses(aws, clusters=(), instances=(), shares=(), regions=None):
    """The reads of every authorized use that absent makes before DeleteDirectory (AWS_FACTS.md section 1)."""
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": list(clusters)}, {})
    aws["ds"].add_response("describe_shared_directories", {"SharedDirectories": list(shares)}, {"OwnerDirectoryId": ID})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": list(instances)}, {})
    if regions is None:
        aws["ds"].add_client_error("describe_regions", "UnsupportedOperationException",
                                   "Multi-Region replication is only supported for Enterprise Edition.",
                                   expected_params={"DirectoryId": ID})
    else:
        aws["ds"].add_response("describe_regions", {"RegionsDescription": [
            {"DirectoryId": ID, "RegionName": r, "RegionType": "Primary" if n == 0 else "Additional"}
            for n, r in enumerate(regions)]}, {"DirectoryId": ID})


def member(name, status="kerberos-enabled", cluster=None, **extra):
    key = "DBInstanceIdentifier" if "engine" in extra or cluster else "DBClusterIdentifier"
    resource = {key: name, "DomainMemberships": [{"Domain": ID, "Status": status}]}
    if cluster:
        resource["DBClusterIdentifier"] = cluster
    if "engine" in extra:
        resource["Engine"] = extra["engine"]
    return resource


def test_absent_refuses_while_clusters_are_members(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    uses(aws, clusters=[member("orders"), {"DBClusterIdentifier": "other", "DomainMemberships": []}])
    result = run(name="corp.example.com", state="absent")
    assert result["failed"] and "DB clusters in the domain: orders" in result["msg"]
    assert "still has authorized applications" in result["msg"] and "force=true" in result["msg"]


def test_absent_lists_every_authorized_use_it_can_read(aws):
    """RDS instances of any engine, shares and Region replicas block DeleteDirectory too; force does not
    unshare or remove replicas, so even with force nothing is changed."""
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described(Edition="Enterprise")]}, {})
    uses(aws, clusters=[member("orders")],
         instances=[member("orders-1", cluster="orders", engine="aurora-postgresql"),
                    member("legacy-sql", engine="sqlserver-se"), member("billing", engine="postgres")],
         shares=[{"OwnerDirectoryId": ID, "SharedDirectoryId": "d-2222222222", "SharedAccountId": "222233334444",
                  "ShareStatus": "Shared"},
                 {"OwnerDirectoryId": ID, "SharedDirectoryId": "d-3333333333", "SharedAccountId": "333344445555",
                  "ShareStatus": "Rejected"}],
         regions=["us-east-1", "us-west-2"])
    result = run(name="corp.example.com", state="absent", force=True)
    assert result["failed"]
    assert result["blocked_by"] == {"clusters": ["orders"], "instances": ["legacy-sql", "billing"],
                                    "shared_with": ["222233334444"], "replica_regions": ["us-west-2"]}
    for text in ("DB clusters in the domain: orders", "DB instances in the domain: legacy-sql, billing",
                 "shared with accounts 222233334444", "UnshareDirectory", "replicated to Regions us-west-2",
                 "RemoveRegion"):
        assert text in result["msg"]
    assert "333344445555" not in result["msg"] and "orders-1" not in result["msg"]


def test_absent_with_force_takes_clusters_and_instances_out_then_deletes(aws, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    uses(aws, clusters=[member("orders")], instances=[member("billing", engine="postgres")])
    aws["rds"].add_response("modify_db_cluster", {"DBCluster": {}},
                            {"DBClusterIdentifier": "orders", "Domain": "none", "ApplyImmediately": True})
    aws["rds"].add_response("modify_db_instance", {"DBInstance": {}},
                            {"DBInstanceIdentifier": "billing", "DisableDomain": True, "ApplyImmediately": True})
    # rds_domain.wait_for_leave for each member: the cluster, its instances, then the standalone instance.
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [member("orders", "disabling-kerberos")]},
                            {"DBClusterIdentifier": "orders"})
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": [member("orders", "removed")]},
                            {"DBClusterIdentifier": "orders"})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": []},
                            {"Filters": [{"Name": "db-cluster-id", "Values": ["orders"]}]})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": [member("billing", "removed", engine="postgres")]},
                            {"DBInstanceIdentifier": "billing"})
    aws["ds"].add_response("delete_directory", {"DirectoryId": ID}, {"DirectoryId": ID})
    result = run(name="corp.example.com", state="absent", force=True, wait=False, poll_interval=1)
    assert result.get("changed") is True and result["members"] == ["orders"], result.get("msg")


def test_aws_refusing_for_authorized_applications_is_explained(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    uses(aws)
    aws["ds"].add_client_error("delete_directory", "ClientException",
                               "Cannot delete the directory because it still has authorized applications.",
                               expected_params={"DirectoryId": ID})
    result = run(name="corp.example.com", state="absent")
    assert result["failed"]
    for text in ("Cannot delete the directory because it still has authorized applications.", "30 to 60 minutes",
                 "WorkSpaces", "run again"):
        assert text in result["msg"]


def test_absent_deletes_and_waits_until_gone(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    uses(aws, regions=["us-east-1"])
    aws["ds"].add_response("delete_directory", {"DirectoryId": ID}, {"DirectoryId": ID})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Deleting")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_client_error("describe_directories", "EntityDoesNotExistException", "gone", expected_params={"DirectoryIds": [ID]})
    result = run(name="corp.example.com", state="absent")
    assert result["changed"] is True and result["members"] == []


def test_absent_on_nothing_changes_nothing(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    result = run(name="corp.example.com", state="absent")
    assert result["changed"] is False


@pytest.mark.parametrize("response, expect", [
    (subnets(zones=("us-east-1a", "us-east-1a")), "are all in us-east-1a: a directory needs two subnets in two different"),
    (subnets(vpc="vpc-0aaaaaaaaaaaaaaaa"), f"are not in vpc_id {VPC}"),
])
def test_subnets_outside_the_vpc_or_in_one_zone_are_refused_before_creating(aws, response, expect):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    aws["ec2"].add_response("describe_subnets", response, {"SubnetIds": SUBNETS})
    result = run(**CREATE)
    assert result["failed"] and expect in result["msg"] and "subnet_ids" in result["msg"]


def test_missing_subnets_are_refused_before_creating(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    aws["ec2"].add_client_error("describe_subnets", "InvalidSubnetID.NotFound", "The subnet ID 'subnet-0123456789abcdef0' "
                                "does not exist", expected_params={"SubnetIds": SUBNETS})
    result = run(**CREATE)
    assert result["failed"] and "subnet_ids" in result["msg"] and "does not exist" in result["msg"]


def test_wrong_subnets_are_refused_for_an_existing_directory_too_naming_the_callers_variables(aws):
    """A directory found by name: the subnets given are still read and a wrong value refused before any change (the
    directory role leaves this check to the module), in the names the role's user set (variable_names)."""
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    aws["ec2"].add_response("describe_subnets", subnets(vpc="vpc-0aaaaaaaaaaaaaaaa"), {"SubnetIds": SUBNETS})
    result = run(variable_names={"subnet_ids": "directory_subnet_ids", "vpc_id": "directory_vpc_id"}, **CREATE)
    assert result["failed"], result
    assert result["msg"].startswith("directory_subnet_ids ") and f"are not in directory_vpc_id {VPC}" in result["msg"]


def test_data_access_is_enabled_on_an_active_directory_and_left_when_enabled(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Disabled"}, {"DirectoryId": ID})
    aws["ds"].add_response("enable_directory_data_access", {}, {"DirectoryId": ID})
    aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Enabling"}, {"DirectoryId": ID})
    aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Enabled"}, {"DirectoryId": ID})
    aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Enabled"}, {"DirectoryId": ID})
    result = run(name="corp.example.com", data_access=True)
    assert result["changed"] is True and result["directory"]["data_access"] == "Enabled"


def test_data_access_false_disables_and_check_mode_only_predicts(aws):
    for check_mode in (True, False):
        aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
        aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
        aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Enabled"}, {"DirectoryId": ID})
        if not check_mode:
            aws["ds"].add_response("disable_directory_data_access", {}, {"DirectoryId": ID})
        aws["ds"].add_response("describe_directory_data_access",
                               {"DataAccessStatus": "Enabled" if check_mode else "Disabling"}, {"DirectoryId": ID})
        result = run(check_mode=check_mode, name="corp.example.com", data_access=False)
        assert result["changed"] is True


def test_waiting_for_a_directory_being_deleted_fails_at_once_with_the_reason(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Deleting")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Deleting")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Deleting")]}, {"DirectoryIds": [ID]})
    result = run(directory_id=ID)
    assert result["failed"] and "is Deleting: it is being deleted and will never be Active" in result["msg"]


def test_a_removed_membership_does_not_block_deletion(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    uses(aws, clusters=[member("old", "removed")], instances=[member("old-1", "removed", cluster="old")])
    aws["ds"].add_response("delete_directory", {"DirectoryId": ID}, {"DirectoryId": ID})
    result = run(name="corp.example.com", state="absent", wait=False)
    assert result["changed"] is True and result["members"] == []


# The claim on the creation (module_utils/claims.py): SSM parameters under CLAIM, one per generation.
CLAIM = f"/aurora-kerberos/claims/directory/{VPC}/corp.example.com"


def claim_value(owner="other-host:1:abc", directory_id=None):
    import json

    return json.dumps({"owner": owner, "name": "corp.example.com", "vpc_id": VPC, "directory_id": directory_id},
                      sort_keys=True)


def parameter(generation, age_seconds=0, **value):
    import datetime

    modified = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age_seconds)
    return {"Parameter": {"Name": f"{CLAIM}/{generation}", "Type": "String", "Value": claim_value(**value),
                          "Version": 1, "LastModifiedDate": modified}}


def no_parameter(aws, generation):
    aws["ssm"].add_client_error("get_parameter", "ParameterNotFound", http_status_code=400,
                                expected_params={"Name": f"{CLAIM}/{generation}"})


def put(aws, generation, overwrite, error=None):
    from botocore.stub import ANY

    expected = {"Name": f"{CLAIM}/{generation}", "Value": ANY, "Type": "String", "Overwrite": overwrite, "Description": ANY}
    if error:
        aws["ssm"].add_client_error("put_parameter", error, http_status_code=400, expected_params=expected,
                                    service_message="The parameter already exists. To overwrite this value, set the "
                                                    "overwrite option in the request to true.")
    else:
        aws["ssm"].add_response("put_parameter", {"Version": 1}, expected)


def nothing_found(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})


def created(aws, tags=None):
    from botocore.stub import ANY

    aws["ds"].add_response("create_microsoft_ad", {"DirectoryId": ID}, {
        "Name": "corp.example.com", "Password": PASSWORD, "Edition": "Standard",
        "VpcSettings": {"VpcId": VPC, "SubnetIds": SUBNETS}, "Tags": [{"Key": "aurora.kerberos:claim", "Value": ANY}]})


def test_a_run_claims_the_creation_creates_and_records_the_directory_in_its_claim(aws):
    nothing_found(aws)
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    no_parameter(aws, 1)
    put(aws, 1, False)
    nothing_found(aws)  # looked for again once claimed
    created(aws)
    put(aws, 1, True)  # the claim now names the directory
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    result = run(wait=False, claim=True, **CREATE)
    assert result["changed"] is True and result["directory"]["directory_id"] == ID
    assert result["claim"]["parameter"] == f"{CLAIM}/1" and result["claim"]["outcome"] == "created"
    assert result["claim"]["directory_id"] == ID


def test_a_run_that_loses_the_claim_adopts_the_winner_s_directory_and_creates_none(aws):
    """PutParameter without Overwrite refused (another run claimed first): no CreateMicrosoftAD (the stubber fails
    on a call it was not given); the run waits for the winner's directory and adopts it."""
    nothing_found(aws)
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    no_parameter(aws, 1)
    put(aws, 1, False, error="ParameterAlreadyExists")
    aws["ssm"].add_response("get_parameter", parameter(1), {"Name": f"{CLAIM}/1"})
    no_parameter(aws, 2)
    nothing_found(aws)  # the winner has not created it yet: wait a poll_interval
    aws["ssm"].add_response("get_parameter", parameter(1, directory_id=ID), {"Name": f"{CLAIM}/1"})
    no_parameter(aws, 2)
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    result = run(wait=False, claim=True, poll_interval=1, **CREATE)
    assert result["changed"] is False and result["directory"]["directory_id"] == ID
    assert result["claim"]["outcome"] == "adopted" and result["claim"]["owner"] == "other-host:1:abc"


def test_a_stale_claim_is_taken_over_with_the_next_generation(aws):
    """A claim older than claim_timeout that names no directory: its run died. The next generation is created
    without Overwrite (only one run can take over), then the directory."""
    nothing_found(aws)
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ssm"].add_response("get_parameter", parameter(1, age_seconds=901), {"Name": f"{CLAIM}/1"})
    no_parameter(aws, 2)
    put(aws, 2, False)
    nothing_found(aws)
    created(aws)
    put(aws, 2, True)
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    result = run(wait=False, claim=True, claim_timeout=900, **CREATE)
    assert result["changed"] is True
    assert result["claim"]["parameter"] == f"{CLAIM}/2" and result["claim"]["outcome"] == "created after a stale claim"


def test_a_live_claim_is_not_taken_over_and_the_wait_ends_with_what_to_do(aws, monkeypatch):
    nothing_found(aws)
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ssm"].add_response("get_parameter", parameter(1, age_seconds=10), {"Name": f"{CLAIM}/1"})
    no_parameter(aws, 2)
    nothing_found(aws)
    aws["ssm"].add_response("get_parameter", parameter(1, age_seconds=12), {"Name": f"{CLAIM}/1"})
    no_parameter(aws, 2)
    nothing_found(aws)
    import itertools
    import time

    clock = itertools.count(0, 100)  # each reading of the clock 100 s later: the second wait is past wait_timeout
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    result = run(wait=False, claim=True, wait_timeout=150, poll_interval=1, **CREATE)
    assert result["failed"] and "another run claimed" in result["msg"] and "directory_claim_timeout" in result["msg"]


def test_deleting_the_directory_deletes_its_claims(aws):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described()]}, {})
    aws["rds"].add_response("describe_db_clusters", {"DBClusters": []}, {})
    aws["ds"].add_response("describe_shared_directories", {"SharedDirectories": []}, {"OwnerDirectoryId": ID})
    aws["rds"].add_response("describe_db_instances", {"DBInstances": []}, {})
    aws["ds"].add_response("describe_regions", {"RegionsDescription": []}, {"DirectoryId": ID})
    aws["ds"].add_response("delete_directory", {"DirectoryId": ID}, {"DirectoryId": ID})
    aws["ssm"].add_response("get_parameter", parameter(1, directory_id=ID), {"Name": f"{CLAIM}/1"})
    aws["ssm"].add_response("get_parameter", parameter(2, directory_id=ID), {"Name": f"{CLAIM}/2"})
    no_parameter(aws, 3)
    for generation in (1, 2):
        aws["ssm"].add_response("delete_parameter", {}, {"Name": f"{CLAIM}/{generation}"})
    result = run(name="corp.example.com", vpc_id=VPC, state="absent", wait=False, claim=True)
    assert result["changed"] is True, result


def test_without_wait_a_new_directory_returns_once_its_security_group_is_published(aws):
    """wait=false: not Active, but not before VpcSettings.SecurityGroupId, which the security group rules need."""
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    aws["ds"].add_response("create_microsoft_ad", {"DirectoryId": ID}, None)
    requested = described("Requested", VpcSettings={"VpcId": VPC, "SubnetIds": SUBNETS})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [requested]}, {"DirectoryIds": [ID]})
    for dummy in range(2):  # the waiter's poll that sees it, then the module's read
        aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    result = run(wait=False, claim=False, poll_interval=1, **CREATE)
    assert result["changed"] is True
    assert result["directory"]["stage"] == "Creating" and result["directory"]["security_group_id"] == "sg-0123456789abcdef0"


def test_without_wait_a_found_directory_without_its_security_group_yet_is_waited_for(aws):
    # Found by name with subnet_ids given: they are read all the same (a wrong value is refused, never ignored).
    aws["ec2"].add_response("describe_subnets", subnets(), {"SubnetIds": SUBNETS})
    requested = described("Requested", VpcSettings={"VpcId": VPC, "SubnetIds": SUBNETS})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [requested]}, {})
    aws["ds"].add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": ID})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [described("Creating")]}, {"DirectoryIds": [ID]})
    result = run(wait=False, poll_interval=1, **CREATE)
    assert result["changed"] is False and result["directory"]["security_group_id"] == "sg-0123456789abcdef0"
