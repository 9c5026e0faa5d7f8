"""Directory Service Data (ds-data) in the lab: plain boto3 against the endpoint, checked in the real AD.

AWS_FACTS.md section 7; the behaviours are listed in lab/fidelity/ds_data.py and lab/README.md.
"""

import json
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import botocore.session
import ldap3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labtools import cluster_env, create_ad_user, current_env, kinit, lab_api, ldap_admin, master, member_cluster, pg_connect, sql, unique

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # max_attempts=1 still retries once
MODEL = botocore.session.get_session().get_service_model("ds-data")


# --- the response shapes, checked on every call ---------------------------------------------------

def check_shape(shape, value, path="$"):
    """value (raw JSON) holds exactly what shape allows: no unknown member, every required one."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        if shape.metadata.get("union"):
            assert len(value) == 1, f"{path}: a union holds one member, not {sorted(value)}"
        for name in shape.metadata.get("required", []):
            assert name in value, f"{path}: required {name} missing"
        for name, member in value.items():
            assert name in shape.members, f"{path}: {name} is not in {shape.name}"
            check_shape(shape.members[name], member, f"{path}.{name}")
    elif kind == "list":
        assert isinstance(value, list), path
        for index, item in enumerate(value):
            check_shape(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        assert isinstance(value, dict), path
        for key, item in value.items():
            check_shape(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        assert isinstance(value, str), path
        if shape.enum:
            assert value in shape.enum, f"{path}: {value} not in {shape.enum}"
    elif kind == "boolean":
        assert isinstance(value, bool), path
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), path


CHECKED = []


def shape_checker(http_response, model, **kwargs):
    CHECKED.append(model.name)
    body = json.loads(http_response.content or b"{}")
    if http_response.status_code == 200:
        check_shape(model.output_shape, body)
    else:
        code = http_response.headers.get("x-amzn-ErrorType")
        errors = {shape.name: shape for shape in model.error_shapes}
        if code in errors:  # the model's errors carry their own members (Reason, Message)
            check_shape(errors[code], {k: v for k, v in body.items() if k in errors[code].members})
            if "Reason" in errors[code].members and code != "ValidationException":
                assert "Reason" in body, f"{code} without a Reason"


def client(config=None):
    made = boto3.client("ds-data", config=config)
    made.meta.events.register(f"after-call.{made.meta.service_model.service_id.hyphenize()}", shape_checker)
    return made


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response


# --- fixtures -----------------------------------------------------------------------------------

def make_directory(lab, edition="Enterprise"):
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.80.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    ds = boto3.client("ds")
    # The Admin password given here becomes AD's (ds extension): pass the current one.
    directory_id = ds.create_microsoft_ad(
        Name=lab["LAB_AD_DOMAIN"], Password=lab["LAB_AD_ADMIN_PASSWORD"], Edition=edition,
        VpcSettings={"VpcId": vpc, "SubnetIds": subnets})["DirectoryId"]
    deadline = time.time() + 60
    while ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]["Stage"] != "Active":
        assert time.time() < deadline, "directory never became Active"
        time.sleep(0.5)
    return directory_id


def enable_data_access(lab, directory_id):
    ds = boto3.client("ds")
    ds.enable_directory_data_access(DirectoryId=directory_id)
    deadline = time.time() + 30
    while ds.describe_directory_data_access(DirectoryId=directory_id)["DataAccessStatus"] != "Enabled":
        assert time.time() < deadline, "data access never became Enabled"
        time.sleep(0.3)


@pytest.fixture(scope="module", autouse=True)
def quick_directories(lab):
    """Directories Active in half a second instead of the lab's default, for this module only."""
    knobs = lab_api(lab, "GET", "knobs")
    lab_api(lab, "POST", "knobs", {"directory_seconds": 0.5})
    yield
    lab_api(lab, "POST", "knobs", {"directory_seconds": knobs["directory_seconds"]})


@pytest.fixture(scope="module", autouse=True)
def consistent_at_once(lab):
    """No eventual-consistency delay (knob dsdata_consistency_delay) unless a test asks for one: these tests
    call ds-data right after a write, as the collection (which rides the delay out) does not."""
    knobs = lab_api(lab, "GET", "knobs")
    lab_api(lab, "POST", "knobs", {"dsdata_consistency_delay": 0})
    yield
    lab_api(lab, "POST", "knobs", {"dsdata_consistency_delay": knobs["dsdata_consistency_delay"]})


@pytest.fixture(scope="module")
def directory(lab, consistent_at_once):
    directory_id = make_directory(lab)
    enable_data_access(lab, directory_id)
    yield directory_id
    boto3.client("ds").delete_directory(DirectoryId=directory_id)


@pytest.fixture
def dsd(directory):
    return client()


@pytest.fixture
def ad(lab):
    with ldap_admin(lab) as conn:
        yield conn


@pytest.fixture
def names(lab):
    """Names of AD objects a test makes; whatever exists at the end is deleted."""
    made = []
    yield made
    with ldap_admin(lab) as conn:
        for name in made:
            conn.search(lab["LAB_AD_BASE_DN"], f"(sAMAccountName={name})")
            for entry in conn.entries:
                conn.delete(entry.entry_dn)


@pytest.fixture
def no_faults(lab):
    lab_api(lab, "DELETE", "faults")
    yield
    lab_api(lab, "DELETE", "faults")


def find(conn, lab, name, attributes=("*",)):
    conn.search(lab["LAB_AD_BASE_DN"], f"(sAMAccountName={name})", attributes=list(attributes))
    return conn.entries


