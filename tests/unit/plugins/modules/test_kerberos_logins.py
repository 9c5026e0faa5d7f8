# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.kerberos_logins against FakeServer (fake_pg.py): what it creates, grants, revokes
and drops, what it refuses before any write, check mode, diff, and the connection's errors."""

import json

import pytest

import aws_stubs
from aws_stubs import assert_all_used, raise_on_exit, stubbed
from aws_stubs import run as run_module
from fake_pg import FakeServer, quote

from ansible_collections.aurora.kerberos.plugins.module_utils import pg
from ansible_collections.aurora.kerberos.plugins.modules import kerberos_logins

REALM = "CORP.EXAMPLE.COM"
PASSWORD = "Master-Secret-123!"


@pytest.fixture
def server(monkeypatch):
    raise_on_exit(monkeypatch)
    fake = FakeServer()
    fake.connect_error = None

    def connect_to_db(module, params, autocommit=False, fail_on_conn=True):
        if fake.connect_error:
            module.warn("must not reach the user: " + fake.connect_error)
            return None, fake.connect_error
        assert autocommit is False
        fake.connection_count = getattr(fake, "connection_count", 0) + 1
        return fake.connection(**params), None

    monkeypatch.setattr(pg, "connect_to_db", connect_to_db)
    monkeypatch.setattr(pg, "quote_ident", quote)
    return fake


def run(check_mode=False, **args):
    base = {"login_host": "db.example", "login_password": PASSWORD, "ssl_mode": "prefer", "realm": REALM}
    return run_module(kerberos_logins.main, check_mode, **dict(base, **args))


def login(name):
    return "%s@%s" % (name, REALM)


def test_creates_logins_in_rds_ad_in_one_transaction_then_changes_nothing(server):
    result = run(logins=[{"name": "alice"}, {"name": "Bob"}])
    assert result["changed"] and not result["failed"]
    assert result["created"] == [login("alice"), login("bob")]
    assert result["queries"] == ['CREATE ROLE "alice@CORP.EXAMPLE.COM" LOGIN', 'GRANT "rds_ad" TO "alice@CORP.EXAMPLE.COM"',
                                 'CREATE ROLE "bob@CORP.EXAMPLE.COM" LOGIN', 'GRANT "rds_ad" TO "bob@CORP.EXAMPLE.COM"']
    assert server.roles_in("rds_ad") == [login("alice"), login("bob")]
    assert server.commits == 1 and server.connection_count == 1
    assert server.params["sslmode"] == "prefer" and server.params["connect_timeout"] == 10
    again = run(logins=[{"name": "alice"}, {"name": "bob"}])
    assert not again["changed"] and again["queries"] == [] and server.commits == 1
    assert again["logins"] == [login("alice"), login("bob")]
    assert PASSWORD not in json.dumps(result) + json.dumps(again)


def test_check_mode_predicts_and_writes_nothing(server):
    result = run(check_mode=True, logins=[{"name": "alice", "databases": ["postgres"]}])
    assert result["changed"] and result["created"] == [login("alice")]
    assert result["diff"] == {"before": {"logins": {login("alice"): {}}},
                              "after": {"logins": {login("alice"): {"member_of": ["rds_ad"], "connect": ["postgres"]}}}}
    assert server.writes == [] and server.commits == 0 and login("alice") not in server.state["roles"]


def test_a_batch_of_a_thousand_is_a_few_round_trips(server, monkeypatch):
    calls = []
    original = pg.execute

    def counting(cursor, conn, statements, render):
        calls.append(len(statements))
        return original(cursor, conn, statements, render)

    monkeypatch.setattr(pg, "execute", counting)
    result = run(logins=[{"name": "user%04d" % i} for i in range(1000)])
    assert len(result["created"]) == 1000 and calls == [2000]
    assert len(server.roles_in("rds_ad")) == 1000


