# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""preflight module_utils: each check's ok, warn and fail, with botocore's Stubber checking every request."""

import json
import urllib.parse

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from ansible_collections.aurora.kerberos.plugins.module_utils import preflight

ID = "d-1234567890"
ROLE = "rds-directory-access"
DB_VPC = "vpc-0aaaaaaaaaaaaaaaa"
DIR_VPC = "vpc-0bbbbbbbbbbbbbbbb"
DB_SG = "sg-0aaaaaaaaaaaaaaaa"
DIR_SG = "sg-0bbbbbbbbbbbbbbbb"
PCX = "pcx-0123456789abcdef0"
POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
SESSION = boto3.session.Session()


class Stubbed:
    """Stubbed clients made on first use; every queued answer must be used."""

    def __init__(self):
        self.clients, self.stubs = {}, {}

    def __getitem__(self, name):
        if name not in self.clients:
            client = SESSION.client(name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
            self.clients[name], self.stubs[name] = client, Stubber(client)
            self.stubs[name].activate()
        return self.clients[name]

    def stub(self, name):
        self[name]
        return self.stubs[name]


@pytest.fixture
def aws():
    stubbed = Stubbed()
    yield stubbed, _StubView(stubbed)
    for stubber in stubbed.stubs.values():
        stubber.assert_no_pending_responses()


class _StubView:
    def __init__(self, stubbed):
        self.stubbed = stubbed

    def __getitem__(self, name):
        return self.stubbed.stub(name)


def _one(aws, name):
    stubbed, stubs = aws
    return stubbed[name], stubs[name]


@pytest.fixture
def rds(aws):
    return _one(aws, "rds")


@pytest.fixture
def ds_(aws):
    return _one(aws, "ds")


@pytest.fixture
def iam(aws):
    return _one(aws, "iam")


@pytest.fixture
def ec2(aws):
    return _one(aws, "ec2")


@pytest.fixture
def sts(aws):
    return _one(aws, "sts")


def row(kerberos=True, instance_class="db.r6g.large"):
    return {"Engine": "aurora-postgresql", "EngineVersion": "16.4", "DBInstanceClass": instance_class,
            "SupportsKerberosAuthentication": kerberos}


def orderable(stub, rows, **params):
    stub.add_response("describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": rows},
                      dict({"Engine": "aurora-postgresql", "MaxRecords": 1000}, **params))


def directory(**extra):
    values = dict(DirectoryId=ID, Name="corp.example.com", Type="MicrosoftAD", Stage="Active",
                  DnsIpAddrs=["10.1.1.10", "10.1.2.10"],
                  VpcSettings={"VpcId": DIR_VPC, "SubnetIds": [], "SecurityGroupId": DIR_SG})
    values.update(extra)
    return values


def trust(*services, action="sts:AssumeRole", effect="Allow"):
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Principal": {"Service": list(services)},
                                                    "Action": action}]}


def role_answer(stub, document, arn=f"arn:aws:iam::123456789012:role/{ROLE}"):
    stub.add_response("get_role", {"Role": {
        "Path": "/", "RoleName": ROLE, "RoleId": "AROAEXAMPLEEXAMPLE123", "Arn": arn, "CreateDate": "2024-01-01T00:00:00Z",
        "AssumeRolePolicyDocument": urllib.parse.quote(json.dumps(document))}}, {"RoleName": ROLE})


def sg(group_id, ingress=(), egress=()):
    return {"GroupId": group_id, "IpPermissions": list(ingress), "IpPermissionsEgress": list(egress)}


def tcp(port_from, port_to=None, group=None, cidr=None):
    rule = {"IpProtocol": "tcp", "FromPort": port_from, "ToPort": port_to if port_to is not None else port_from}
    if group:
        rule["UserIdGroupPairs"] = [{"GroupId": group}]
    if cidr:
        rule["IpRanges"] = [{"CidrIp": cidr}]
    return rule


def all_traffic(group=None, cidr=None):
    rule = {"IpProtocol": "-1"}
    if group:
        rule["UserIdGroupPairs"] = [{"GroupId": group}]
    if cidr:
        rule["IpRanges"] = [{"CidrIp": cidr}]
    return rule


def sgs_answer(stub, ids, *groups):
    stub.add_response("describe_security_groups", {"SecurityGroups": list(groups)}, {"GroupIds": list(ids)})


# --- helpers ------------------------------------------------------------------------------------

def test_summary_lists_each_failing_finding_with_its_fix():
    findings = [preflight.finding("a", "ok", "fine"), preflight.finding("b", "fail", "broken.", "Mend it."),
                preflight.finding("c", "warn", "odd.")]
    assert preflight.summary(findings) == "[b] broken. Fix: Mend it."
    assert preflight.summary(findings, ("warn", "fail")) == "[b] broken. Fix: Mend it.; [c] odd."
    assert [f["check"] for f in preflight.failing(findings, ("warn",))] == ["c"]