def sid_in_ad(conn, lab, name):
    return find(conn, lab, name, ["objectSid"])[0].objectSid.value


def new_user(dsd, directory, names, prefix="u", **kwargs):
    name = unique(prefix)
    names.append(name)
    return name, dsd.create_user(DirectoryId=directory, SAMAccountName=name, **kwargs)


def new_group(dsd, directory, names, prefix="g", **kwargs):
    name = unique(prefix)
    names.append(name)
    return name, dsd.create_group(DirectoryId=directory, SAMAccountName=name, **kwargs)


# --- users --------------------------------------------------------------------------------------

def test_create_user_makes_a_disabled_user_without_password_in_the_users_ou(lab, dsd, directory, ad, names):
    name, made = new_user(dsd, directory, names, GivenName="Ada", Surname="Lovelace",
                          EmailAddress="ada@example.com", OtherAttributes={"department": {"S": "Engineering"}})
    assert made["DirectoryId"] == directory and made["SAMAccountName"] == name
    entry = find(ad, lab, name)[0]
    assert entry.entry_dn == f"CN={name},{lab['LAB_AD_USERS_OU']}"
    assert (entry.givenName.value, entry.sn.value, entry.mail.value, entry.department.value) == \
        ("Ada", "Lovelace", "ada@example.com", "Engineering")
    assert entry.userAccountControl.value & 2  # ACCOUNTDISABLE
    assert entry.pwdLastSet.value.year == 1601  # never set
    assert made["SID"] == entry.objectSid.value and made["SID"].startswith("S-1-5-21-")


def test_describe_user_answers_from_ad(lab, dsd, directory, ad, names):
    name, made = new_user(dsd, directory, names, GivenName="Grace", Surname="Hopper",
                          OtherAttributes={"telephoneNumber": {"S": "1"}, "description": {"S": "d"}})
    user = dsd.describe_user(DirectoryId=directory, SAMAccountName=name,
                             OtherAttributes=["DESCRIPTION", "telephoneNumber", "pwdLastSet", "department"])
    assert user["SID"] == sid_in_ad(ad, lab, name) == made["SID"]
    assert user["DistinguishedName"] == f"CN={name},{lab['LAB_AD_USERS_OU']}"
    assert user["UserPrincipalName"] == f"{name}@{lab['LAB_AD_REALM']}"
    assert (user["Enabled"], user["GivenName"], user["Surname"]) == (False, "Grace", "Hopper")
    assert "EmailAddress" not in user
    assert user["Realm"] == lab["LAB_AD_DOMAIN"] and user["DirectoryId"] == directory
    assert user["OtherAttributes"] == {"description": {"S": "d"}, "telephoneNumber": {"S": "1"},
                                       "pwdLastSet": {"N": 0}}  # department: absent, so not returned
    same = dsd.describe_user(DirectoryId=directory, SAMAccountName=name, Realm=lab["LAB_AD_DOMAIN"].upper())
    assert same["SID"] == user["SID"]


def test_reads_cover_the_whole_domain(dsd, directory):
    admin = dsd.describe_user(DirectoryId=directory, SAMAccountName="Administrator")
    assert admin["DistinguishedName"].startswith("CN=Administrator,CN=Users,")
    assert admin["SID"].endswith("-500") and admin["Enabled"] is True


def test_unknown_user_and_realm(lab, dsd, directory):
    error = error_of(dsd.describe_user, DirectoryId=directory, SAMAccountName="nosuchuser")
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ResourceNotFoundException", 404)
    error = error_of(dsd.describe_user, DirectoryId=directory, SAMAccountName="Administrator",
                     Realm="other.example.com")
    assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", "INVALID_REALM")
    error = error_of(dsd.describe_user, DirectoryId=directory, SAMAccountName="bad name!")
    assert error["Error"]["Code"] == "ValidationException"


def test_a_trusted_realm_has_no_controllers_in_the_lab(lab, dsd, directory):
    ds = boto3.client("ds")
    trust = ds.create_trust(DirectoryId=directory, RemoteDomainName="onprem.example.net",
                            TrustPassword="Trust-Passw0rd", TrustDirection="One-Way: Outgoing", TrustType="Forest",
                            ConditionalForwarderIpAddrs=["192.0.2.53"])["TrustId"]
    try:
        error = error_of(dsd.describe_user, DirectoryId=directory, SAMAccountName="someone", Realm="ONPREM.example.net")
        assert (error["Error"]["Code"], error["Reason"]) == ("DirectoryUnavailableException", "TRUST_AUTH_FAILURE")
    finally:
        ds.delete_trust(TrustId=trust)


def test_an_existing_name_is_a_conflict(dsd, directory, names):
    name, made = new_user(dsd, directory, names)
    error = error_of(dsd.create_user, DirectoryId=directory, SAMAccountName=name)
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ConflictException", 409)
    group, dummy = new_group(dsd, directory, names)
    error = error_of(dsd.create_user, DirectoryId=directory, SAMAccountName=group)
    assert error["Error"]["Code"] == "ConflictException"


def test_client_token_replays_the_first_result_and_refuses_other_input(lab, dsd, directory, ad, names):
    name = unique("tok")
    names.append(name)
    token = str(uuid.uuid4())
    first = dsd.create_user(DirectoryId=directory, SAMAccountName=name, GivenName="A", ClientToken=token)
    again = dsd.create_user(DirectoryId=directory, SAMAccountName=name, GivenName="A", ClientToken=token)
    assert {k: again[k] for k in ("SID", "SAMAccountName", "DirectoryId")} == \
        {k: first[k] for k in ("SID", "SAMAccountName", "DirectoryId")}
    assert len(find(ad, lab, name)) == 1
    error = error_of(dsd.create_user, DirectoryId=directory, SAMAccountName=name, GivenName="B", ClientToken=token)
    assert error["Error"]["Code"] == "ConflictException"
    # A token only applies to its operation: the same token on another one is a new request.
    dsd.disable_user(DirectoryId=directory, SAMAccountName=name, ClientToken=token)