def test_the_driver_quotes_each_name_once_per_run(server, monkeypatch):
    quoted = []

    def counting(name, conn=None):
        quoted.append(name)
        return quote(name, conn)

    monkeypatch.setattr(pg, "quote_ident", counting)
    result = run(logins=[{"name": "user%04d" % i} for i in range(100)])
    assert len(result["queries"]) == 200 and result["queries"][1] == 'GRANT "rds_ad" TO "user0000@CORP.EXAMPLE.COM"'
    assert sorted(quoted) == sorted(set(quoted)) and len(quoted) == 101  # 100 logins and rds_ad


def test_roles_and_databases_are_exact_and_quoted(server):
    server.add_role('x"; DROP ROLE postgres; --', login=False)
    server.add_role("readers", login=False)
    server.add_database("réports\\db", public=False)
    first = run(logins=[{"name": "alice", "roles": ['x"; DROP ROLE postgres; --', "readers"],
                         "databases": ["réports\\db"]}])
    assert 'GRANT "x""; DROP ROLE postgres; --" TO "alice@CORP.EXAMPLE.COM"' in first["queries"]
    assert 'GRANT CONNECT ON DATABASE "réports\\db" TO "alice@CORP.EXAMPLE.COM"' in first["queries"]
    assert "postgres" in server.state["roles"]
    second = run(logins=[{"name": "alice", "roles": ["readers"], "databases": []}])
    assert second["revoked"] == [{"role": 'x"; DROP ROLE postgres; --', "login": login("alice")},
                                 {"database": "réports\\db", "login": login("alice")}]
    assert server.roles_in("rds_ad") == [login("alice")]  # rds_ad is never revoked by roles
    assert not run(logins=[{"name": "alice"}])["changed"]  # omitted roles/databases: left alone


@pytest.mark.parametrize("name, reason", [
    ('al"ice', 'contains "'),
    ("al;ice", "contains ;"),
    ("al\\ice", "contains \\"),
    ("alice@CORP.EXAMPLE.COM", "without @REALM"),
    ("al\nice", "control character"),
    ("al\x00ice", "control character"),
    (" alice", "space"),
    ("", "is empty"),
    ("ü" * 26, "bytes; PostgreSQL names stop at 63"),
    ("a" * 47, "64 bytes"),
])
def test_hostile_logon_names_are_refused_before_connecting(server, name, reason):
    result = run(logins=[{"name": "fine"}, {"name": name}])
    assert result["failed"] and reason in result["msg"] and "logins[1].name" in result["msg"]
    assert not hasattr(server, "params") and server.writes == []


def test_every_offender_is_named_at_once(server):
    result = run(logins=[{"name": "a;b"}, {"name": "ok", "roles": ["r" * 64, "rds_iam"]}, {"name": "OK"}])
    for part in ("logins[0].name 'a;b'", "logins[1].roles 'rrrr", "logins[1].roles lists rds_iam",
                 "logins[2].name 'OK' is the same login as logins[1].name 'ok'"):
        assert part in result["msg"]


def test_unicode_names_are_lowered_and_quoted(server):
    result = run(logins=[{"name": "JÜRGEN"}, {"name": "名前"}])
    assert result["created"] == [login("jürgen"), login("名前")]
    assert 'CREATE ROLE "jürgen@CORP.EXAMPLE.COM" LOGIN' in result["queries"]


def test_realm_is_raised_and_checked(server):
    assert run(realm="corp.example.com", logins=[{"name": "a"}])["created"] == [login("a")]
    result = run(realm="CORP;EXAMPLE", logins=[{"name": "a"}])
    assert result["failed"] and "realm 'CORP;EXAMPLE' is not a Kerberos realm" in result["msg"]