def test_target_from_cluster_takes_the_vpc_from_an_instance(rds):
    client, dummy = rds
    cluster = {"Engine": "aurora-postgresql", "EngineVersion": "16.4", "Port": 5433, "DBSubnetGroup": "g",
               "VpcSecurityGroups": [{"VpcSecurityGroupId": DB_SG}]}
    instances = [{"DBInstanceClass": "db.r6g.large", "DBSubnetGroup": {"VpcId": DB_VPC}},
                 {"DBInstanceClass": "db.t4g.medium"}, {"DBInstanceClass": "db.r6g.large"}]
    assert preflight.target_from_cluster(client, cluster, instances) == dict(
        engine="aurora-postgresql", engine_version="16.4", instance_classes=["db.r6g.large", "db.t4g.medium"],
        security_group_ids=[DB_SG], port=5433, vpc_id=DB_VPC, existing=True)


def test_target_from_cluster_without_instances_reads_the_subnet_group(rds):
    client, stub = rds
    stub.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [{"VpcId": DB_VPC}]}, {"DBSubnetGroupName": "g"})
    target = preflight.target_from_cluster(client, {"DBSubnetGroup": "g"}, [])
    assert target["vpc_id"] == DB_VPC and target["port"] == 5432 and target["engine"] == "aurora-postgresql"
    assert target["instance_classes"] == [] and target["security_group_ids"] == []


def test_target_from_cluster_survives_an_unreadable_subnet_group(rds):
    client, stub = rds
    stub.add_client_error("describe_db_subnet_groups", "AccessDenied", "no", 403)
    assert preflight.target_from_cluster(client, {"DBSubnetGroup": "g"}, [])["vpc_id"] is None


# --- engine_support -----------------------------------------------------------------------------

def default_version(stub, version="16.6"):
    stub.add_response("describe_db_engine_versions",
                      {"DBEngineVersions": [{"Engine": "aurora-postgresql", "EngineVersion": version}] if version else []},
                      {"Engine": "aurora-postgresql", "DefaultOnly": True})


def test_engine_support_ok(rds):
    client, stub = rds
    orderable(stub, [row()], EngineVersion="16.4", DBInstanceClass="db.r6g.large")
    result = preflight.check_engine_support(client, "aurora-postgresql", "16.4", ["db.r6g.large"])
    assert result["status"] == "ok" and "db.r6g.large" in result["message"]


def test_engine_support_fails_for_a_class_that_is_not_offered_or_lacks_kerberos(rds):
    client, stub = rds
    orderable(stub, [], EngineVersion="16.4", DBInstanceClass="db.x1.large")
    orderable(stub, [row(False, "db.t3.medium")], EngineVersion="16.4", DBInstanceClass="db.t3.medium")
    result = preflight.check_engine_support(client, "aurora-postgresql", "16.4", ["db.x1.large", "db.t3.medium"])
    assert result["status"] == "fail"
    assert "on db.x1.large is not offered in this Region" in result["message"]
    assert "on db.t3.medium does not support Kerberos" in result["message"]
    assert "SupportsKerberosAuthentication" in result["fix"]


def test_engine_support_without_anything_checks_the_engines_default_version(rds):
    client, stub = rds
    default_version(stub, "16.6")
    orderable(stub, [row(False, "db.t3.medium"), row(True, "db.r6g.large")], EngineVersion="16.6")
    result = preflight.check_engine_support(client, "aurora-postgresql", None, [])
    assert result["status"] == "warn" and "aurora-postgresql 16.6 (the engine's default here)" in result["message"]


def test_engine_support_without_a_default_version_warns(rds):
    client, stub = rds
    default_version(stub, None)
    result = preflight.check_engine_support(client, "aurora-postgresql", None, ["db.r6g.large"])
    assert result["status"] == "warn" and "no default version" in result["message"]


def test_engine_support_without_a_class_checks_the_version(rds):
    client, stub = rds
    orderable(stub, [row(False, "db.t3.medium"), row(True, "db.r6g.large")], EngineVersion="16.4")
    result = preflight.check_engine_support(client, "aurora-postgresql", "16.4", [])
    assert result["status"] == "warn" and "db.r6g.large" in result["fix"]


def test_engine_support_without_a_class_fails_for_an_unknown_version(rds):
    client, stub = rds
    orderable(stub, [], EngineVersion="9.9")
    assert preflight.check_engine_support(client, "aurora-postgresql", "9.9", [])["status"] == "fail"


def test_engine_support_without_a_class_fails_for_a_version_without_kerberos(rds):
    client, stub = rds
    orderable(stub, [row(False)], EngineVersion="16.4")
    result = preflight.check_engine_support(client, "aurora-postgresql", "16.4", [])
    assert result["status"] == "fail" and "with no instance class" in result["message"]


def test_engine_support_with_a_class_and_no_version_checks_the_default_version_only(rds):
    # Not "any version": the rows of the version CreateDBCluster will pick.
    client, stub = rds
    default_version(stub, "16.6")
    orderable(stub, [row(False)], EngineVersion="16.6", DBInstanceClass="db.r6g.large")
    result = preflight.check_engine_support(client, "aurora-postgresql", None, ["db.r6g.large"])
    assert result["status"] == "fail" and "16.6 (the engine's default here) on db.r6g.large" in result["message"]