def test_update_user_add_replace_remove(lab, dsd, directory, ad, names):
    name, dummy = new_user(dsd, directory, names, GivenName="Old")

    def update(update_type, **kwargs):
        return dsd.update_user(DirectoryId=directory, SAMAccountName=name, UpdateType=update_type, **kwargs)

    def attrs():
        return dsd.describe_user(DirectoryId=directory, SAMAccountName=name,
                                 OtherAttributes=["department", "telephoneNumber"])

    def refused(update_type, **kwargs):
        error = error_of(update, update_type, **kwargs)
        return error["Error"]["Code"], error["Reason"]

    update("ADD", OtherAttributes={"department": {"S": "Eng"}, "telephoneNumber": {"S": "1"}})
    assert attrs()["OtherAttributes"] == {"department": {"S": "Eng"}, "telephoneNumber": {"S": "1"}}
    # The model: "If no value exists for the attribute, use ADD. Otherwise, use REPLACE ... or REMOVE".
    assert refused("ADD", OtherAttributes={"department": {"S": "Other"}}) == ("ValidationException", "ATTRIBUTE_EXISTS")
    assert refused("ADD", GivenName="Other") == ("ValidationException", "ATTRIBUTE_EXISTS")
    assert refused("REPLACE", Surname="None yet") == ("ValidationException", "MISSING_ATTRIBUTE")
    assert refused("REPLACE", GivenName="New", Surname="None yet") == ("ValidationException", "MISSING_ATTRIBUTE")
    assert attrs()["GivenName"] == "Old" and "Surname" not in attrs()  # a refused update changes nothing
    update("REPLACE", GivenName="New", OtherAttributes={"department": {"S": "Lead"}})
    assert attrs()["GivenName"] == "New" and attrs()["OtherAttributes"]["department"] == {"S": "Lead"}
    update("ADD", Surname="Added")
    assert attrs()["Surname"] == "Added"
    update("REMOVE", OtherAttributes={"telephoneNumber": {"S": "1"}, "department": {"S": "x"}})
    assert attrs().get("OtherAttributes") is None
    assert find(ad, lab, name, ["department"])[0].department.value is None
    assert refused("REMOVE", OtherAttributes={"department": {"S": "x"}}) == ("ValidationException", "MISSING_ATTRIBUTE")
    dsd.update_user(DirectoryId=directory, SAMAccountName=name, Surname="Replaced")
    assert attrs()["Surname"] == "Replaced"  # no UpdateType: REPLACE


@pytest.mark.parametrize("call, kwargs", [
    ("create_user", {"OtherAttributes": {"title": {"S": "Engineer"}}}),
    ("describe_user", {"OtherAttributes": ["title"]}),
    ("describe_user", {"OtherAttributes": ["pwdLastSet", "userAccountControl"]}),
    ("update_user", {"UpdateType": "ADD", "OtherAttributes": {"info": {"S": "x"}}}),
    ("create_group", {"OtherAttributes": {"info": {"S": "x"}}}),
    ("describe_group", {"OtherAttributes": ["member"]}),
])
def test_other_attributes_outside_aws_list_are_refused(dsd, directory, names, call, kwargs):
    """Only the attributes on AWS's "Directory Service Data attributes" list (as far as verified; AWS_FACTS.md
    section 7): any other name is ValidationException INVALID_ATTRIBUTE_NAME, and nothing is written."""
    name = unique("doc")
    names.append(name)
    if call in ("describe_user", "update_user"):
        dsd.create_user(DirectoryId=directory, SAMAccountName=name)
    if call == "describe_group":
        dsd.create_group(DirectoryId=directory, SAMAccountName=name)
    error = error_of(getattr(dsd, call), DirectoryId=directory, SAMAccountName=name, **kwargs)
    assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", "INVALID_ATTRIBUTE_NAME")
    if call.startswith("create"):
        assert error_of(dsd.describe_user if call == "create_user" else dsd.describe_group, DirectoryId=directory,
                        SAMAccountName=name)["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("attributes, reason", [
    ({"noSuchAttribute": {"S": "x"}}, "INVALID_ATTRIBUTE_NAME"),
    ({"givenName": {"S": "x"}}, "INVALID_ATTRIBUTE_NAME"),  # a request parameter, not an other attribute
    ({"objectSid": {"S": "S-1-5-21-1"}}, "INVALID_ATTRIBUTE_NAME"),  # not on AWS's list
    ({"pwdLastSet": {"N": 0}}, "INVALID_ATTRIBUTE_FOR_MODIFY"),
    ({"objectGUID": {"S": "x"}}, "INVALID_ATTRIBUTE_FOR_MODIFY"),
    ({"department": {"N": 5}}, "INVALID_ATTRIBUTE_VALUE"),
    ({"department": {"SS": ["a", "b"]}}, "INVALID_ATTRIBUTE_VALUE"),
    ({"department": {"S": "a"}, "DEPARTMENT": {"S": "b"}}, "DUPLICATE_ATTRIBUTE"),
])
def test_update_user_rejects_bad_attributes(dsd, directory, names, attributes, reason):
    name, dummy = new_user(dsd, directory, names)
    error = error_of(dsd.update_user, DirectoryId=directory, SAMAccountName=name, UpdateType="REPLACE",
                     OtherAttributes=attributes)
    assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", reason)