def test_rds_iam_is_refused_directly_and_through_nested_roles(server):
    for name in ("alice", "bob"):
        server.add_role(login(name))
    server.grant("rds_iam", login("alice"))
    server.add_role("app", login=False)
    server.add_role("legacy", login=False)
    server.grant("legacy", "app")
    server.grant("rds_iam", "legacy")
    result = run(logins=[{"name": "alice"}, {"name": "bob", "roles": ["app"]}])
    assert result["failed"] and server.writes == []
    assert "alice@CORP.EXAMPLE.COM would hold both rds_ad and rds_iam (alice@CORP.EXAMPLE.COM -> rds_iam)" in result["msg"]
    assert "bob@CORP.EXAMPLE.COM -> app -> legacy -> rds_iam): revoke rds_iam from legacy, or leave app" in result["msg"]
    # migrate_from_iam fixes the direct one only
    result = run(logins=[{"name": "alice"}, {"name": "bob", "roles": ["app"]}], migrate_from_iam=True)
    assert result["failed"] and "alice@" not in result["msg"] and "bob@" in result["msg"]
    result = run(logins=[{"name": "alice"}], migrate_from_iam=True)
    assert result["queries"][0] == 'REVOKE "rds_iam" FROM "alice@CORP.EXAMPLE.COM"'
    assert server.roles_in("rds_iam") == ["legacy"] and login("alice") in server.roles_in("rds_ad")


def test_absent_logins_are_dropped_and_owners_refused_without_a_target(server):
    for name in ("carol", "dave"):
        server.add_role(login(name))
        server.grant("rds_ad", login(name))
    server.shdepend[login("dave")] = [("postgres", False, True, 3), ("", True, False, 1)]
    result = run(logins=[{"name": "carol"}, {"name": "dave"}, {"name": "nobody"}], state="absent")
    assert result["failed"] and server.writes == []
    assert ("dave@CORP.EXAMPLE.COM cannot be dropped: it owns 3 object(s) in database postgres. "
            "Set reassign_owned_to") in result["msg"]
    assert "carol" not in result["msg"]
    server.add_role("heir", login=False)
    result = run(logins=[{"name": "carol"}, {"name": "dave"}], state="absent", reassign_owned_to="heir")
    assert result["dropped"] == [login("carol"), login("dave")]
    assert result["queries"] == ['GRANT "heir" TO "postgres"', 'DROP ROLE "carol@CORP.EXAMPLE.COM"',
                                 'GRANT "dave@CORP.EXAMPLE.COM" TO "postgres"',
                                 'REASSIGN OWNED BY "dave@CORP.EXAMPLE.COM" TO "heir"',
                                 'DROP OWNED BY "dave@CORP.EXAMPLE.COM"', 'DROP ROLE "dave@CORP.EXAMPLE.COM"',
                                 'REVOKE "heir" FROM "postgres"']
    assert server.roles_in("heir") == [] and login("dave") not in server.state["roles"]
    assert not run(logins=[{"name": "carol"}], state="absent")["changed"]


def test_privileges_on_shared_objects_alone_are_dropped_without_a_target(server):
    server.add_role(login("erin"))
    server.shdepend[login("erin")] = [("", True, False, 1)]
    result = run(logins=[{"name": "erin", "state": "absent"}])
    assert result["queries"] == ['GRANT "erin@CORP.EXAMPLE.COM" TO "postgres"', 'DROP OWNED BY "erin@CORP.EXAMPLE.COM"',
                                 'DROP ROLE "erin@CORP.EXAMPLE.COM"']


def test_objects_in_another_database_are_refused_even_with_a_target(server):
    server.add_role(login("frank"))
    server.add_role("heir", login=False)
    server.shdepend[login("frank")] = [("sales", False, True, 2)]
    result = run(logins=[{"name": "frank", "state": "absent"}], reassign_owned_to="heir")
    assert result["failed"] and "cannot be dropped from postgres: it owns 2 object(s) in database sales" in result["msg"]
    assert "login_db" in result["msg"]


def test_reassign_target_must_exist_and_stay(server):
    server.add_role(login("gina"))
    result = run(logins=[{"name": "gina", "state": "absent"}], reassign_owned_to="ghost")
    assert result["failed"] and "reassign_owned_to 'ghost' does not exist" in result["msg"]
    result = run(logins=[{"name": "gina", "state": "absent"}], reassign_owned_to=login("gina"))
    assert result["failed"] and "is a login this task drops" in result["msg"]
    result = run(logins=[{"name": "gina", "state": "absent"}], reassign_owned_to="")
    assert result["failed"] and "reassign_owned_to '' is empty" in result["msg"]


