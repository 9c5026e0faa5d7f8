# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.ad_users: a list of users and groups in one task, over LDAPS (FakeAD, tests/unit/conftest.py)
and over ds-data (botocore's Stubber: every request checked against the ds and ds-data models, in order)."""

import json
import threading
import time

import pytest
from botocore.stub import ANY

from aws_stubs import assert_all_used, capture_warnings, raise_on_exit, stubbed
from aws_stubs import run as run_module

from ansible_collections.aurora.kerberos.plugins.module_utils import ad_bulk
from ansible_collections.aurora.kerberos.plugins.module_utils import ds_data
from ansible_collections.aurora.kerberos.plugins.modules import ad_users

PASSWORD = "Corr3ct-Horse!"
ID = "d-1234567890"
OU = "OU=Users,OU=CORP,DC=corp,DC=example,DC=com"
SID = "S-1-5-21-2127521184-1604012920-1887927527-%d"


# --- ldap -------------------------------------------------------------------------------------

@pytest.fixture
def ldap(fake_ad, ca_file, monkeypatch):
    raise_on_exit(monkeypatch)
    warnings = capture_warnings(monkeypatch)
    rules = fake_ad._apply_ad_rules  # FakeAD applies user rules to every object: leave groups out of them
    monkeypatch.setattr(fake_ad, "_apply_ad_rules", lambda dn: None if b"group" in [
        value.lower() for value in fake_ad.dit[dn].get("objectClass", [])] else rules(dn))
    searches = []
    original = fake_ad.connection

    def connection(server, **kwargs):
        conn = original(server, **kwargs)
        search = conn.search

        def counted(*args, **kw):
            searches.append(args[1] if len(args) > 1 else kw.get("search_filter"))
            return search(*args, **kw)

        conn.search = counted
        return conn

    from ansible_collections.aurora.kerberos.plugins.module_utils import ad_ldap
    monkeypatch.setattr(ad_ldap, "Connection", connection)

    def run(check_mode=False, **args):
        base = dict(domain="corp.example.com", ldap_server="198.51.100.2", ldap_server_name="dc1.corp.example.com",
                    ldap_ca_file=ca_file, bind_password=fake_ad.ADMIN_PASSWORD)
        searches.clear()
        return run_module(ad_users.main, check_mode, **dict(base, **args))

    return dict(run=run, ad=fake_ad, searches=searches, warnings=warnings)


def people(count, **extra):
    return [dict({"name": "user%03d" % i, "password": PASSWORD}, **extra) for i in range(count)]


def test_ldap_creates_a_list_over_one_connection_with_one_read_then_changes_nothing(ldap):
    result = ldap["run"](users=people(30, given_name="Ann"))
    assert result["changed"] and not result["failed"], result
    assert len(ldap["ad"].connections) == 1
    # one set-based read of the 30 names, then one read back per created user (as ad_user returns it)
    assert sum(1 for f in ldap["searches"] if f.startswith("(|")) == 1
    assert result["changed_users"] == ["user%03d" % i for i in range(30)]
    dn = f"CN=user007,{OU}"
    assert ldap["ad"].value(dn, "givenName") == "Ann" and ldap["ad"].value(dn, "userAccountControl") == "512"
    assert ldap["ad"].value(dn, "msDS-SupportedEncryptionTypes") == "24"
    assert result["users"][7]["dn"] == dn and result["users"][7]["enabled"] is True
    assert PASSWORD not in json.dumps(result)

    again = ldap["run"](users=people(30, given_name="Ann"))
    assert not again["changed"] and again["changed_users"] == [] and again["diff"]["after"] == {"users": {}, "groups": {}}
    assert len(ldap["searches"]) == 1  # a converged list costs one search


def test_ldap_check_mode_predicts_and_writes_nothing(ldap):
    ldap["ad"].add_user("user001", password=PASSWORD, givenName="Old")
    before = ldap["ad"].snapshot()
    result = ldap["run"](check_mode=True, users=people(2, given_name="New"))
    assert result["changed"] and result["changed_users"] == ["user000", "user001"]
    assert result["diff"]["before"]["users"]["user001"]["given_name"] == "Old"
    assert result["diff"]["after"]["users"]["user001"]["given_name"] == "New"
    assert result["diff"]["before"]["users"]["user000"] == {}
    assert ldap["ad"].snapshot() == before


def test_ldap_groups_come_after_users_and_take_them_as_members(ldap):
    result = ldap["run"](users=people(2), groups=[{"name": "db-readers", "members": ["user000", "user001"]}])
    assert not result["failed"], result["msg"]
    assert result["changed_groups"] == ["db-readers"]
    [group] = result["groups"]
    assert group["members"] == ["user000", "user001"] and group["sid"].startswith("S-1-5-21-")
    assert sorted(ldap["ad"].entry(f"CN=db-readers,{OU}")["member"]) == [f"CN=user000,{OU}", f"CN=user001,{OU}"]


def test_state_absent_deletes_every_listed_user_and_group(ldap):
    ldap["ad"].add_user("user000", password=PASSWORD)
    result = ldap["run"](users=people(2), groups=[{"name": "nobody"}], state="absent")
    assert result["changed_users"] == ["user000"] and result["changed_groups"] == []
    assert f"CN=user000,{OU}" not in ldap["ad"].dit
    assert result["users"] == [{}, {}]


def test_a_failing_user_is_named(ldap):
    ldap["ad"].fail_next("add", 53, "0000052D: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0")
    result = ldap["run"](users=people(1))
    assert result["failed"] and result["msg"].startswith("user000: Failed to create user CN=user000")
    assert PASSWORD not in result["msg"]


def test_bad_entries_are_refused_before_connecting_naming_each(ldap):
    result = ldap["run"](users=[{"name": "a" * 21}, {"name": "Bob"}, {"name": "bob", "password": ""}],
                         groups=[{"name": "x", "members": ["a,b"]}])
    assert result["failed"] and ldap["ad"].connections == []
    for part in ("users[0].name", "users[2].name 'bob' is the same user as users[1]", "users[2].password",
                 "groups[0].members entry 'a,b'"):
        assert part in result["msg"]


# --- ds-data ----------------------------------------------------------------------------------

@pytest.fixture
def aws(monkeypatch):
    stubbers = stubbed(monkeypatch, "ds", "ds-data")
    monkeypatch.setattr(ds_data.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(ad_bulk, "IN_FLIGHT", 1)  # the Stubber answers in order: one write at a time here
    warnings = capture_warnings(monkeypatch)
    yield dict(stubbers, warnings=warnings)
    assert_all_used(stubbers)


def run_ds(check_mode=False, **args):
    return run_module(ad_users.main, check_mode,
                      **dict({"backend": "ds_data", "directory_id": ID, "domain": "corp.example.com"}, **args))


def directory(aws, users=()):
    aws["ds"].add_response("describe_directories", {"DirectoryDescriptions": [
        {"DirectoryId": ID, "Name": "corp.example.com", "Edition": "Standard", "Stage": "Active"}]}, {"DirectoryIds": [ID]})
    aws["ds"].add_response("describe_directory_data_access", {"DataAccessStatus": "Enabled"}, {"DirectoryId": ID})
    aws["ds-data"].add_response("list_users", {"DirectoryId": ID, "Users": [
        {"SAMAccountName": name, "SID": SID % 1200, "Enabled": True} for name in users]},
        {"DirectoryId": ID, "MaxResults": 250})


def create(aws, name, rid):
    aws["ds-data"].add_response("create_user", {"DirectoryId": ID, "SAMAccountName": name, "SID": SID % rid},
                                {"DirectoryId": ID, "SAMAccountName": name, "ClientToken": ANY,
                                 "OtherAttributes": {"msDS-SupportedEncryptionTypes": {"N": 24}}})


def reset(aws, name, error=None):
    params = {"DirectoryId": ID, "UserName": name, "NewPassword": PASSWORD}
    if error:
        aws["ds"].add_client_error("reset_user_password", error, "no such user yet", 400, expected_params=params)
    else:
        aws["ds"].add_response("reset_user_password", {}, params)


def test_ds_data_new_users_are_created_first_then_their_passwords_without_waiting_on_each(aws):
    directory(aws)
    create(aws, "alice", 1105)
    create(aws, "bob", 1106)
    reset(aws, "alice", "UserDoesNotExistException")  # ds does not show alice yet: bob goes first
    reset(aws, "bob")
    reset(aws, "alice")
    result = run_ds(users=[{"name": "alice", "password": PASSWORD}, {"name": "bob", "password": PASSWORD}])
    assert result["changed"] and not result["failed"], result
    assert [u["sid"] for u in result["users"]] == [SID % 1105, SID % 1106]
    assert result["users"][0] == {"name": "alice", "dn": f"CN=alice,{OU}", "sid": SID % 1105,
                                  "user_principal_name": "alice@CORP.EXAMPLE.COM", "enabled": True, "given_name": None,
                                  "surname": None, "email_address": None, "supported_encryption_types": ["aes128", "aes256"]}
    assert PASSWORD not in json.dumps(result)


def test_ds_data_every_write_carries_a_client_token_and_keeps_it_across_a_throttled_retry(aws):
    directory(aws)
    tokens = []
    for error in ("ThrottlingException", None):
        expected = {"DirectoryId": ID, "SAMAccountName": "alice", "ClientToken": ANY,
                    "OtherAttributes": {"msDS-SupportedEncryptionTypes": {"N": 24}}}
        if error:
            aws["ds-data"].add_client_error("create_user", error, "Rate exceeded", 429, expected_params=expected)
        else:
            aws["ds-data"].add_response("create_user", {"DirectoryId": ID, "SAMAccountName": "alice", "SID": SID % 1105},
                                        expected)
    aws["ds-data"].client.meta.events.register(
        "before-parameter-build", lambda params, model, **kw: tokens.append(params.get("ClientToken"))
        if model.name == "CreateUser" else None)
    result = run_ds(users=[{"name": "alice"}])
    assert result["changed"] and len(tokens) == 2 and tokens[0] and tokens[0] == tokens[1]
    assert aws["warnings"] == ["Created alice disabled because no password was given: the directory enables a user "
                               "only when its password is set. A later run that gives password enables it."]


def test_ds_data_existing_users_follow_ad_user_and_absent_ones_cost_no_call(aws):
    directory(aws, users=["alice"])
    aws["ds-data"].add_response("describe_user", {
        "DirectoryId": ID, "SAMAccountName": "alice", "SID": SID % 1105, "Enabled": True,
        "DistinguishedName": f"CN=alice,{OU}", "UserPrincipalName": "alice@CORP.EXAMPLE.COM", "GivenName": "Alice",
        "OtherAttributes": {"pwdLastSet": {"S": "133100000000000000"}, "msDS-SupportedEncryptionTypes": {"N": 24}}},
        {"DirectoryId": ID, "SAMAccountName": "alice", "OtherAttributes": ["msDS-SupportedEncryptionTypes", "pwdLastSet"]})
    result = run_ds(users=[{"name": "alice", "password": PASSWORD, "given_name": "Alice"},
                           {"name": "carol", "state": "absent"}])
    assert not result["changed"] and result["users"][0]["given_name"] == "Alice" and result["users"][1] == {}


def test_ds_data_check_mode_reads_and_predicts_only(aws):
    directory(aws)
    result = run_ds(check_mode=True, users=[{"name": "alice", "password": PASSWORD, "enabled": False}])
    assert result["changed"] and result["changed_users"] == ["alice"]
    assert result["diff"]["after"]["users"]["alice"]["enabled"] is False and result["users"][0]["sid"] is None


def test_ds_data_a_user_never_seen_by_ds_fails_naming_it_once_the_consistency_timeout_is_spent(aws, monkeypatch):
    directory(aws)
    create(aws, "alice", 1105)
    clock = [0.0]
    monkeypatch.setattr(ds_data.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(ds_data.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    for dummy in range(4):  # due after 1, 2, 4 and 8 s: the fifth try would pass the 10 s timeout
        reset(aws, "alice", "UserDoesNotExistException")
    result = run_ds(users=[{"name": "alice", "password": PASSWORD}], consistency_timeout=10)
    assert result["failed"] and result["msg"].startswith("alice: cannot set the password (ResetUserPassword)")


def test_pending_writes_do_not_sleep_while_another_is_due():
    class Data:
        consistency_timeout = 60
        slept = []

        def clock(self):
            return 100.0

        def sleep(self, seconds):
            self.slept.append(seconds)

    data = Data()
    done = []
    attempts = {"a": 0}

    def first():
        attempts["a"] += 1
        if attempts["a"] == 1:
            raise ds_data.AnsibleDSDataError(message="x", exception=_client_error("UserDoesNotExistException"))
        done.append("a")

    pending = ad_bulk.Pending(data, in_flight=1)
    pending.add("a", "set a", first)
    pending.add("b", "set b", lambda: done.append("b"))
    data.clock = lambda: 100.0 if not done else 101.0  # time passes as b is sent
    pending.run()
    assert done == ["b", "a"] and data.slept == []


class RealTime:
    consistency_timeout = 60
    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


def test_pending_writes_go_side_by_side_and_a_late_one_is_retried_after_the_others():
    lock = threading.Lock()
    state = {"busy": 0, "most": 0, "tries": 0}
    done = []

    def write(name, fail_first=False):
        def call():
            with lock:
                state["busy"] += 1
                state["most"] = max(state["most"], state["busy"])
                state["tries"] += name == "late"
                tries = state["tries"]
            try:
                if fail_first and tries == 1:
                    raise ds_data.AnsibleDSDataError(message="x", exception=_client_error("ResourceNotFoundException"))
                barrier.wait(timeout=5) if name.startswith("w") else None
                with lock:
                    done.append(name)
            finally:
                with lock:
                    state["busy"] -= 1
        return call

    barrier = threading.Barrier(3)  # three writes must be in flight together to pass it
    pending = ad_bulk.Pending(RealTime(), in_flight=3)
    pending.add("late", "set late", write("late", fail_first=True))
    for name in ("w1", "w2", "w3"):
        pending.add(name, "set " + name, write(name))
    pending.run()
    assert sorted(done) == ["late", "w1", "w2", "w3"] and done[-1] == "late"
    assert state["most"] == 3 and state["tries"] == 2


def test_pending_stops_at_the_first_real_error_and_names_the_user():
    pending = ad_bulk.Pending(RealTime(), in_flight=2)
    sent = []
    pending.add("alice", "create the user (CreateUser)", lambda: (dummy for dummy in ()).throw(
        ds_data.AnsibleDSDataError(message="Failed", exception=_client_error("ConflictException"))))
    for name in ("b", "c", "d", "e"):
        pending.add(name, "x", lambda name=name: sent.append(name))
    with pytest.raises(ds_data.AnsibleDSDataError) as raised:
        pending.run()
    assert raised.value.message == "alice: cannot create the user (CreateUser)"


def _client_error(code):
    from botocore.exceptions import ClientError
    return ClientError({"Error": {"Code": code, "Message": code}}, "ResetUserPassword")