def test_create_rejects_attributes_of_another_object_class(dsd, directory, names):
    name = unique("cls")
    names.append(name)
    error = error_of(dsd.create_group, DirectoryId=directory, SAMAccountName=name,
                     OtherAttributes={"department": {"S": "x"}})
    assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", "INVALID_ATTRIBUTE_FOR_GROUP")
    error = error_of(dsd.create_group, DirectoryId=directory, SAMAccountName=name,
                     OtherAttributes={"groupType": {"N": 2}})
    assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", "INVALID_ATTRIBUTE_NAME")


def test_disable_user(lab, dsd, directory, ad, names):
    name, dummy = new_user(dsd, directory, names)
    dn = f"CN={name},{lab['LAB_AD_USERS_OU']}"
    ad.extend.microsoft.modify_password(dn, lab["LAB_USER_PASSWORD"])
    ad.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [512])]})
    assert dsd.describe_user(DirectoryId=directory, SAMAccountName=name)["Enabled"] is True
    dsd.disable_user(DirectoryId=directory, SAMAccountName=name)
    assert dsd.describe_user(DirectoryId=directory, SAMAccountName=name)["Enabled"] is False
    assert find(ad, lab, name, ["userAccountControl"])[0].userAccountControl.value == 514
    dsd.disable_user(DirectoryId=directory, SAMAccountName=name)  # already disabled: no error


def test_delete_user(lab, dsd, directory, ad, names):
    name, dummy = new_user(dsd, directory, names)
    dsd.delete_user(DirectoryId=directory, SAMAccountName=name)
    assert find(ad, lab, name) == []
    assert error_of(dsd.describe_user, DirectoryId=directory, SAMAccountName=name)["Error"]["Code"] == \
        "ResourceNotFoundException"
    assert error_of(dsd.delete_user, DirectoryId=directory, SAMAccountName=name)["Error"]["Code"] == \
        "ResourceNotFoundException"


@pytest.mark.parametrize("call", ["update_user", "disable_user", "delete_user"])
def test_writes_outside_your_ou_are_denied(dsd, directory, call):
    kwargs = {"GivenName": "x"} if call == "update_user" else {}
    error = error_of(getattr(dsd, call), DirectoryId=directory, SAMAccountName="Administrator", **kwargs)
    assert (error["Error"]["Code"], error["Reason"], error["ResponseMetadata"]["HTTPStatusCode"]) == \
        ("AccessDeniedException", "DIRECTORY_AUTH", 403)


def test_list_users_pages(lab, dsd, directory, names):
    made = sorted(new_user(dsd, directory, names, prefix="pg")[0] for dummy in range(5))
    pages = list(dsd.get_paginator("list_users").paginate(DirectoryId=directory, PaginationConfig={"PageSize": 2}))
    assert all(len(page["Users"]) <= 2 for page in pages) and len(pages) >= 3
    listed = [user["SAMAccountName"] for page in pages for user in page["Users"]]
    assert len(listed) == len(set(listed))
    assert set(made) <= set(listed) and {"Administrator", "Admin"} <= set(listed)
    summary = next(user for page in pages for user in page["Users"] if user["SAMAccountName"] == made[0])
    assert set(summary) == {"SAMAccountName", "SID", "Enabled"} and summary["Enabled"] is False
    first = dsd.list_users(DirectoryId=directory, MaxResults=1)
    assert len(first["Users"]) == 1 and first["NextToken"]
    error = error_of(dsd.list_users, DirectoryId=directory, NextToken="forged")
    assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", "INVALID_NEXT_TOKEN")
    error = error_of(dsd.list_groups, DirectoryId=directory, NextToken=first["NextToken"])
    assert error["Reason"] == "INVALID_NEXT_TOKEN"  # a token belongs to its operation
    assert error_of(dsd.list_users, DirectoryId=directory, MaxResults=251)["Error"]["Code"] == "ValidationException"


def test_search_users(dsd, directory, names):
    marker = unique("Zq")
    made = [new_user(dsd, directory, names, prefix="s", GivenName=f"{marker}{i}")[0] for i in range(3)]
    found = dsd.search_users(DirectoryId=directory, SearchAttributes=["givenName"], SearchString=marker.lower())
    assert sorted(user["SAMAccountName"] for user in found["Users"]) == sorted(made)
    assert all(user["DistinguishedName"] and user["SID"] for user in found["Users"])
    paged = list(dsd.get_paginator("search_users").paginate(
        DirectoryId=directory, SearchAttributes=["givenName", "sn"], SearchString=marker,
        PaginationConfig={"PageSize": 2}))
    assert [len(page["Users"]) for page in paged] == [2, 1]
    error = error_of(dsd.search_users, DirectoryId=directory, SearchAttributes=["givenName"], SearchString="a*")
    assert error["Error"]["Code"] == "ValidationException"
    error = error_of(dsd.search_users, DirectoryId=directory, SearchAttributes=["objectSid"], SearchString="S-1")
    assert error["Reason"] == "INVALID_ATTRIBUTE_FOR_SEARCH"


# --- groups -------------------------------------------------------------------------------------