def test_exclusive_drops_only_other_kerberos_logins_of_the_realm(server):
    for role in (login("alice"), login("old"), "old@OTHER.REALM", "svc@CORP.EXAMPLE.COM", "app"):
        server.add_role(role)
    for role in (login("alice"), login("old"), "old@OTHER.REALM", "app"):
        server.grant("rds_ad", role)
    result = run(logins=[{"name": "alice"}, {"name": "new"}], exclusive=True, check_mode=True)
    assert result["dropped"] == [login("old")] and result["created"] == [login("new")] and server.writes == []
    assert result["diff"]["before"]["logins"][login("old")] == {"member_of": ["rds_ad"], "connect": []}
    assert run(logins=[{"name": "alice"}, {"name": "new"}], exclusive=True)["dropped"] == [login("old")]
    assert sorted(server.roles_in("rds_ad")) == sorted([login("alice"), login("new"), "old@OTHER.REALM", "app"])


def test_krb_caseins_users_adopts_a_login_in_another_case(server):
    server.caseins = "on"
    server.add_role("Alice@CORP.EXAMPLE.COM", login=False)
    result = run(logins=[{"name": "alice"}])
    assert result["krb_caseins_users"] and result["logins"] == ["Alice@CORP.EXAMPLE.COM"]
    assert result["queries"] == ['ALTER ROLE "Alice@CORP.EXAMPLE.COM" LOGIN', 'GRANT "rds_ad" TO "Alice@CORP.EXAMPLE.COM"']
    server.add_role("ALICE@CORP.EXAMPLE.COM")
    result = run(logins=[{"name": "alice"}])
    assert result["failed"] and "ALICE@CORP.EXAMPLE.COM, Alice@CORP.EXAMPLE.COM all match" in result["msg"]
    server.caseins = "off"
    assert run(logins=[{"name": "alice"}], check_mode=True)["created"] == [login("alice")]


def test_missing_roles_databases_and_grants_are_refused(server):
    server.add_database("owned_by_other", can_grant=False)
    result = run(logins=[{"name": "a", "roles": ["ghost"], "databases": ["nowhere", "owned_by_other"]}])
    assert result["failed"] and server.writes == []
    for part in ("roles ghost do not exist", "databases nowhere do not exist",
                 "postgres cannot grant CONNECT on owned_by_other"):
        assert part in result["msg"]


def test_no_rds_ad_means_not_a_kerberos_cluster(server):
    del server.state["roles"]["rds_ad"]
    result = run(logins=[{"name": "a"}])
    assert result["failed"] and "Role rds_ad does not exist" in result["msg"]


def test_a_server_error_rolls_everything_back(server):
    server.fail_on = 'CREATE ROLE "b@'
    result = run(logins=[{"name": "a"}, {"name": "b"}])
    assert result["failed"] and "Nothing changed; the transaction was rolled back" in result["msg"]
    assert "injected failure" in result["msg"]
    assert login("a") not in server.state["roles"] and server.commits == 0


def test_connection_errors_name_the_endpoint_never_the_password(server, monkeypatch):
    warnings = []
    monkeypatch.setattr(kerberos_logins.AuroraKerberosAWSModule, "warn", lambda self, w: warnings.append(w))
    server.connect_error = 'FATAL:  password authentication failed for user "postgres" (%s)' % PASSWORD
    result = run(logins=[{"name": "a"}], connect_params={"hostaddr": "10.0.0.5"}, ssl_mode="verify-full")
    assert result["failed"] and warnings == []
    assert result["msg"].startswith("Cannot connect to db.example (10.0.0.5) port 5432 as postgres with "
                                    "sslmode=verify-full: FATAL:  password authentication failed")
    assert PASSWORD not in result["msg"] and "********" in result["msg"]