@pytest.mark.parametrize("classes", [[], ["db.r5.large"]])
def test_an_existing_cluster_on_a_version_no_longer_orderable_warns(rds, classes):
    client, stub = rds
    orderable(stub, [], EngineVersion="13.4", **({"DBInstanceClass": classes[0]} if classes else {}))
    result = preflight.check_engine_support(client, "aurora-postgresql", "13.4", classes, existing=True)
    assert result["status"] == "warn" and "no longer orderable" in result["message"]


def test_an_existing_cluster_on_a_version_without_kerberos_still_fails(rds):
    client, stub = rds
    orderable(stub, [row(False)], EngineVersion="16.4", DBInstanceClass="db.r6g.large")
    result = preflight.check_engine_support(client, "aurora-postgresql", "16.4", ["db.r6g.large"], existing=True)
    assert result["status"] == "fail"


# --- directory ----------------------------------------------------------------------------------

def describe(stub, *directories):
    stub.add_response("describe_directories", {"DirectoryDescriptions": list(directories)}, {"DirectoryIds": [ID]})


def test_directory_ok(ds_):
    client, stub = ds_
    describe(stub, directory())
    result, found = preflight.check_directory(client, ID)
    assert result["status"] == "ok" and "in this account" in result["message"] and found["DirectoryId"] == ID


def test_a_directory_that_does_not_exist_mentions_shared_ids(ds_):
    client, stub = ds_
    stub.add_client_error("describe_directories", "EntityDoesNotExistException", "no such directory",
                          expected_params={"DirectoryIds": [ID]})
    result, found = preflight.check_directory(client, ID)
    assert result["status"] == "fail" and found is None
    assert "shared directory id" in result["fix"]


@pytest.mark.parametrize("extra, status, words", [
    (dict(Type="SimpleAD"), "fail", "is SimpleAD"),
    (dict(Type="ADConnector"), "fail", "joins only AWS Managed Microsoft AD"),
    (dict(Stage="Creating"), "warn", "is Creating, not Active yet: a join waits until it is"),
    (dict(Stage="Requested"), "warn", "is Requested, not Active yet"),
    (dict(Stage="Updating"), "fail", "is Updating; it is not Active"),
    (dict(Stage="Impaired", StageReason="DCs unreachable"), "fail", "is Impaired: DCs unreachable; it is not Active"),
    (dict(Type="SharedMicrosoftAD", ShareStatus="PendingAcceptance"), "fail", "share is PendingAcceptance"),
    (dict(Type="SharedMicrosoftAD", ShareStatus="Shared"), "ok", "shared with this account"),
])
def test_directory_statuses(ds_, extra, status, words):
    client, stub = ds_
    describe(stub, directory(**extra))
    result, dummy = preflight.check_directory(client, ID)
    assert result["status"] == status and words in result["message"]


def test_a_shared_directorys_network_is_the_owners():
    shared = directory(Type="SharedMicrosoftAD", VpcSettings=None)
    shared.pop("VpcSettings")
    shared["OwnerDirectoryDescription"] = {"VpcSettings": {"VpcId": DIR_VPC, "SecurityGroupId": DIR_SG}}
    assert preflight.directory_vpc_settings(shared)["SecurityGroupId"] == DIR_SG
    assert preflight.directory_vpc_settings(None) == {}


# --- the IAM role -------------------------------------------------------------------------------

BOTH = ("directoryservice.rds.amazonaws.com", "rds.amazonaws.com")


def test_iam_role_ok(iam):
    client, stub = iam
    role_answer(stub, trust(*BOTH))
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": [{"PolicyArn": POLICY}]}, {"RoleName": ROLE})
    assert [f["status"] for f in preflight.check_iam_role(client, ROLE)] == ["ok", "ok"]


def test_iam_role_missing_fails_both(iam):
    client, stub = iam
    stub.add_client_error("get_role", "NoSuchEntity", "no role", 404, expected_params={"RoleName": ROLE})
    findings = preflight.check_iam_role(client, ROLE)
    assert [(f["check"], f["status"]) for f in findings] == [("iam_role_trust", "fail"), ("iam_role_policy", "fail")]
    assert "does not exist" in findings[0]["message"]


def test_iam_role_without_the_directory_service_principal_and_policy(iam):
    client, stub = iam
    role_answer(stub, trust("rds.amazonaws.com"))
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": []}, {"RoleName": ROLE})
    stub.add_response("list_role_policies", {"PolicyNames": []}, {"RoleName": ROLE})
    trust_finding, policy_finding = preflight.check_iam_role(client, ROLE)
    assert trust_finding["status"] == "fail" and "does not trust directoryservice.rds.amazonaws.com:" in trust_finding["message"]
    assert "IAM role provided is not valid" in trust_finding["message"]
    assert policy_finding["status"] == "fail" and POLICY in policy_finding["fix"]


def test_iam_role_with_inline_policies_only_warns(iam):
    client, stub = iam
    role_answer(stub, trust(*BOTH))
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": []}, {"RoleName": ROLE})
    stub.add_response("list_role_policies", {"PolicyNames": ["ds-access"]}, {"RoleName": ROLE})
    assert preflight.check_iam_role(client, ROLE)[1]["status"] == "warn"