@pytest.mark.parametrize("group_type, scope, bits", [
    ("Security", "Global", -2147483646), ("Security", "DomainLocal", -2147483644),
    ("Security", "Universal", -2147483640), ("Distribution", "Global", 2), ("Distribution", "Universal", 8),
])
def test_create_group_sets_ad_group_type(lab, dsd, directory, ad, names, group_type, scope, bits):
    name, made = new_group(dsd, directory, names, GroupType=group_type, GroupScope=scope)
    entry = find(ad, lab, name, ["groupType", "objectSid"])[0]
    assert entry.entry_dn == f"CN={name},{lab['LAB_AD_USERS_OU']}"
    assert entry.groupType.value == bits
    described = dsd.describe_group(DirectoryId=directory, SAMAccountName=name)
    assert described["SID"] == made["SID"] == entry.objectSid.value and described["SID"].startswith("S-1-5-21-")
    assert (described["GroupType"], described["GroupScope"]) == (group_type, scope)
    assert described["DistinguishedName"] == entry.entry_dn and described["Realm"] == lab["LAB_AD_DOMAIN"]


def test_group_defaults_conflicts_and_builtin(lab, dsd, directory, ad, names):
    name, made = new_group(dsd, directory, names, OtherAttributes={"description": {"S": "team"}})
    described = dsd.describe_group(DirectoryId=directory, SAMAccountName=name, OtherAttributes=["description"])
    assert (described["GroupType"], described["GroupScope"]) == ("Security", "Global")
    assert described["OtherAttributes"] == {"description": {"S": "team"}}
    error = error_of(dsd.create_group, DirectoryId=directory, SAMAccountName=name)
    assert error["Error"]["Code"] == "ConflictException"
    error = error_of(dsd.create_group, DirectoryId=directory, SAMAccountName=unique("b"), GroupScope="BuiltinLocal")
    assert error["Error"]["Code"] == "ValidationException"
    builtin = dsd.describe_group(DirectoryId=directory, SAMAccountName="Administrators")
    assert (builtin["GroupType"], builtin["GroupScope"], builtin["SID"]) == ("Security", "BuiltinLocal", "S-1-5-32-544")
    error = error_of(dsd.describe_group, DirectoryId=directory, SAMAccountName="nosuchgroup")
    assert error["Error"]["Code"] == "ResourceNotFoundException"


def test_list_update_and_delete_group(lab, dsd, directory, ad, names):
    name, made = new_group(dsd, directory, names)
    pages = dsd.get_paginator("list_groups").paginate(DirectoryId=directory, PaginationConfig={"PageSize": 10})
    groups = [g for page in pages for g in page["Groups"]]
    assert {"SAMAccountName": name, "SID": made["SID"], "GroupType": "Security", "GroupScope": "Global"} in groups
    assert "Domain Admins" in {g["SAMAccountName"] for g in groups}
    dsd.update_group(DirectoryId=directory, SAMAccountName=name, GroupScope="Universal")
    assert find(ad, lab, name, ["groupType"])[0].groupType.value == -2147483640
    error = error_of(dsd.update_group, DirectoryId=directory, SAMAccountName=name, GroupType="Distribution",
                     UpdateType="ADD")  # a group always has a type: REPLACE it
    assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", "ATTRIBUTE_EXISTS")
    dsd.update_group(DirectoryId=directory, SAMAccountName=name, GroupType="Distribution", UpdateType="REPLACE")
    dsd.update_group(DirectoryId=directory, SAMAccountName=name, UpdateType="ADD",
                     OtherAttributes={"displayName": {"S": "notes"}})
    error = error_of(dsd.update_group, DirectoryId=directory, SAMAccountName=name, UpdateType="ADD",
                     OtherAttributes={"displayName": {"S": "again"}})
    assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", "ATTRIBUTE_EXISTS")
    entry = find(ad, lab, name, ["groupType", "displayName"])[0]
    assert (entry.groupType.value, entry.displayName.value) == (8, "notes")
    found = dsd.search_groups(DirectoryId=directory, SearchAttributes=["sAMAccountName"], SearchString=name)
    assert [g["SAMAccountName"] for g in found["Groups"]] == [name]
    error = error_of(dsd.update_group, DirectoryId=directory, SAMAccountName="Domain Admins", GroupScope="Universal")
    assert (error["Error"]["Code"], error["Reason"]) == ("AccessDeniedException", "DIRECTORY_AUTH")
    dsd.delete_group(DirectoryId=directory, SAMAccountName=name)
    assert find(ad, lab, name) == []
    assert error_of(dsd.delete_group, DirectoryId=directory, SAMAccountName=name)["Error"]["Code"] == \
        "ResourceNotFoundException"


# --- membership ---------------------------------------------------------------------------------