def test_master_credentials_come_from_the_secret(server, monkeypatch):
    stubs = stubbed(monkeypatch, "secretsmanager")
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-1-AbCdEf"
    secret = {"username": "master", "password": "From-The-Secret-1!"}
    stubs["secretsmanager"].add_response("get_secret_value", {"SecretString": json.dumps(secret)}, {"SecretId": arn})
    server.add_role("master")
    result = run(master_user_secret=arn, logins=[{"name": "a"}], check_mode=True)
    assert not result["failed"] and server.params["user"] == "master"
    assert server.params["password"] == "From-The-Secret-1!"
    assert "From-The-Secret-1!" not in json.dumps(result)
    assert_all_used(stubs)


def test_the_secret_is_read_in_the_region_its_arn_names(server, monkeypatch):
    """The module's Region (or the environment's) may be another: RDS keeps the secret in the cluster's."""
    asked = []
    client = aws_stubs.fake_client("secretsmanager")
    stubs = aws_stubs.install(monkeypatch, {"cn": client}, pick=lambda name, kw: asked.append((name, kw)) or "cn")
    arn = "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:rds!cluster-1-AbCdEf"
    secret = {"username": "master", "password": "From-The-Secret-1!"}
    stubs["cn"].add_response("get_secret_value", {"SecretString": json.dumps(secret)}, {"SecretId": arn})
    server.add_role("master")
    result = run(master_user_secret=arn, logins=[], check_mode=True, region="eu-west-3")
    assert not result["failed"], result
    assert asked == [("secretsmanager", {"region": "cn-north-1"})]
    # A name (not an ARN) is read in the connection's Region.
    asked.clear()
    stubs["cn"].add_response("get_secret_value", {"SecretString": json.dumps(secret)}, {"SecretId": "by-name"})
    assert not run(master_user_secret="by-name", logins=[], check_mode=True)["failed"]
    assert asked == [("secretsmanager", {})]


@pytest.mark.parametrize("answer, error", [
    ({"SecretString": "not json"}, None),
    ({"SecretString": json.dumps({"password": "x"})}, None),
    (None, "ResourceNotFoundException"),
])
def test_a_bad_secret_is_refused(server, monkeypatch, answer, error):
    stubs = stubbed(monkeypatch, "secretsmanager")
    if error:
        stubs["secretsmanager"].add_client_error("get_secret_value", error, "Secrets Manager can't find the secret")
    else:
        stubs["secretsmanager"].add_response("get_secret_value", answer, {"SecretId": "s"})
    result = run(master_user_secret="s", logins=[])
    assert result["failed"] and not hasattr(server, "params")
    assert ("Cannot read master_user_secret s" if error else "must hold JSON with username and password") in result["msg"]


# --- logins synced from AD groups (group_logins) ------------------------------------------------

MARKER = "aurora_kerberos_group_dba"


def test_group_members_get_logins_with_the_union_of_their_groups_then_nothing_changes(server):
    server.add_role("dba_role", login=False)
    server.add_role("ops_role", login=False)
    groups = [{"ad_group": "dba", "members": ["alice", "Bob"], "roles": ["dba_role"], "databases": ["postgres"]},
              {"ad_group": "ops", "members": ["bob"], "roles": ["ops_role"]}]
    predicted = run(check_mode=True, group_logins=groups)
    assert predicted["changed"] and server.writes == [] and predicted["created"] == [login("alice"), login("bob")]
    assert predicted["diff"]["after"]["logins"][login("bob")] == {
        "member_of": ["aurora_kerberos_group_dba", "aurora_kerberos_group_ops", "dba_role", "ops_role", "rds_ad"],
        "connect": ["postgres"]}
    result = run(group_logins=groups)
    assert result["queries"][:2] == ['CREATE ROLE "aurora_kerberos_group_dba" NOLOGIN',
                                     'CREATE ROLE "aurora_kerberos_group_ops" NOLOGIN']
    assert result["queries"] == predicted["queries"]
    assert server.state["roles"][MARKER]["login"] is False
    assert server.roles_in(MARKER) == [login("alice"), login("bob")]
    assert server.roles_in("ops_role") == [login("bob")] and server.roles_in("rds_ad") == [login("alice"), login("bob")]
    assert result["group_logins"] == {"dba": [login("alice"), login("bob")], "ops": [login("bob")]}
    again = run(group_logins=groups)
    assert not again["changed"] and again["queries"] == [] and server.commits == 1