def test_iam_role_in_another_partition_needs_that_partitions_policy(iam):
    client, stub = iam
    role_answer(stub, trust(*BOTH), arn=f"arn:aws-cn:iam::123456789012:role/{ROLE}")
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": [{"PolicyArn": POLICY}]}, {"RoleName": ROLE})
    stub.add_response("list_role_policies", {"PolicyNames": []}, {"RoleName": ROLE})
    policy_finding = preflight.check_iam_role(client, ROLE)[1]
    assert policy_finding["status"] == "fail" and "arn:aws-cn:iam::aws:policy/service-role/" in policy_finding["fix"]


def regions_answer(stub, region, status):
    stub.add_response("describe_regions", {"Regions": [{"RegionName": region, "OptInStatus": status}]},
                      {"RegionNames": [region], "AllRegions": True})


AF_SOUTH = ("directoryservice.rds.af-south-1.amazonaws.com", "rds.af-south-1.amazonaws.com")
CA_WEST_ENGINE = "directoryservice-postgresql.rds.ca-west-1.amazonaws.com"


@pytest.mark.parametrize("region, status, services, verdict, named", [
    # an opt-in Region needs the regionalized principal: the two global ones alone fail, naming it
    ("af-south-1", "opted-in", BOTH, "fail", "directoryservice.rds.af-south-1.amazonaws.com"),
    # ... and the regionalized pair without the global ones is a valid form there
    ("af-south-1", "opted-in", AF_SOUTH, "ok", None),
    ("af-south-1", "opted-in", BOTH + AF_SOUTH, "ok", None),
    # from ca-west-1 on, the engine-specific principal
    ("ca-west-1", "opted-in", BOTH + ("directoryservice.rds.ca-west-1.amazonaws.com",), "fail", CA_WEST_ENGINE),
    ("ca-west-1", "opted-in", BOTH + (CA_WEST_ENGINE,), "ok", None),
    # DescribeRegions decides over the table: us-east-1 answered as opt-in needs its regionalized principal
    ("us-east-1", "opted-in", BOTH, "fail", "directoryservice.rds.us-east-1.amazonaws.com"),
    ("us-east-1", "opt-in-not-required", BOTH, "ok", None),
])
def test_iam_role_trust_by_region(aws, region, status, services, verdict, named):
    clients, stubs = aws
    regions_answer(stubs["ec2"], region, status)
    role_answer(stubs["iam"], trust(*services))
    stubs["iam"].add_response("list_attached_role_policies", {"AttachedPolicies": [{"PolicyArn": POLICY}]},
                              {"RoleName": ROLE})
    trust_finding = preflight.check_iam_role(clients["iam"], ROLE, region, clients["ec2"])[0]
    assert trust_finding["status"] == verdict, trust_finding
    if named:
        assert f"does not trust {named}:" in trust_finding["message"]
        assert named in trust_finding["fix"]


@pytest.mark.parametrize("region, verdict, named", [
    # the table decides when DescribeRegions is denied ...
    ("af-south-1", "fail", "directoryservice.rds.af-south-1.amazonaws.com"),
    # ... and a Region in no table cannot be judged: a warning, never an OK
    ("xx-new-1", "warn", "ec2:DescribeRegions"),
])
def test_iam_role_trust_when_describe_regions_is_denied(aws, region, verdict, named):
    clients, stubs = aws
    stubs["ec2"].add_client_error("describe_regions", "UnauthorizedOperation", "ec2:DescribeRegions denied", 403)
    role_answer(stubs["iam"], trust(*BOTH))
    stubs["iam"].add_response("list_attached_role_policies", {"AttachedPolicies": [{"PolicyArn": POLICY}]},
                              {"RoleName": ROLE})
    trust_finding = preflight.check_iam_role(clients["iam"], ROLE, region, clients["ec2"])[0]
    assert trust_finding["status"] == verdict and named in trust_finding["message"]


def test_a_china_role_needs_the_china_policy_and_the_global_principals(iam):
    client, stub = iam
    role_answer(stub, trust(*BOTH), arn=f"arn:aws-cn:iam::123456789012:role/{ROLE}")
    china_policy = "arn:aws-cn:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": [{"PolicyArn": china_policy}]},
                      {"RoleName": ROLE})
    assert [f["status"] for f in preflight.check_iam_role(client, ROLE, "cn-north-1")] == ["ok", "ok"]


@pytest.mark.parametrize("document, expected", [
    (trust(*BOTH), set(BOTH)),
    (json.dumps(trust(*BOTH)), set(BOTH)),
    (urllib.parse.quote(json.dumps(trust("rds.amazonaws.com"))), {"rds.amazonaws.com"}),
    (trust(*BOTH, action=["sts:TagSession", "sts:*"]), set(BOTH)),
    (trust(*BOTH, action="sts:TagSession"), set()),
    (trust(*BOTH, effect="Deny"), set()),
    ({"Statement": {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "*"}},
     {"rds.amazonaws.com"}),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}, set()),
    (None, set()),
])
def test_trusted_services(document, expected):
    assert preflight.trusted_services(document) == expected


# --- STS ----------------------------------------------------------------------------------------

USER = "arn:aws:iam::123456789012:user/alice"
ASSUMED = "arn:aws:sts::123456789012:assumed-role/deployer/session-1"
DISABLED = ("STS is not activated in this region for account:123456789012. Your account administrator can activate "
            "STS in this region using the IAM Console.")