def test_membership_is_ad_membership(lab, dsd, directory, ad, names):
    user, dummy = new_user(dsd, directory, names)
    group, dummy = new_group(dsd, directory, names)
    inner, dummy = new_group(dsd, directory, names)
    user_dn = f"CN={user},{lab['LAB_AD_USERS_OU']}"
    dsd.add_group_member(DirectoryId=directory, GroupName=group, MemberName=user)
    dsd.add_group_member(DirectoryId=directory, GroupName=group, MemberName=inner, MemberRealm=lab["LAB_AD_DOMAIN"])
    members = find(ad, lab, group, ["member"])[0].member.values
    assert {m.lower() for m in members} == {user_dn.lower(), f"CN={inner},{lab['LAB_AD_USERS_OU']}".lower()}
    listed = dsd.list_group_members(DirectoryId=directory, SAMAccountName=group)
    assert sorted((m["SAMAccountName"], m["MemberType"]) for m in listed["Members"]) == \
        sorted([(user, "USER"), (inner, "GROUP")])
    assert {m["SAMAccountName"]: m["SID"] for m in listed["Members"]}[user] == sid_in_ad(ad, lab, user)
    paged = list(dsd.get_paginator("list_group_members").paginate(
        DirectoryId=directory, SAMAccountName=group, PaginationConfig={"PageSize": 1}))
    assert [len(page["Members"]) for page in paged] == [1, 1]
    for_member = dsd.list_groups_for_member(DirectoryId=directory, SAMAccountName=user)
    assert [g["SAMAccountName"] for g in for_member["Groups"]] == [group]
    # Adding a member again is a conflict (the model's ConflictException says so), unless it is a retry
    # with the same ClientToken.
    error = error_of(dsd.add_group_member, DirectoryId=directory, GroupName=group, MemberName=user)
    assert error["Error"]["Code"] == "ConflictException"
    dsd.remove_group_member(DirectoryId=directory, GroupName=group, MemberName=user)
    assert {m.lower() for m in find(ad, lab, group, ["member"])[0].member.values} == \
        {f"CN={inner},{lab['LAB_AD_USERS_OU']}".lower()}
    error = error_of(dsd.remove_group_member, DirectoryId=directory, GroupName=group, MemberName=user)
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    token = str(uuid.uuid4())
    dsd.add_group_member(DirectoryId=directory, GroupName=group, MemberName=user, ClientToken=token)
    dsd.add_group_member(DirectoryId=directory, GroupName=group, MemberName=user, ClientToken=token)


def test_membership_errors(lab, dsd, directory, names):
    user, dummy = new_user(dsd, directory, names)
    group, dummy = new_group(dsd, directory, names)
    error = error_of(dsd.add_group_member, DirectoryId=directory, GroupName=group, MemberName="nosuchmember")
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    error = error_of(dsd.add_group_member, DirectoryId=directory, GroupName="nosuchgroup", MemberName=user)
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    error = error_of(dsd.add_group_member, DirectoryId=directory, GroupName="Domain Admins", MemberName=user)
    assert (error["Error"]["Code"], error["Reason"]) == ("AccessDeniedException", "DIRECTORY_AUTH")
    error = error_of(dsd.add_group_member, DirectoryId=directory, GroupName=group, MemberName=user,
                     MemberRealm="other.example.com")
    assert error["Reason"] == "INVALID_REALM"
    error = error_of(dsd.list_group_members, DirectoryId=directory, SAMAccountName="nosuchgroup")
    assert error["Error"]["Code"] == "ResourceNotFoundException"


def test_delegated_groups_take_members(lab, dsd, directory, ad, names):
    """AWS lets ds-data add members to the groups in OU=AWS Delegated Groups (AWS_FACTS.md section 7)."""
    user, dummy = new_user(dsd, directory, names)
    dsd.add_group_member(DirectoryId=directory, GroupName="AWS Delegated Administrators", MemberName=user)
    try:
        assert user in [g["SAMAccountName"] for g in dsd.list_group_members(
            DirectoryId=directory, SAMAccountName="AWS Delegated Administrators")["Members"]]
    finally:
        dsd.remove_group_member(DirectoryId=directory, GroupName="AWS Delegated Administrators", MemberName=user)
    assert dsd.list_groups_for_member(DirectoryId=directory, SAMAccountName=user)["Groups"] == []


# --- the directory behind the call --------------------------------------------------------------

def test_directory_errors(lab, dsd, directory):
    error = error_of(dsd.list_users, DirectoryId="d-0000000000")
    assert (error["Error"]["Code"], error["Reason"]) == ("AccessDeniedException", "DIRECTORY_AUTH")
    assert error_of(dsd.list_users, DirectoryId="bogus")["Error"]["Code"] == "ValidationException"
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.81.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.81.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    ds = boto3.client("ds")
    simple = ds.create_directory(Name="simple.example.com", Password="Simple-Passw0rd", Size="Small",
                                 VpcSettings={"VpcId": vpc, "SubnetIds": subnets})["DirectoryId"]
    try:
        error = error_of(dsd.list_users, DirectoryId=simple)
        assert (error["Error"]["Code"], error["Reason"]) == ("ValidationException", "INVALID_DIRECTORY_TYPE")
    finally:
        ds.delete_directory(DirectoryId=simple)


def test_data_access_must_be_enabled(lab, directory):
    second = make_directory(lab)
    ds = boto3.client("ds")
    try:
        error = error_of(client().list_users, DirectoryId=second)
        assert (error["Error"]["Code"], error["Reason"], error["ResponseMetadata"]["HTTPStatusCode"]) == \
            ("AccessDeniedException", "DATA_DISABLED", 403)
        enable_data_access(lab, second)
        assert client().list_users(DirectoryId=second, MaxResults=1)["Users"]
        ds.disable_directory_data_access(DirectoryId=second)
        assert error_of(client().list_users, DirectoryId=second)["Reason"] == "DATA_DISABLED"
    finally:
        ds.delete_directory(DirectoryId=second)


def test_a_directory_that_is_not_active_is_unavailable(lab, dsd, directory, no_faults):
    lab_api(lab, "POST", "faults", {"directory_stage": {directory: ["Impaired", "lab: a controller is down"]}})
    error = error_of(dsd.list_users, DirectoryId=directory)
    assert (error["Error"]["Code"], error["Reason"]) == ("DirectoryUnavailableException", "INVALID_DIRECTORY_STATE")
    lab_api(lab, "DELETE", "faults")
    dsd.list_users(DirectoryId=directory, MaxResults=1)


# --- throttling ---------------------------------------------------------------------------------