def test_a_user_who_left_the_group_is_dropped_and_a_hand_made_login_never(server):
    server.add_role("owner", login=False)
    for name in ("alice", "bob", "carol"):
        server.add_role(login(name))
        server.grant("rds_ad", login(name))
    server.add_role(MARKER, login=False)
    server.add_role("aurora_kerberos_group_gone", login=False)
    server.grant(MARKER, login("alice"))
    server.grant(MARKER, login("bob"))
    server.add_role(login("dave"))
    server.grant("rds_ad", login("dave"))
    server.grant("aurora_kerberos_group_gone", login("dave"))  # its group is no longer synced
    server.shdepend[login("bob")] = [("postgres", False, True, 2)]
    groups = [{"ad_group": "dba", "members": ["alice"]}]
    refused = run(group_logins=groups)
    assert refused["failed"] and login("bob") in refused["msg"] and "reassign_owned_to" in refused["msg"]
    assert server.writes == []
    predicted = run(check_mode=True, group_logins=groups, reassign_owned_to="owner")
    assert predicted["dropped"] == [login("bob"), login("dave")] and server.writes == []
    assert predicted["diff"]["after"]["logins"][login("bob")] == {}
    result = run(group_logins=groups, reassign_owned_to="owner")
    assert result["dropped"] == [login("bob"), login("dave")]
    assert 'REASSIGN OWNED BY "bob@CORP.EXAMPLE.COM" TO "owner"' in result["queries"]
    assert login("carol") in server.state["roles"] and login("bob") not in server.state["roles"]
    assert server.roles_in("rds_ad") == [login("alice"), login("carol")]
    assert not run(group_logins=groups, reassign_owned_to="owner")["changed"]


def test_without_group_logins_synced_logins_are_left_alone(server):
    server.add_role(MARKER, login=False)
    server.add_role(login("bob"))
    server.grant(MARKER, login("bob"))
    assert run(logins=[{"name": "alice"}])["dropped"] == []
    assert run(group_logins=[])["dropped"] == [login("bob")]


def test_a_member_whose_login_was_made_by_hand_or_is_listed_is_refused_naming_both(server):
    server.add_role(login("carol"))
    server.grant("rds_ad", login("carol"))
    result = run(group_logins=[{"ad_group": "dba", "members": ["carol"]}])
    assert result["failed"] and login("carol") in result["msg"] and "AD group dba" in result["msg"]
    assert "made by hand" in result["msg"] and server.writes == []
    result = run(logins=[{"name": "alice"}], group_logins=[{"ad_group": "dba", "members": ["Alice"]}])
    assert result["failed"] and "both in logins ('alice')" in result["msg"] and "AD group dba" in result["msg"]
    assert server.writes == []


@pytest.mark.parametrize("groups, fragment", [
    ([{"ad_group": "dba", "members": ["a/b"]}], "group_logins[0].members[0].name 'a/b' contains /"),
    ([{"ad_group": "dba", "members": []}, {"ad_group": "DBA", "members": []}], "group_logins[1].ad_group 'DBA' is listed twice"),
    ([{"ad_group": "x" * 50, "members": []}], "over PostgreSQL's 63 bytes"),
    ([{"ad_group": "dba", "members": [], "roles": ["rds_iam"]}], "group_logins[0].roles lists rds_iam"),
])
def test_bad_group_logins_are_refused_before_connecting(server, groups, fragment):
    result = run(group_logins=groups)
    assert result["failed"] and fragment in result["msg"], result["msg"]
    assert getattr(server, "connection_count", 0) == 0