TOKEN = {"Credentials": {"AccessKeyId": "ASIAEXAMPLEEXAMPLE12", "SecretAccessKey": "never-shown-secret",
                         "SessionToken": "never-shown-token", "Expiration": "2026-12-04T00:00:00Z"}}


def identity(stub, arn):
    stub.add_response("get_caller_identity", {"Account": "123456789012", "Arn": arn, "UserId": "AIDAEXAMPLE"}, {})


def test_sts_in_a_region_where_it_cannot_be_deactivated_is_ok_without_issuing_credentials(sts):
    client, stub = sts
    identity(stub, ASSUMED)  # no GetSessionToken queued: the Stubber fails on any other call
    result = preflight.check_sts(client, "us-east-1")
    assert result["status"] == "ok" and "cannot be deactivated in us-east-1" in result["message"]


@pytest.mark.parametrize("arn", [USER, "arn:aws:iam::123456789012:root", "arn:aws-cn:iam::123456789012:user/ops/bob"])
def test_sts_for_an_iam_user_is_ok_only_when_get_session_token_issues_credentials(sts, arn):
    client, stub = sts
    identity(stub, arn)
    stub.add_response("get_session_token", TOKEN, {"DurationSeconds": 900})
    result = preflight.check_sts(client, "eu-west-1")
    assert result["status"] == "ok" and "GetSessionToken" in result["message"]
    assert "never-shown" not in json.dumps(result)


def test_sts_deactivated_fails_for_an_iam_user_although_get_caller_identity_answers(sts):
    client, stub = sts
    identity(stub, USER)
    stub.add_client_error("get_session_token", "RegionDisabledException", DISABLED, 403,
                          expected_params={"DurationSeconds": 900})
    result = preflight.check_sts(client, "eu-west-1")
    assert result["status"] == "fail" and "STS is not activated in eu-west-1" in result["message"]
    assert "RegionDisabledException" in result["message"]
    assert "Activate STS for eu-west-1" in result["fix"] and "Endpoints" in result["fix"]


@pytest.mark.parametrize("arn", [ASSUMED, "arn:aws:sts::123456789012:federated-user/carol"])
def test_sts_for_a_role_is_not_verifiable_never_ok(sts, arn):
    client, stub = sts
    identity(stub, arn)  # nothing else is called: GetCallerIdentity alone proves nothing
    result = preflight.check_sts(client, "eu-west-1")
    assert result["status"] == "warn" and result["message"].startswith("Not verifiable")
    assert arn in result["message"] and "Security Token Service (STS), Endpoints" in result["fix"]


def test_sts_for_a_user_with_session_credentials_is_not_verifiable(sts):
    client, stub = sts
    identity(stub, USER)
    stub.add_client_error("get_session_token", "AccessDenied", "Cannot call GetSessionToken with session credentials",
                          403, expected_params={"DurationSeconds": 900})
    result = preflight.check_sts(client, "eu-west-1")
    assert result["status"] == "warn" and "Cannot call GetSessionToken with session credentials" in result["message"]


def test_sts_other_refusal_fails(sts):
    client, stub = sts
    stub.add_client_error("get_caller_identity", "InvalidClientTokenId", "bad token", 403)
    result = preflight.check_sts(client, "us-east-1")
    assert result["status"] == "fail" and "InvalidClientTokenId: bad token" in result["message"]


@pytest.mark.parametrize("arn, kind", [(USER, "user"), ("arn:aws:iam::1:root", "root"), (ASSUMED, "assumed-role"),
                                       ("arn:aws:sts::1:federated-user/x", "federated-user"), (None, "unknown")])
def test_caller_kind(arn, kind):
    assert preflight.caller_kind(arn) == kind


class FakeMeta:
    def __init__(self, endpoint_url):
        self.endpoint_url = endpoint_url


class Unreachable:
    meta = FakeMeta("https://sts.eu-west-1.amazonaws.com")

    def get_caller_identity(self):
        raise botocore.exceptions.EndpointConnectionError(endpoint_url=self.meta.endpoint_url)


def test_sts_unreachable_fails():
    result = preflight.check_sts(Unreachable(), "eu-west-1")
    assert result["status"] == "fail" and "did not answer" in result["message"]


class FakeModule:
    region = "eu-west-1"

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.calls = []

    def client(self, service, retry_decorator=None, **kwargs):
        self.calls.append((service, kwargs))
        return type("Client", (), {"meta": FakeMeta(kwargs.get("endpoint", self.endpoint))})()


def test_the_legacy_global_sts_endpoint_is_replaced_by_the_regional_one():
    module = FakeModule("https://sts.amazonaws.com")
    client = preflight.regional_sts_client(module)
    assert client.meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"
    assert module.calls[-1] == ("sts", {"endpoint": "https://sts.eu-west-1.amazonaws.com"})


def test_a_regional_or_custom_sts_endpoint_is_kept():
    module = FakeModule("http://127.0.0.1:15030")
    assert preflight.regional_sts_client(module).meta.endpoint_url == "http://127.0.0.1:15030"
    assert len(module.calls) == 1