# --- eventual consistency (AWS_FACTS.md section 7) ----------------------------------------------

def settle(call, timeout=30):
    """Poll call until it stops answering as not yet consistent; the errors seen on the way."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return seen
        except ClientError as exc:
            seen.append((exc.response["Error"]["Code"], exc.response.get("Reason")))
            assert time.monotonic() < deadline, f"still {seen[-1]} after {timeout}s"
        time.sleep(0.2)


def test_a_new_user_is_not_seen_at_once(lab, dsd, directory, names):
    """For knob dsdata_consistency_delay seconds after CreateUser, ds-data answers ResourceNotFoundException
    for the user and ds ResetUserPassword UserDoesNotExistException [inferred: which calls, and how long]."""
    lab_api(lab, "POST", "knobs", {"dsdata_consistency_delay": 2})
    try:
        name, dummy = new_user(dsd, directory, names)
        group, dummy = new_group(dsd, directory, names)
        ds = boto3.client("ds", config=NO_RETRY)
        assert error_of(dsd.describe_user, DirectoryId=directory, SAMAccountName=name)["Error"]["Code"] == \
            "ResourceNotFoundException"
        assert error_of(dsd.add_group_member, DirectoryId=directory, GroupName=group,
                        MemberName=name)["Error"]["Code"] == "ResourceNotFoundException"
        assert error_of(ds.reset_user_password, DirectoryId=directory, UserName=name,
                        NewPassword=lab["LAB_USER_PASSWORD"])["Error"]["Code"] == "UserDoesNotExistException"
        settle(lambda: dsd.describe_user(DirectoryId=directory, SAMAccountName=name))
        dsd.add_group_member(DirectoryId=directory, GroupName=group, MemberName=name)
        ds.reset_user_password(DirectoryId=directory, UserName=name, NewPassword=lab["LAB_USER_PASSWORD"])
    finally:
        lab_api(lab, "POST", "knobs", {"dsdata_consistency_delay": 0})


def test_data_access_just_enabled_still_answers_data_disabled(lab, dsd, directory):
    """After EnableDirectoryDataAccess, ds says Enabled before ds-data serves: AccessDeniedException
    DATA_DISABLED for knob dsdata_consistency_delay seconds."""
    ds = boto3.client("ds")

    def status():
        return ds.describe_directory_data_access(DirectoryId=directory)["DataAccessStatus"]

    lab_api(lab, "POST", "knobs", {"dsdata_consistency_delay": 2})
    try:
        ds.disable_directory_data_access(DirectoryId=directory)
        deadline = time.monotonic() + 30
        while status() != "Disabled":
            assert time.monotonic() < deadline, "data access never became Disabled"
            time.sleep(0.2)
        enable_data_access(lab, directory)
        assert status() == "Enabled"
        error = error_of(dsd.describe_user, DirectoryId=directory, SAMAccountName="Administrator")
        assert (error["Error"]["Code"], error["Reason"]) == ("AccessDeniedException", "DATA_DISABLED")
        assert settle(lambda: dsd.describe_user(DirectoryId=directory, SAMAccountName="Administrator"))
    finally:
        lab_api(lab, "POST", "knobs", {"dsdata_consistency_delay": 0})
        enable_data_access_if_needed(lab, directory)


def enable_data_access_if_needed(lab, directory_id):
    ds = boto3.client("ds")
    if ds.describe_directory_data_access(DirectoryId=directory_id)["DataAccessStatus"] not in ("Enabled", "Enabling"):
        enable_data_access(lab, directory_id)


def burst(call, seconds, threads=4):
    """Call from `threads` threads as fast as they can for `seconds`: (successes, throttled responses, elapsed).
    Four threads outrun 16 TPS even on a busy machine, and stay under the 10 requests in flight."""
    lock = threading.Lock()
    ok, throttled = [0], []
    start = time.monotonic()

    def loop():
        while time.monotonic() - start < seconds:
            try:
                call()
                with lock:
                    ok[0] += 1
            except ClientError as exc:
                with lock:
                    throttled.append(exc.response)

    workers = [threading.Thread(target=loop) for dummy in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ok[0], throttled, time.monotonic() - start


def paced(call, rate, count):
    """`count` calls one after another, each 1/(0.8 rate) s after the end of the one before (the first after an
    emptied bucket): slower than the documented rate, so none may be throttled however busy the machine (a delay
    only spaces them more). Returns the throttled responses."""
    throttled = []
    for dummy in range(count):
        time.sleep(1 / (0.8 * rate))
        try:
            call()
        except ClientError as exc:
            throttled.append(exc.response)
    return throttled


def test_no_throttling_without_the_fault(dsd, directory, no_faults):
    fast = client(NO_RETRY)
    ok, throttled, elapsed = burst(lambda: fast.describe_user(DirectoryId=directory, SAMAccountName="Admin"), 1.5)
    assert throttled == [] and ok > 16 + 16 * elapsed, f"{ok} calls in {elapsed:.1f}s: too slow to show throttling"


@pytest.mark.parametrize("kind, rate", [("read", 16), ("write", 8)])
def test_throttling_at_the_documented_tps(lab, directory, names, no_faults, kind, rate):
    """Enterprise: 8 write / 16 read TPS per directory (AWS_FACTS.md section 7)."""
    fast = client(NO_RETRY)
    name, dummy = new_user(fast, directory, names)
    lab_api(lab, "POST", "faults", {"ds_data_tps": True})
    time.sleep(1.1)  # a full bucket
    if kind == "read":
        ok, throttled, elapsed = burst(lambda: fast.describe_user(DirectoryId=directory, SAMAccountName=name), 2)
    else:
        ok, throttled, elapsed = burst(lambda: fast.disable_user(DirectoryId=directory, SAMAccountName=name), 2)
    # At most the bucket and what refilled while the burst lasted; at least the documented rate when calls come
    # slower than it (a lower bound on the burst's own count would measure the client, not the lab).
    assert throttled, f"{ok} calls in {elapsed:.1f}s and none throttled"
    assert ok <= rate + rate * elapsed + 2
    if kind == "read":
        assert paced(lambda: fast.describe_user(DirectoryId=directory, SAMAccountName=name), rate, rate) == []
    else:
        assert paced(lambda: fast.disable_user(DirectoryId=directory, SAMAccountName=name), rate, rate) == []
    error = throttled[0]
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ThrottlingException", 429)
    assert error["RetryAfterSeconds"] == 1
    # The SDK's own retries ride it out.
    patient = client(Config(retries={"max_attempts": 10, "mode": "standard"}))
    for dummy in range(rate * 2):
        patient.describe_user(DirectoryId=directory, SAMAccountName=name)


def test_standard_edition_has_lower_limits(lab, no_faults):
    standard = make_directory(lab, edition="Standard")
    try:
        enable_data_access(lab, standard)
        fast = client(NO_RETRY)
        lab_api(lab, "POST", "faults", {"ds_data_tps": True})
        time.sleep(1.1)
        ok, throttled, elapsed = burst(lambda: fast.list_groups(DirectoryId=standard, MaxResults=1), 2)
        assert throttled and ok <= 8 + 8 * elapsed + 2
        assert paced(lambda: fast.list_groups(DirectoryId=standard, MaxResults=1), 8, 8) == []
    finally:
        boto3.client("ds").delete_directory(DirectoryId=standard)


# --- the call log -------------------------------------------------------------------------------

def test_calls_are_logged(lab, dsd, directory):
    lab_api(lab, "DELETE", "calls")
    dsd.list_users(DirectoryId=directory, MaxResults=1)
    error_of(dsd.delete_user, DirectoryId=directory, SAMAccountName="nosuchuser")
    calls = [(c["service"], c["operation"], c["mutating"], c["status"]) for c in lab_api(lab, "GET", "calls")["calls"]]
    assert calls == [("ds-data", "ListUsers", False, 200), ("ds-data", "DeleteUser", True, 404)]


# --- end to end ---------------------------------------------------------------------------------

def test_a_ds_data_user_logs_in_to_postgres_with_kerberos(lab, dsd, directory, names):
    name, dummy = new_user(dsd, directory, names, prefix="k")
    name = name.lower()
    ds = boto3.client("ds", config=NO_RETRY)
    ds.reset_user_password(DirectoryId=directory, UserName=name, NewPassword=lab["LAB_USER_PASSWORD"])
    assert dsd.describe_user(DirectoryId=directory, SAMAccountName=name)["Enabled"] is True
    principal = f"{name}@{lab['LAB_AD_REALM']}"
    with tempfile.TemporaryDirectory() as tmp:
        ccache = Path(tmp) / "cc"
        result = kinit(lab, principal, lab["LAB_USER_PASSWORD"], ccache)
        assert result.returncode == 0, result.stderr
        with member_cluster(lab) as cluster:  # the endpoint's service principal exists only for a member
            env = cluster_env(current_env(lab), cluster)
            admin = master(env)
            sql(admin, f'CREATE ROLE "{principal}" LOGIN IN ROLE rds_ad')
            admin.close()
            conn = pg_connect(env, principal, ccache=ccache)
            try:
                assert sql(conn, "SELECT current_user")[0][0] == principal
            finally:
                conn.close()


def test_group_members_walk_nested_groups_and_leave_disabled_users_out(lab, dsd, directory, names):
    """ad_group_members_info's ds-data path (plugins/module_utils/ad_members.py, which imports nothing of the
    collection) against the lab: ListGroupMembers walked into a nested group (and back: a cycle), ListUsers'
    Enabled, every answer checked against the model's shapes."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "plugins" / "module_utils" / "ad_members.py"
    spec = importlib.util.spec_from_file_location("ad_members", path)
    ad_members = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ad_members)
    direct, nested = unique("md"), unique("mn")
    names.extend([direct, nested])
    for name in (direct, nested):
        create_ad_user(lab, name, lab["LAB_USER_PASSWORD"])  # enabled, with a password
    disabled, dummy = new_user(dsd, directory, names, prefix="mx")  # CreateUser makes it disabled
    outer, dummy = new_group(dsd, directory, names, prefix="mg")
    inner, dummy = new_group(dsd, directory, names, prefix="mi")
    for group, member in ((outer, direct), (outer, disabled), (outer, inner), (inner, nested), (inner, outer)):
        dsd.add_group_member(DirectoryId=directory, GroupName=group, MemberName=member)
    found = ad_members.ds_data_members(dsd, directory, [outer])
    assert [m["name"] for m in found[outer]["members"]] == sorted([direct, nested])
    assert found[outer]["groups"] == [inner]
    with pytest.raises(ad_members.GroupNotFound):
        ad_members.ds_data_members(dsd, directory, [unique("none")])


def test_every_operation_was_checked_against_its_model_shape(request):
    """Runs last: the shape checker saw every ds-data operation at least once."""
    if request.config.getoption("keyword") or request.config.getoption("markexpr"):
        pytest.skip("only meaningful when the whole module runs")
    assert set(MODEL.operation_names) <= set(CHECKED), set(MODEL.operation_names) - set(CHECKED)