def test_members_come_from_group_members_as_ad_group_members_info_returns_them(server):
    result = run(group_logins=[{"ad_group": "DBA"}], group_members={"dba": ["alice"]})
    assert result["created"] == [login("alice")] and server.roles_in(MARKER) == [login("alice")]
    refused = run(group_logins=[{"ad_group": "ops"}], group_members={"dba": ["alice"]})
    assert refused["failed"] and "group_logins[0] has no members" in refused["msg"]


# --- logins of a trusted forest's users -----------------------------------------------------------------

ONPREM = "ONPREM.EXAMPLE.ORG"
DIRECTORY = "d-1234567890"


def trusts(*entries):
    return {"Trusts": [{"DirectoryId": DIRECTORY, "TrustId": f"t-{i:010d}", "RemoteDomainName": name,
                        "TrustType": "Forest", "TrustDirection": "One-Way: Incoming", "TrustState": state}
                       for i, (name, state) in enumerate(entries)]}


def test_a_login_of_a_trusted_realm_gets_its_own_realm(server):
    result = run(logins=[{"name": "alice"}, {"name": "Joe", "realm": "onprem.example.org"}], trusted_realms=[ONPREM])
    assert result["created"] == [login("alice"), f"joe@{ONPREM}"] and not result["failed"]
    assert sorted(server.roles_in("rds_ad")) == [login("alice"), f"joe@{ONPREM}"]
    assert not run(logins=[{"name": "alice"}, {"name": "joe", "realm": ONPREM}], trusted_realms=[ONPREM])["changed"]


def test_the_same_name_in_two_realms_is_two_logins(server):
    result = run(logins=[{"name": "joe"}, {"name": "joe", "realm": ONPREM}], trusted_realms=[ONPREM])
    assert result["created"] == [login("joe"), f"joe@{ONPREM}"]


def test_a_realm_nothing_trusts_is_refused_before_connecting(server):
    server.connect_error = "the module must not connect"
    result = run(logins=[{"name": "eve", "realm": "EVIL.EXAMPLE.NET"}], trusted_realms=[ONPREM])
    assert result["failed"] and "logins[0].realm EVIL.EXAMPLE.NET is neither the directory's (CORP.EXAMPLE.COM) " \
        "nor one it trusts (ONPREM.EXAMPLE.ORG)" in result["msg"]
    unknown = run(logins=[{"name": "joe", "realm": ONPREM}])
    assert unknown["failed"] and "give the realms the directory trusts (trusted_realms, or directory_id" in unknown["msg"]
    bad = run(logins=[{"name": "joe", "realm": "not a realm"}], trusted_realms=[ONPREM])
    assert bad["failed"] and "logins[0].realm 'not a realm' is not a Kerberos realm" in bad["msg"]
    assert server.writes == []


def test_a_login_of_a_forest_no_longer_trusted_is_still_dropped(server, monkeypatch):
    """Teardown deletes the trust before a second run drops the logins: dropping needs no trust (and reads none)."""
    assert not run(logins=[{"name": "joe", "realm": ONPREM}], trusted_realms=[ONPREM])["failed"]

    def no_read(*args, **kwargs):
        raise AssertionError("no trust is read to drop a login")

    monkeypatch.setattr("ansible_collections.aurora.kerberos.plugins.module_utils.ds.describe_trusts", no_read)
    result = run(logins=[{"name": "joe", "realm": ONPREM}], state="absent", directory_id=DIRECTORY)
    assert not result["failed"] and result["dropped"] == [f"joe@{ONPREM}"], result
    assert server.roles_in("rds_ad") == []
    made = run(logins=[{"name": "joe", "realm": ONPREM, "state": "present"}], state="absent")
    assert made["failed"] and "give the realms the directory trusts" in made["msg"]