def test_module_clients_makes_each_client_once():
    module = FakeModule("https://sts.eu-west-1.amazonaws.com")
    get_client = preflight.module_clients(module)
    assert get_client("rds") is get_client("rds")
    get_client("sts")
    assert [c[0] for c in module.calls] == ["rds", "sts"]


# --- security groups ----------------------------------------------------------------------------

DCS = ["10.1.1.10", "10.1.2.10"]


def ingress(client, sg_ids=(DB_SG,), port=5432):
    return preflight.check_db_ingress(client, list(sg_ids), DIR_SG, port, DCS)


@pytest.mark.parametrize("rules, port, status", [
    ([tcp(5432, group=DIR_SG)], 5432, "ok"),
    ([tcp(5000, 6000, group=DIR_SG)], 5432, "ok"),
    ([all_traffic(group=DIR_SG)], 5432, "ok"),
    ([{"IpProtocol": "6", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": DIR_SG}]}], 5432, "ok"),
    ([tcp(5432, group=DIR_SG)], 5433, "fail"),
    ([{"IpProtocol": "udp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": DIR_SG}]}], 5432, "fail"),
    ([tcp(5432, group=DB_SG)], 5432, "fail"),
    ([tcp(5432, cidr="10.1.0.0/16")], 5432, "warn"),
    ([tcp(5432, cidr="0.0.0.0/0")], 5432, "warn"),
    ([tcp(5432, cidr="192.168.0.0/16")], 5432, "fail"),
    ([tcp(5432, cidr="not-a-cidr")], 5432, "fail"),
    ([], 5432, "fail"),
])
def test_db_ingress(ec2, rules, port, status):
    client, stub = ec2
    sgs_answer(stub, [DB_SG], sg(DB_SG, ingress=rules))
    result = ingress(client, port=port)
    assert result["status"] == status
    if status != "ok":
        assert f"TCP {port} from security group {DIR_SG}" in result["fix"]


def test_db_ingress_any_of_the_groups_will_do(ec2):
    client, stub = ec2
    other = "sg-0cccccccccccccccc"
    sgs_answer(stub, [other, DB_SG], sg(other), sg(DB_SG, ingress=[tcp(5432, group=DIR_SG)]))
    assert ingress(client, [other, DB_SG])["status"] == "ok"


def test_db_ingress_with_groups_that_do_not_exist(ec2):
    client, stub = ec2
    stub.add_client_error("describe_security_groups", "InvalidGroup.NotFound", "no such group",
                          expected_params={"GroupIds": [DB_SG]})
    result = ingress(client)
    assert result["status"] == "fail" and "do not exist" in result["message"]


def test_db_ingress_without_what_it_needs_warns(ec2):
    client, dummy = ec2
    assert preflight.check_db_ingress(client, [], DIR_SG, 5432, DCS)["status"] == "warn"
    assert preflight.check_db_ingress(client, [DB_SG], None, 5432, DCS)["status"] == "warn"


@pytest.mark.parametrize("rules, status", [
    ([all_traffic(cidr="0.0.0.0/0")], "ok"),
    ([tcp(0, 65535, cidr="0.0.0.0/0")], "ok"),
    ([all_traffic(group=DB_SG)], "ok"),
    ([tcp(5432, group=DB_SG)], "ok"),
    ([tcp(5432, cidr="10.0.0.0/16")], "warn"),
    ([tcp(443, cidr="0.0.0.0/0")], "fail"),
    ([], "fail"),
])
def test_directory_egress(ec2, rules, status):
    client, stub = ec2
    sgs_answer(stub, [DIR_SG], sg(DIR_SG, egress=rules))
    assert preflight.check_directory_egress(client, DIR_SG, [DB_SG], 5432)["status"] == status


def test_directory_egress_of_another_accounts_group_warns(ec2):
    client, stub = ec2
    stub.add_client_error("describe_security_groups", "InvalidGroup.NotFound", "not here",
                          expected_params={"GroupIds": [DIR_SG]})
    result = preflight.check_directory_egress(client, DIR_SG, [DB_SG], 5432)
    assert result["status"] == "warn" and "owner's account" in result["message"]
    assert preflight.check_directory_egress(client, None, [DB_SG], 5432)["status"] == "warn"


# --- VPCs ---------------------------------------------------------------------------------------

PEERING_FILTERS = [{"Name": "requester-vpc-info.vpc-id", "Values": [DB_VPC, DIR_VPC]},
                   {"Name": "accepter-vpc-info.vpc-id", "Values": [DB_VPC, DIR_VPC]}]


def peering(status="active", requester=DB_VPC, accepter=DIR_VPC, peering_id=PCX):
    return {"VpcPeeringConnectionId": peering_id, "Status": {"Code": status},
            "RequesterVpcInfo": {"VpcId": requester}, "AccepterVpcInfo": {"VpcId": accepter}}


def peerings_answer(stub, *peerings):
    stub.add_response("describe_vpc_peering_connections", {"VpcPeeringConnections": list(peerings)},
                      {"Filters": PEERING_FILTERS})


def routes_answer(stub, vpc, *routes):
    tables = [{"RouteTableId": "rtb-0123456789abcdef0", "VpcId": vpc, "Routes": list(routes)}] if routes else []
    stub.add_response("describe_route_tables", {"RouteTables": tables}, {"Filters": [{"Name": "vpc-id", "Values": [vpc]}]})


def via_peering(state="active"):
    return {"DestinationCidrBlock": "10.1.0.0/16", "VpcPeeringConnectionId": PCX, "State": state}


LOCAL = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}


