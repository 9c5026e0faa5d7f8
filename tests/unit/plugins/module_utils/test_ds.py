# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ds module_utils: validation, lookups and waiters, with botocore's Stubber checking every request."""

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils import input_rules

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]


def directory(directory_id="d-1234567890", name="corp.example.com", stage="Active", vpc=VPC, **extra):
    return dict(DirectoryId=directory_id, Name=name, ShortName="CORP", Type="MicrosoftAD", Edition="Standard",
                Stage=stage, DnsIpAddrs=["10.0.1.10", "10.0.2.10"],
                VpcSettings={"VpcId": vpc, "SubnetIds": SUBNETS, "SecurityGroupId": "sg-0123456789abcdef0"}, **extra)


@pytest.fixture
def client():
    ds_client = boto3.client("ds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ds_client) as stubber:
        ds_client.stubber = stubber
        yield ds_client
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("password, problem", [
    ("Sh0rt!", "8 to 64"),
    ("x" * 65, "8 to 64"),
    ("MyAdmin-Passw0rd", "admin"),
    ("alllowercase1", "3 of"),
    ("Passw0rd!", None),
    ("Password!", None),
    ("passw0rd!", None),
    # The model's classes are ASCII, and whitespace is not a symbol (AWS_FACTS.md section 1).
    ("abcdefgh 1", "3 of"),
    ("ABCDEFGH 1", "3 of"),
    ("\u00e9\u00e9\u00e9\u00e9\u00e9!!1", "3 of"),  # a non-ASCII letter is no letter: here a second symbol
    ("abcdefg!\u0663", "3 of"),  # an Arabic-Indic digit is no digit (the model's \\d is ASCII)
    ("abcdefgh 1!", None),
    ("\u00e9bcdefgh1!", None),
])
def test_admin_password_rules(password, problem):
    found = input_rules.admin_password_problem(password)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("kwargs, expect", [
    ({"name": "corp"}, "name 'corp' must be the directory's fully qualified DNS name"),
    ({"name": "corp..example.com"}, "fully qualified"),
    ({"short_name": "CORP:EXAMPLE"}, "short_name"),
    ({"short_name": "A" * 16}, "short_name"),
    ({"vpc_id": "10.0.0.0/16"}, "vpc_id '10.0.0.0/16' is not a VPC id"),
    ({"subnet_ids": SUBNETS[:1]}, "exactly 2 different subnets"),
    ({"subnet_ids": [SUBNETS[0], SUBNETS[0]]}, "exactly 2 different subnets"),
    ({"subnet_ids": ["10.0.1.0/24", SUBNETS[1]]}, "not subnet ids"),
    ({"directory_id": "d-123"}, "directory_id 'd-123' is not a directory id"),
    ({"edition": "Premium"}, "edition must be one of"),
    ({"edition": "Hybrid"}, "CreateHybridAD"),
    ({"name": "corp.example.com."}, "ends with a dot"),
    ({"name": "corp.example"}, "reserves (*.example, *.invalid, *.localhost)"),
    ({"name": "ad.corp.INVALID"}, "reserves"),
    ({"name": "corp.localhost"}, "reserves"),
    ({"short_name": ".CORP"}, "not starting with a period"),
    ({"short_name": "CORP/1"}, "short_name"),
    ({"password": "weak"}, "password must be 8 to 64"),
])
def test_each_bad_input_names_its_option(kwargs, expect):
    problems = ds.directory_input_problems(**kwargs)
    assert len(problems) == 1 and expect in problems[0], problems


@pytest.mark.parametrize("short_name", ["CORP", "CORP.1", "A-B_C", "C"])
def test_short_names_the_model_accepts(short_name):
    assert ds.directory_input_problems(short_name=short_name) == []


@pytest.mark.parametrize("name", ["corp.example.com", "ad.example.org", "example.com", "corp.examples"])
def test_names_outside_the_reserved_domains_pass(name):
    assert ds.directory_input_problems(name=name) == []


def test_hybrid_names_the_operation_that_makes_it():
    problem = ds.directory_input_problems(edition="Hybrid")[0]
    assert "CreateHybridAD" in problem and "StartADAssessment" in problem and "Standard or Enterprise" in problem


def test_good_input_has_no_problem():
    assert ds.directory_input_problems(name="corp.example.com", short_name="CORP", password="Passw0rd!x",
                                       vpc_id=VPC, subnet_ids=SUBNETS, directory_id="d-1234567890",
                                       edition="Standard") == []


def test_find_by_name_and_vpc_across_pages_ignores_deleting(client):
    client.stubber.add_response("describe_directories", {
        "DirectoryDescriptions": [directory("d-0000000001", stage="Deleting"), directory("d-0000000002", vpc="vpc-1111111111111111a")],
        "NextToken": "page2"}, {})
    client.stubber.add_response("describe_directories", {
        "DirectoryDescriptions": [directory("d-0000000003", name="CORP.example.com"), directory("d-0000000004", name="other.example.com")]},
        {"NextToken": "page2"})
    found = ds.find_directories(client, "corp.example.com", VPC)
    assert [d["DirectoryId"] for d in found] == ["d-0000000003"]


def test_missing_directory_reads_as_none(client):
    client.stubber.add_client_error("describe_directories", "EntityDoesNotExistException", "Directory d-1234567890 does not exist",
                                    expected_params={"DirectoryIds": ["d-1234567890"]})
    assert ds.get_directory(client, "d-1234567890") is None


def test_check_mode_creates_nothing(client):
    assert ds.create_microsoft_ad(client, True, "corp.example.com", "Passw0rd!x", VPC, SUBNETS) is None


def test_create_sends_only_what_was_given(client):
    client.stubber.add_response("create_microsoft_ad", {"DirectoryId": "d-1234567890"}, {
        "Name": "corp.example.com", "Password": "Passw0rd!x", "VpcSettings": {"VpcId": VPC, "SubnetIds": SUBNETS},
        "Edition": "Standard", "Tags": [{"Key": "team", "Value": "db"}]})
    assert ds.create_microsoft_ad(client, False, "corp.example.com", "Passw0rd!x", VPC, SUBNETS, edition="Standard",
                                  tags={"team": "db"}) == "d-1234567890"


@pytest.mark.parametrize("stages, outcome", [
    (["Requested", "Creating", "Active"], "success"),
    (["Creating", "Failed"], "failure"),
    (["Creating", "Impaired"], "failure"),
])
def test_directory_active_waiter(client, stages, outcome):
    for stage in stages:
        client.stubber.add_response("describe_directories", {"DirectoryDescriptions": [directory(stage=stage)]},
                                    {"DirectoryIds": ["d-1234567890"]})
    waiter = ds.DSWaiterFactory().get_waiter(client, "directory_active")
    config = {"Delay": 0, "MaxAttempts": 5}
    if outcome == "success":
        waiter.wait(DirectoryIds=["d-1234567890"], WaiterConfig=config)
    else:
        with pytest.raises(Exception, match="terminal failure"):
            waiter.wait(DirectoryIds=["d-1234567890"], WaiterConfig=config)


def test_directory_deleted_waiter_ends_on_not_found(client):
    client.stubber.add_response("describe_directories", {"DirectoryDescriptions": [directory(stage="Deleting")]},
                                {"DirectoryIds": ["d-1234567890"]})
    client.stubber.add_client_error("describe_directories", "EntityDoesNotExistException", "gone",
                                    expected_params={"DirectoryIds": ["d-1234567890"]})
    ds.DSWaiterFactory().get_waiter(client, "directory_deleted").wait(
        DirectoryIds=["d-1234567890"], WaiterConfig={"Delay": 0, "MaxAttempts": 5})


def test_normalize_puts_what_users_need_first():
    result = ds.normalize(directory(), {"team": "db"})
    assert result["directory_id"] == "d-1234567890" and "id" not in result  # one name for the id
    assert result["realm"] == "CORP.EXAMPLE.COM"
    assert result["dns_ip_addrs"] == ["10.0.1.10", "10.0.2.10"]
    assert result["security_group_id"] == "sg-0123456789abcdef0"
    assert result["short_name"] == "CORP" and result["tags"] == {"team": "db"}


# --- trusts -----------------------------------------------------------------------------------

TRUST_ID = "t-1234567890"


def trust(state="Verified", remote="onprem.example.com", trust_id=TRUST_ID, **extra):
    return dict(DirectoryId="d-1234567890", TrustId=trust_id, RemoteDomainName=remote, TrustType="Forest",
                TrustDirection="One-Way: Outgoing", TrustState=state, SelectiveAuth="Disabled", **extra)


@pytest.mark.parametrize("password, problem", [
    ("", "1 to 128"),
    ("x" * 129, "1 to 128"),
    ("tab\tinside", "letters, digits, punctuation and spaces"),
    ("Trust Passw0rd!", None),
    ("Vertrauen-Schlüssel 1", None),
])
def test_trust_password_rules(password, problem):
    found = ds.trust_password_problem(password)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("kwargs, expect", [
    ({"directory_id": "d-xyz"}, "directory_id 'd-xyz' is not a directory id"),
    ({"remote_domain_name": "onprem"}, "remote_domain_name 'onprem' must be the on-premises forest's fully qualified"),
    ({"trust_password": "new\nline"}, "trust_password may contain only"),
    ({"conditional_forwarder_ip_addrs": []}, "conditional_forwarder_ip_addrs must list at least one"),
    ({"conditional_forwarder_ip_addrs": ["10.0.0.1", "dc1.onprem"]}, "['dc1.onprem'] are not IPv4 addresses"),
    ({"conditional_forwarder_ip_addrs": ["fd00::1"]}, "are not IPv4 addresses"),
])
def test_each_bad_trust_input_names_its_option(kwargs, expect):
    problems = ds.trust_input_problems(**kwargs)
    assert len(problems) == 1 and expect in problems[0], problems


def test_good_trust_input_has_no_problem():
    assert ds.trust_input_problems(directory_id="d-1234567890", remote_domain_name="onprem.example.com.",
                                   trust_password="Trust Passw0rd!", conditional_forwarder_ip_addrs=["10.10.0.10"]) == []


def test_a_bad_password_is_never_repeated():
    problems = ds.trust_input_problems(trust_password="s3cret\x00")
    assert problems and "s3cret" not in problems[0]


def test_find_trust_by_remote_domain_across_pages_ignores_deleted(client):
    client.stubber.add_response("describe_trusts", {
        "Trusts": [trust(remote="ONPREM.example.com", trust_id="t-0000000001", state="Deleted")], "NextToken": "p2"},
        {"DirectoryId": "d-1234567890"})
    client.stubber.add_response("describe_trusts", {
        "Trusts": [trust(remote="other.example.com", trust_id="t-0000000002"), trust(remote="OnPrem.Example.com.")]},
        {"DirectoryId": "d-1234567890", "NextToken": "p2"})
    assert ds.find_trust(client, "d-1234567890", "onprem.example.com")["TrustId"] == TRUST_ID


def test_trusts_of_a_missing_directory_read_as_none(client):
    client.stubber.add_client_error("describe_trusts", "EntityDoesNotExistException", "no such directory",
                                    expected_params={"DirectoryId": "d-1234567890"})
    assert ds.find_trust(client, "d-1234567890", "onprem.example.com") is None


def test_create_trust_sends_only_what_was_given_and_nothing_in_check_mode(client):
    assert ds.create_trust(client, True, "d-1234567890", "onprem.example.com", "pw", "Two-Way") is None
    client.stubber.add_response("create_trust", {"TrustId": TRUST_ID}, {
        "DirectoryId": "d-1234567890", "RemoteDomainName": "onprem.example.com", "TrustPassword": "pw",
        "TrustDirection": "Two-Way", "ConditionalForwarderIpAddrs": ["10.10.0.10"]})
    assert ds.create_trust(client, False, "d-1234567890", "onprem.example.com", "pw", "Two-Way",
                           conditional_forwarder_ip_addrs=["10.10.0.10"]) == TRUST_ID


def test_trust_changes_are_skipped_in_check_mode(client):
    assert ds.verify_trust(client, True, TRUST_ID) is True
    assert ds.update_trust(client, True, TRUST_ID, "Enabled") is True
    assert ds.delete_trust(client, True, TRUST_ID) is True
    assert ds.set_conditional_forwarder(client, True, "d-1234567890", "onprem.example.com", ["10.0.0.1"], True)


def test_delete_trust_that_is_already_gone_is_no_error(client):
    client.stubber.add_client_error("delete_trust", "EntityDoesNotExistException", "gone",
                                    expected_params={"TrustId": TRUST_ID, "DeleteAssociatedConditionalForwarder": True})
    assert ds.delete_trust(client, False, TRUST_ID, True) is False


def test_a_failing_call_raises_the_ds_error_naming_the_action(client):
    client.stubber.add_client_error("verify_trust", "ClientException", "denied", expected_params={"TrustId": TRUST_ID})
    with pytest.raises(ds.AnsibleDSError, match="Failed to verify trust"):
        ds.verify_trust(client, False, TRUST_ID)


@pytest.mark.parametrize("answer, expected", [
    ({"ConditionalForwarders": [{"RemoteDomainName": "onprem.example.com", "DnsIpAddrs": ["10.10.0.10"]}]}, ["10.10.0.10"]),
    ({"ConditionalForwarders": []}, None),
    ("EntityDoesNotExistException", None),
])
def test_conditional_forwarder_lookup(client, answer, expected):
    params = {"DirectoryId": "d-1234567890", "RemoteDomainNames": ["onprem.example.com"]}
    if isinstance(answer, str):
        client.stubber.add_client_error("describe_conditional_forwarders", answer, "none", expected_params=params)
    else:
        client.stubber.add_response("describe_conditional_forwarders", answer, params)
    assert ds.get_conditional_forwarder(client, "d-1234567890", "onprem.example.com") == expected


@pytest.mark.parametrize("exists, operation", [(True, "update_conditional_forwarder"), (False, "create_conditional_forwarder")])
def test_conditional_forwarder_is_created_or_updated(client, exists, operation):
    client.stubber.add_response(operation, {}, {"DirectoryId": "d-1234567890", "RemoteDomainName": "onprem.example.com",
                                                "DnsIpAddrs": ["10.10.0.10"]})
    assert ds.set_conditional_forwarder(client, False, "d-1234567890", "onprem.example.com", ["10.10.0.10"], exists)


@pytest.mark.parametrize("states, outcome", [
    (["Creating", "Created", "Verifying", "Verified"], "success"),
    (["Updating", "Updated"], "success"),
    (["Creating", "VerifyFailed"], "failure"),
    (["Verifying", "Failed"], "failure"),
    (["Creating", "Deleted"], "failure"),
])
def test_trust_verified_waiter(client, states, outcome):
    for state in states:
        client.stubber.add_response("describe_trusts", {"Trusts": [trust(state)]},
                                    {"DirectoryId": "d-1234567890", "TrustIds": [TRUST_ID]})
    waiter = ds.DSTrustShareWaiterFactory().get_waiter(client, "trust_verified")
    config = {"Delay": 0, "MaxAttempts": 5}
    if outcome == "success":
        waiter.wait(DirectoryId="d-1234567890", TrustIds=[TRUST_ID], WaiterConfig=config)
    else:
        with pytest.raises(Exception, match="terminal failure"):
            waiter.wait(DirectoryId="d-1234567890", TrustIds=[TRUST_ID], WaiterConfig=config)


@pytest.mark.parametrize("last", [{"Trusts": []}, "EntityDoesNotExistException", {"Trusts": [trust("Deleted")]}])
def test_trust_deleted_waiter(client, last):
    params = {"DirectoryId": "d-1234567890", "TrustIds": [TRUST_ID]}
    client.stubber.add_response("describe_trusts", {"Trusts": [trust("Deleting")]}, params)
    if isinstance(last, str):
        client.stubber.add_client_error("describe_trusts", last, "gone", expected_params=params)
    else:
        client.stubber.add_response("describe_trusts", last, params)
    ds.DSTrustShareWaiterFactory().get_waiter(client, "trust_deleted").wait(
        DirectoryId="d-1234567890", TrustIds=[TRUST_ID], WaiterConfig={"Delay": 0, "MaxAttempts": 5})


def test_verification_start_waits_out_the_stale_failure(client):
    params = {"DirectoryId": "d-1234567890", "TrustIds": [TRUST_ID]}
    client.stubber.add_response("describe_trusts", {"Trusts": [trust("VerifyFailed")]}, params)
    client.stubber.add_response("describe_trusts", {"Trusts": [trust("Verifying")]}, params)
    assert ds.wait_for_verification_start(client, "d-1234567890", TRUST_ID, timeout=10) is True


def test_verification_start_gives_up_quietly(client, monkeypatch):
    params = {"DirectoryId": "d-1234567890", "TrustIds": [TRUST_ID]}
    for _attempt in range(3):
        client.stubber.add_response("describe_trusts", {"Trusts": [trust("VerifyFailed")]}, params)
    monkeypatch.setattr(ds, "_config", lambda timeout, pause=15: {"Delay": 0, "MaxAttempts": 3})
    assert ds.wait_for_verification_start(client, "d-1234567890", TRUST_ID) is False


def test_failure_hint_says_what_to_check():
    hint = ds.trust_failure_hint(trust("VerifyFailed", TrustStateReason="The RPC server is unavailable"))
    assert "is VerifyFailed: The RPC server is unavailable" in hint
    assert "same password and the opposite direction (One-Way: Incoming)" in hint
    assert "conditional forwarders on both sides" in hint and "security group allows outbound" in hint
    assert "resolve each other's names" in hint and "verify=true" in hint


def test_normalize_trust_names_each_value_once_as_aws_does():
    result = ds.normalize_trust(trust(TrustStateReason="ok"), ["10.10.0.10"])
    assert result["trust_id"] == TRUST_ID and result["trust_state"] == "Verified" and result["trust_state_reason"] == "ok"
    assert result["trust_direction"] == "One-Way: Outgoing" and result["trust_type"] == "Forest"
    assert result["selective_auth"] == "Disabled" and result["conditional_forwarder_ip_addrs"] == ["10.10.0.10"]
    assert not {"id", "state", "state_reason", "direction", "type"} & set(result)
    assert ds.normalize_trust(None) == {}


# --- shares -----------------------------------------------------------------------------------

OWNER_ID, SHARED_ID, ACCOUNT = "d-1234567890", "d-9876543210", "222233334444"


def share(status="Shared", shared_id=SHARED_ID, account=ACCOUNT, **extra):
    return dict(OwnerAccountId="111122223333", OwnerDirectoryId=OWNER_ID, ShareMethod="HANDSHAKE",
                SharedAccountId=account, SharedDirectoryId=shared_id, ShareStatus=status, **extra)


def consumer_view(status="Shared", shared_id=SHARED_ID):
    return dict(DirectoryId=shared_id, Name="corp.example.com", Type="SharedMicrosoftAD", Stage="Active",
                ShareStatus=status, ShareMethod="HANDSHAKE", ShareNotes="for orders",
                OwnerDirectoryDescription={"DirectoryId": OWNER_ID, "AccountId": "111122223333",
                                           "DnsIpAddrs": ["10.0.1.10"]})


@pytest.mark.parametrize("kwargs, expect", [
    ({"directory_id": "d-12"}, "directory_id 'd-12' is not a directory id"),
    ({"shared_directory_id": "D-1234567890"}, "shared_directory_id 'D-1234567890' is not a directory id"),
    ({"target_account_id": "22223333444"}, "target_account_id '22223333444' must be a 12-digit AWS account id"),
    ({"target_account_id": "arn:aws:iam::222233334444:root"}, "12-digit"),
    ({"share_notes": "n" * 1025}, "share_notes must be at most 1024 characters (got 1025)"),
])
def test_each_bad_share_input_names_its_option(kwargs, expect):
    problems = ds.share_input_problems(**kwargs)
    assert len(problems) == 1 and expect in problems[0], problems


def test_find_share_prefers_the_live_one(client):
    client.stubber.add_response("describe_shared_directories", {"SharedDirectories": [
        share("Rejected", shared_id="d-0000000001"), share(account="999988887777", shared_id="d-0000000002"),
        share("PendingAcceptance")]}, {"OwnerDirectoryId": OWNER_ID})
    assert ds.find_share(client, OWNER_ID, ACCOUNT)["SharedDirectoryId"] == SHARED_ID


def test_find_share_returns_an_ended_one_when_nothing_is_live(client):
    client.stubber.add_response("describe_shared_directories", {"SharedDirectories": [share("Deleted")]},
                                {"OwnerDirectoryId": OWNER_ID})
    assert ds.find_share(client, OWNER_ID, ACCOUNT)["ShareStatus"] == "Deleted"


def test_find_share_on_nothing(client):
    client.stubber.add_response("describe_shared_directories", {"SharedDirectories": []}, {"OwnerDirectoryId": OWNER_ID})
    assert ds.find_share(client, OWNER_ID, ACCOUNT) is None


def test_the_consumer_finds_its_share_by_the_owners_directory(client):
    client.stubber.add_response("describe_directories", {"DirectoryDescriptions": [
        directory(), consumer_view("Rejected", "d-0000000001"), consumer_view("PendingAcceptance")]}, {})
    assert ds.find_consumer_directory(client, owner_directory_id=OWNER_ID)["DirectoryId"] == SHARED_ID


def test_the_consumer_finds_its_share_by_id(client):
    client.stubber.add_response("describe_directories", {"DirectoryDescriptions": [consumer_view()]},
                                {"DirectoryIds": [SHARED_ID]})
    assert ds.find_consumer_directory(client, shared_directory_id=SHARED_ID)["ShareStatus"] == "Shared"


def test_share_calls_send_the_target_and_skip_check_mode(client):
    assert ds.share_directory(client, True, OWNER_ID, ACCOUNT, "HANDSHAKE") is None
    assert ds.unshare_directory(client, True, OWNER_ID, ACCOUNT) is True
    assert ds.accept_shared_directory(client, True, SHARED_ID) is True
    assert ds.reject_shared_directory(client, True, SHARED_ID) is True
    client.stubber.add_response("share_directory", {"SharedDirectoryId": SHARED_ID}, {
        "DirectoryId": OWNER_ID, "ShareTarget": {"Id": ACCOUNT, "Type": "ACCOUNT"}, "ShareMethod": "HANDSHAKE",
        "ShareNotes": "for orders"})
    client.stubber.add_response("unshare_directory", {"SharedDirectoryId": SHARED_ID}, {
        "DirectoryId": OWNER_ID, "UnshareTarget": {"Id": ACCOUNT, "Type": "ACCOUNT"}})
    client.stubber.add_response("accept_shared_directory", {"SharedDirectory": share()}, {"SharedDirectoryId": SHARED_ID})
    client.stubber.add_response("reject_shared_directory", {"SharedDirectoryId": SHARED_ID}, {"SharedDirectoryId": SHARED_ID})
    assert ds.share_directory(client, False, OWNER_ID, ACCOUNT, "HANDSHAKE", "for orders") == SHARED_ID
    assert ds.unshare_directory(client, False, OWNER_ID, ACCOUNT) is True
    assert ds.accept_shared_directory(client, False, SHARED_ID) is True
    assert ds.reject_shared_directory(client, False, SHARED_ID) is True


@pytest.mark.parametrize("waiter_name, statuses, outcome", [
    ("share_offered", ["Sharing", "PendingAcceptance"], "success"),
    ("share_offered", ["Sharing", "Shared"], "success"),
    ("share_offered", ["Sharing", "ShareFailed"], "failure"),
    ("share_shared", ["PendingAcceptance", "Shared"], "success"),
    ("share_shared", ["PendingAcceptance", "Rejected"], "failure"),
    ("share_deleted", ["Deleting", "Deleted"], "success"),
    ("share_deleted", ["Deleting", None], "success"),
])
def test_owner_share_waiters(client, waiter_name, statuses, outcome):
    params = {"OwnerDirectoryId": OWNER_ID, "SharedDirectoryIds": [SHARED_ID]}
    for status in statuses:
        client.stubber.add_response("describe_shared_directories",
                                    {"SharedDirectories": [share(status)] if status else []}, params)
    waiter = ds.DSTrustShareWaiterFactory().get_waiter(client, waiter_name)
    config = {"Delay": 0, "MaxAttempts": 5}
    if outcome == "success":
        waiter.wait(WaiterConfig=config, **params)
    else:
        with pytest.raises(Exception, match="terminal failure"):
            waiter.wait(WaiterConfig=config, **params)


@pytest.mark.parametrize("waiter_name, statuses", [
    ("consumer_shared", ["PendingAcceptance", "Sharing", "Shared"]),
    ("consumer_rejected", ["Rejecting", "Rejected"]),
])
def test_consumer_share_waiters(client, waiter_name, statuses):
    for status in statuses:
        client.stubber.add_response("describe_directories", {"DirectoryDescriptions": [consumer_view(status)]},
                                    {"DirectoryIds": [SHARED_ID]})
    ds.DSTrustShareWaiterFactory().get_waiter(client, waiter_name).wait(
        DirectoryIds=[SHARED_ID], WaiterConfig={"Delay": 0, "MaxAttempts": 5})


def test_share_results_never_carry_the_notes():
    owner = ds.normalize_share(share(ShareNotes="for orders"))
    consumer = ds.normalize_consumer_directory(consumer_view())
    assert "share_notes" not in owner and "for orders" not in repr(owner) and "for orders" not in repr(consumer)
    assert owner["shared_directory_id"] == consumer["shared_directory_id"] == SHARED_ID
    assert owner["owner_directory_id"] == consumer["owner_directory_id"] == OWNER_ID
    assert consumer["owner_account_id"] == "111122223333" and consumer["share_status"] == "Shared"
    assert consumer["dns_ip_addrs"] == ["10.0.1.10"]
    assert ds.normalize_share(None) == {} and ds.normalize_consumer_directory(None) == {}


def test_a_throttled_poll_does_not_end_the_wait(client):
    client.stubber.add_client_error("describe_directories", "ThrottlingException", "Rate exceeded",
                                    expected_params={"DirectoryIds": ["d-1234567890"]})
    client.stubber.add_response("describe_directories", {"DirectoryDescriptions": [directory(stage="Active")]},
                                {"DirectoryIds": ["d-1234567890"]})
    ds.DSWaiterFactory().get_waiter(client, "directory_active").wait(
        DirectoryIds=["d-1234567890"], WaiterConfig={"Delay": 0, "MaxAttempts": 5})


# --- the waiters raise; the module reports ----------------------------------------------------------------

def test_a_failed_directory_wait_raises_with_the_reason_and_the_directory(client):
    for dummy in range(2):  # the waiter's read, then the read that explains it
        client.stubber.add_response("describe_directories",
                                    {"DirectoryDescriptions": [directory(stage="Failed", StageReason="subnets full")]},
                                    {"DirectoryIds": ["d-1234567890"]})
    with pytest.raises(ds.AnsibleDSError, match="is Failed: subnets full") as raised:
        ds.wait_for(client, "directory_active", "d-1234567890", timeout=1, pause=1)
    assert raised.value.kwargs["directory"]["stage"] == "Failed" and raised.value.exception is None


def test_a_failed_trust_wait_raises_with_the_trust(client):
    for dummy in range(2):
        client.stubber.add_response("describe_trusts", {"Trusts": [trust("VerifyFailed", TrustStateReason="RPC down")]})
    with pytest.raises(ds.AnsibleDSError, match="RPC down") as raised:
        ds.wait_for_trust(client, "trust_verified", "d-1234567890", TRUST_ID, timeout=1, pause=1)
    assert raised.value.kwargs["trust"]["trust_state"] == "VerifyFailed"


class Failed(Exception):
    pass


class Module:
    def fail_json(self, **kwargs):
        raise Failed(kwargs)

    def fail_json_aws(self, exception, **kwargs):
        raise Failed(dict(kwargs, exception=exception))


def test_fail_reports_what_the_error_carries():
    with pytest.raises(Failed) as failed:
        ds.fail(Module(), ds.AnsibleDSError("Directory d-1 is Failed", directory={"id": "d-1"}))
    assert failed.value.args[0] == {"msg": "Directory d-1 is Failed", "directory": {"id": "d-1"}}
    cause = ValueError("timed out")
    with pytest.raises(Failed) as failed:
        ds.fail(Module(), ds.AnsibleDSError("Timed out", exception=cause, share={"status": "Pending"}))
    assert failed.value.args[0] == {"msg": "Timed out", "exception": cause, "share": {"status": "Pending"}}