def test_the_directorys_trusts_say_which_realms_it_trusts(server, monkeypatch):
    stubbers = stubbed(monkeypatch, "ds")
    stubbers["ds"].add_response("describe_trusts", trusts((ONPREM.lower(), "Verified"), ("gone.example", "Deleted")),
                                {"DirectoryId": DIRECTORY})
    result = run(logins=[{"name": "joe", "realm": ONPREM}], directory_id=DIRECTORY)
    assert result["created"] == [f"joe@{ONPREM}"]
    assert_all_used(stubbers)
    stubbers["ds"].add_response("describe_trusts", trusts((ONPREM.lower(), "Verified"), ("gone.example", "Deleted")),
                                {"DirectoryId": DIRECTORY})
    refused = run(logins=[{"name": "joe", "realm": "GONE.EXAMPLE"}], directory_id=DIRECTORY)
    assert refused["failed"] and "nor one it trusts (ONPREM.EXAMPLE.ORG)" in refused["msg"]
    assert_all_used(stubbers)


def test_the_directory_is_not_read_when_every_login_is_of_a_known_realm(server, monkeypatch):
    stubbers = stubbed(monkeypatch, "ds")  # no response queued: a call would fail the test
    result = run(logins=[{"name": "alice"}, {"name": "joe", "realm": ONPREM}], directory_id=DIRECTORY,
                 trusted_realms=[ONPREM])
    assert result["created"] == [login("alice"), f"joe@{ONPREM}"]
    assert_all_used(stubbers)


def test_exclusive_covers_every_realm_the_task_knows_and_no_other(server):
    for role in (login("alice"), f"old@{ONPREM}", f"joe@{ONPREM}", "old@OTHER.REALM"):
        server.add_role(role)
        server.grant("rds_ad", role)
    result = run(logins=[{"name": "alice"}, {"name": "joe", "realm": ONPREM}], trusted_realms=[ONPREM], exclusive=True)
    assert result["dropped"] == [f"old@{ONPREM}"]
    assert sorted(server.roles_in("rds_ad")) == sorted([login("alice"), f"joe@{ONPREM}", "old@OTHER.REALM"])


def test_a_logins_file_gives_the_list(server, tmp_path):
    path = tmp_path / "logins.json"
    path.write_text(json.dumps([{"name": "alice"}, {"name": "bob", "databases": ["postgres"]}]))
    result = run(logins_file=str(path))
    assert result["changed"] and not result["failed"], result
    assert result["created"] == [login("alice"), login("bob")] and server.commits == 1
    assert not run(logins_file=str(path))["changed"]


@pytest.mark.parametrize("content, fragment", [
    ('[{"name": "alice", "state": "gone"}]', "logins_file {path}: value of state must be one of: present, absent"),
    ('[{"realm": "CORP.EXAMPLE.COM"}]', "logins_file {path}: missing required arguments: name"),
    ('{"name": "alice"}', "logins_file {path} must hold a list of logins, each a dict with at least name"),
    ('[{"name": "alice"', "logins_file {path} cannot be read as a JSON list of logins"),
    ('[{"name": "a/b"}]', "{path}[0].name"),
])
def test_a_bad_logins_file_is_refused_before_connecting(server, tmp_path, content, fragment):
    path = tmp_path / "logins.json"
    path.write_text(content)
    result = run(logins_file=str(path))
    assert result["failed"] and fragment.format(path=path) in result["msg"], result["msg"]
    assert getattr(server, "connection_count", 0) == 0


def test_logins_and_a_logins_file_together_are_refused(server, tmp_path):
    path = tmp_path / "logins.json"
    path.write_text('[{"name": "bob"}]')
    result = run(logins=[{"name": "alice"}], logins_file=str(path))
    assert result["failed"] and "give the list in one of them" in result["msg"]
    missing = run(logins_file=str(tmp_path / "none.json"))
    assert missing["failed"] and "cannot be read" in missing["msg"] and getattr(server, "connection_count", 0) == 0