def test_the_same_vpc_is_ok(ec2):
    client, dummy = ec2
    assert preflight.check_vpc(client, DB_VPC, DB_VPC)["status"] == "ok"


def test_unknown_vpcs_warn(ec2):
    client, dummy = ec2
    assert preflight.check_vpc(client, None, DIR_VPC)["status"] == "warn"


def test_an_active_peering_with_routes_both_ways_is_ok(ec2):
    client, stub = ec2
    peerings_answer(stub, peering(requester=DIR_VPC, accepter=DB_VPC))
    routes_answer(stub, DB_VPC, LOCAL, via_peering())
    routes_answer(stub, DIR_VPC, via_peering())
    assert preflight.check_vpc(client, DB_VPC, DIR_VPC)["status"] == "ok"


def test_a_missing_or_blackholed_route_fails_naming_the_vpc(ec2):
    client, stub = ec2
    peerings_answer(stub, peering())
    routes_answer(stub, DB_VPC, LOCAL, via_peering("blackhole"))
    routes_answer(stub, DIR_VPC, via_peering())
    result = preflight.check_vpc(client, DB_VPC, DIR_VPC)
    assert result["status"] == "fail" and f"but {DB_VPC} has no route" in result["message"]


def test_route_tables_of_another_account_warn(ec2):
    client, stub = ec2
    peerings_answer(stub, peering())
    routes_answer(stub, DB_VPC, via_peering())
    routes_answer(stub, DIR_VPC)
    result = preflight.check_vpc(client, DB_VPC, DIR_VPC)
    assert result["status"] == "warn" and DIR_VPC in result["message"]


def test_a_peering_waiting_for_acceptance_fails(ec2):
    client, stub = ec2
    peerings_answer(stub, peering("pending-acceptance"), peering(requester=DB_VPC, accepter="vpc-0ccccccccccccccc0"))
    result = preflight.check_vpc(client, DB_VPC, DIR_VPC)
    assert result["status"] == "fail" and "is pending-acceptance, not active" in result["message"]


def test_no_peering_fails(ec2):
    client, stub = ec2
    peerings_answer(stub)
    routes_answer(stub, DB_VPC, LOCAL)
    result = preflight.check_vpc(client, DB_VPC, DIR_VPC)
    assert result["status"] == "fail" and "amazon.aws.ec2_vpc_peering" in result["fix"]


def test_a_transit_gateway_route_warns(ec2):
    client, stub = ec2
    peerings_answer(stub)
    routes_answer(stub, DB_VPC, LOCAL, {"DestinationCidrBlock": "10.1.0.0/16", "TransitGatewayId": "tgw-0123456789abcdef0"})
    assert preflight.check_vpc(client, DB_VPC, DIR_VPC)["status"] == "warn"


# --- all of them --------------------------------------------------------------------------------

TARGET = dict(engine="aurora-postgresql", engine_version="16.4", instance_classes=["db.r6g.large"],
              security_group_ids=[DB_SG], port=5432, vpc_id=DB_VPC)


def test_run_checks_runs_every_check(aws):
    clients, stubs = aws
    orderable(stubs["rds"], [row()], EngineVersion="16.4", DBInstanceClass="db.r6g.large")
    describe(stubs["ds"], directory(VpcSettings={"VpcId": DB_VPC, "SecurityGroupId": DIR_SG}))
    role_answer(stubs["iam"], trust(*BOTH))
    stubs["iam"].add_response("list_attached_role_policies", {"AttachedPolicies": [{"PolicyArn": POLICY}]},
                              {"RoleName": ROLE})
    stubs["sts"].add_response("get_caller_identity", {"Account": "123456789012"}, {})
    regions_answer(stubs["ec2"], "us-east-1", "opt-in-not-required")  # the trust check reads the opt-in status
    sgs_answer(stubs["ec2"], [DB_SG], sg(DB_SG, ingress=[tcp(5432, group=DIR_SG)]))
    sgs_answer(stubs["ec2"], [DIR_SG], sg(DIR_SG, egress=[all_traffic(cidr="0.0.0.0/0")]))
    findings = preflight.run_checks(clients.__getitem__, "us-east-1", ID, ROLE, TARGET)
    assert [(f["check"], f["status"]) for f in findings] == [
        ("engine_support", "ok"), ("directory", "ok"), ("iam_role_trust", "ok"), ("iam_role_policy", "ok"),
        ("sts_regional_endpoint", "ok"), ("db_security_group_ingress", "ok"),
        ("directory_security_group_egress", "ok"), ("vpc_connectivity", "ok"), ("directory_controllers_ingress", "ok")]


def test_run_checks_without_directory_or_role_checks_the_engine_only(aws):
    # No STS call either: only the IAM role's check needs the Region's STS endpoint.
    clients, stubs = aws
    default_version(stubs["rds"], "16.6")
    orderable(stubs["rds"], [row()], EngineVersion="16.6")
    findings = preflight.run_checks(clients.__getitem__, "us-east-1", None, None, {})
    assert [(f["check"], f["status"]) for f in findings] == [("engine_support", "warn")]
    assert "16.6 (the engine's default here) supports Kerberos" in findings[0]["message"]


def test_a_check_that_cannot_read_warns_and_the_others_still_run(aws):
    clients, stubs = aws
    stubs["rds"].add_client_error("describe_orderable_db_instance_options", "AccessDenied", "rds:Describe* denied", 403)
    stubs["ds"].add_client_error("describe_directories", "AccessDeniedException", "ds denied", 400)
    stubs["iam"].add_client_error("get_role", "AccessDenied", "iam:GetRole denied", 403)
    stubs["sts"].add_response("get_caller_identity", {"Account": "123456789012"}, {})
    findings = preflight.run_checks(clients.__getitem__, "us-east-1", ID, ROLE, TARGET)
    by_check = {f["check"]: f for f in findings}
    assert by_check["engine_support"]["status"] == "warn" and "rds:Describe* denied" in by_check["engine_support"]["message"]
    assert by_check["directory"]["status"] == "warn" and by_check["iam_role"]["status"] == "warn"
    # without the directory the network checks cannot know its security group or VPC
    assert by_check["db_security_group_ingress"]["status"] == "warn"
    assert by_check["vpc_connectivity"]["status"] == "warn"


def test_guarded_turns_a_raw_client_error_into_a_warning():
    def broken():
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Describe")

    assert preflight.guarded("x", broken)["status"] == "warn"


# --- the domain controllers' group admits a DB in another VPC (AWS_FACTS section 2) -----------------------

AD_PORTS = [("tcp", 53, 53), ("udp", 53, 53), ("tcp", 88, 88), ("udp", 88, 88), ("tcp", 464, 464), ("udp", 464, 464),
            ("tcp", 389, 389), ("udp", 389, 389), ("tcp", 445, 445), ("tcp", 135, 135), ("tcp", 636, 636),
            ("tcp", 3268, 3269), ("tcp", 1024, 65535)]


def ad_rules(group=None, cidr=None, skip=()):
    rules = []
    for protocol, low, high in AD_PORTS:
        if (protocol, low) in skip:
            continue
        rule = {"IpProtocol": protocol, "FromPort": low, "ToPort": high}
        if group:
            rule["UserIdGroupPairs"] = [{"GroupId": group}]
        else:
            rule["IpRanges"] = [{"CidrIp": cidr}]
        rules.append(rule)
    return rules


def controllers(ec2, ingress, peerings=(peering(),), db_cidr="10.75.0.0/16"):
    client, ec2 = ec2
    sgs_answer(ec2, [DIR_SG], sg(DIR_SG, ingress=[tcp(0, 65535, cidr="10.76.0.0/16")] + ingress))
    peerings_answer(ec2, *peerings)
    ec2.add_response("describe_vpcs", {"Vpcs": [{"VpcId": DB_VPC, "CidrBlock": db_cidr}]}, {"VpcIds": [DB_VPC]})
    return preflight.check_controllers_ingress(client, DIR_SG, DIR_VPC, DB_VPC, [DB_SG])


def test_the_network_roles_ad_ports_are_the_ones_checked():
    from pathlib import Path

    import yaml

    from ansible_collections.aurora.kerberos.plugins.module_utils import network

    repo = Path(__file__).resolve().parents[4]
    listed = yaml.safe_load((repo / "roles/network/vars/main.yml").read_text())["__network_directory_ports"]
    assert [(r["protocol"], r["from_port"], r["to_port"]) for r in listed] == list(network.DIRECTORY_ACCESS_PORTS) == AD_PORTS


def test_same_vpc_needs_nothing_more(ec2):
    assert preflight.check_controllers_ingress(ec2[0], DIR_SG, DB_VPC, DB_VPC, [DB_SG])["status"] == "ok"


def test_a_peered_db_admitted_by_group_on_every_ad_port_is_ok(ec2):
    assert controllers(ec2, ad_rules(group=DB_SG))["status"] == "ok"


def test_only_the_directory_vpc_cidr_fails_naming_the_group_and_the_ports(ec2):
    result = controllers(ec2, [])
    assert result["status"] == "fail" and DIR_SG in result["message"] and "udp/88" in result["message"]
    assert "network_directory_access" in result["fix"]


def test_a_group_reference_without_an_active_peering_does_not_count(ec2):
    result = controllers(ec2, ad_rules(group=DB_SG), peerings=(peering(status="pending-acceptance"),))
    assert result["status"] == "fail" and "CIDRs" in result["fix"]


def test_one_port_short_fails_naming_it(ec2):
    result = controllers(ec2, ad_rules(group=DB_SG, skip=[("udp", 464)]))
    assert result["status"] == "fail" and "udp/464" in result["message"] and "udp/88" not in result["message"]


def test_cidrs_holding_the_db_vpc_are_ok_and_narrower_ones_warn(ec2):
    assert controllers(ec2, ad_rules(cidr="10.75.0.0/16"), peerings=())["status"] == "ok"
    assert controllers(ec2, ad_rules(cidr="10.75.1.0/24"), peerings=())["status"] == "warn"
