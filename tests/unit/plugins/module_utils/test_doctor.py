# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""doctor module_utils: every link's checks, each ok, warn and fail, with the evidence and the fix; the
Kerberos messages on the wire; the clock against a fake KDC."""

import datetime
import struct

import pytest

from ansible_collections.aurora.kerberos.plugins.module_utils import doctor
from ansible_collections.aurora.kerberos.plugins.module_utils import logins

REALM = "CORP.EXAMPLE.COM"
ALICE = f"alice@{REALM}"
DIR = "d-1234567890"
ENDPOINT = "orders.cluster-abc.us-east-1.rds.amazonaws.com"
READER = "orders.cluster-ro-abc.us-east-1.rds.amazonaws.com"
NOW = datetime.datetime(2026, 12, 4, 8, 0, 0, tzinfo=datetime.timezone.utc)


def statuses(findings):
    return [(f["check"], f["status"]) for f in findings]


# --- the walk ------------------------------------------------------------------------------------

def test_the_walk_stops_at_the_first_broken_link_and_says_link_evidence_and_fix():
    walk = doctor.Walk()
    walk.add(doctor.finding("aws", "directory", doctor.OK, "fine"))
    walk.add(doctor.finding("aws", "endpoint", doctor.WARN, "a CNAME", "dial it"))
    with pytest.raises(doctor.Broken) as broken:
        walk.add(doctor.finding("database", "rds_ad", doctor.FAIL, "not in rds_ad", "GRANT rds_ad"),
                 doctor.finding("client", "kinit", doctor.OK, "never reached"))
    assert [f["check"] for f in walk.findings] == ["directory", "endpoint", "rds_ad"]
    assert doctor.broken_message(broken.value.finding) == "Database link broken (rds_ad): not in rds_ad Fix: GRANT rds_ad"
    assert walk.warnings()[0]["check"] == "endpoint"


@pytest.mark.parametrize("principal", ["alice", "@CORP.EXAMPLE.COM", "alice@", "svc/host@CORP.EXAMPLE.COM",
                                       "al ice@CORP.EXAMPLE.COM", "alice@.bad"])
def test_a_principal_that_is_not_user_at_realm_is_refused_naming_the_variable(principal):
    with pytest.raises(ValueError, match="doctor_principal"):
        doctor.parse_principal(principal)


def test_the_principal_realm_must_be_the_directorys_in_its_case():
    assert doctor.principal_findings(ALICE, REALM) == []
    lower = doctor.principal_findings("alice@corp.example.com", REALM)[0]
    assert lower["status"] == doctor.FAIL and "case-sensitive" in lower["evidence"] and ALICE in lower["fix"]
    other = doctor.principal_findings("alice@ONPREM.NET", REALM)[0]
    assert other["status"] == doctor.FAIL and "not the directory's realm" in other["evidence"]


# --- AWS -------------------------------------------------------------------------------------------

def cluster(status="kerberos-enabled", domain=DIR, custom=()):
    memberships = [dict(Domain=domain, Status=status, IAMRoleName="rds-ad")] if status else []
    return dict(DBClusterIdentifier="orders", Endpoint=ENDPOINT, ReaderEndpoint=READER, CustomEndpoints=list(custom),
                DomainMemberships=memberships,
                DBClusterMembers=[dict(DBInstanceIdentifier="orders-1", IsClusterWriter=True),
                                  dict(DBInstanceIdentifier="orders-2", IsClusterWriter=False)])


def instance(name, status="kerberos-enabled"):
    return dict(DBInstanceIdentifier=name, Endpoint=dict(Address=f"{name}.abc.us-east-1.rds.amazonaws.com"),
                DomainMemberships=[dict(Domain=DIR, Status=status)] if status else [])


def test_a_cluster_that_is_not_joined_is_broken_with_the_join_command():
    found = doctor.membership_findings(cluster(status=None), [], DIR, ENDPOINT, "rds-ad")
    assert statuses(found) == [("cluster_membership", doctor.FAIL)]
    assert "Server not found in Kerberos database" in found[0]["evidence"]
    assert f"--domain {DIR} --domain-iam-role-name rds-ad" in found[0]["fix"]


@pytest.mark.parametrize("status, words", [
    ("enable-kerberos-failed", "RDS could not join it"),
    ("failed", "RDS could not join it"),
    ("enabling-kerberos", "not yet a member"),
    ("pending-maintenance-enable-kerberos", "not yet a member"),
    ("disabling-kerberos", "leaving"),
])
def test_a_membership_that_is_not_done_is_broken(status, words):
    found = doctor.membership_findings(cluster(status), [], DIR, ENDPOINT, events=["cause one", "cause two"])
    assert statuses(found) == [("cluster_membership", doctor.FAIL)] and words in found[0]["evidence"]
    if "failed" in status:
        assert "cause one | cause two" in found[0]["evidence"] and "same directory id" in found[0]["fix"]


def test_a_cluster_in_another_directory_is_broken():
    found = doctor.membership_findings(cluster(domain="d-0000000000"), [], DIR, ENDPOINT)
    assert found[0]["status"] == doctor.FAIL and "d-0000000000" in found[0]["evidence"]


def test_each_endpoint_reaches_its_instances_and_one_not_joined_breaks_the_link():
    instances = [instance("orders-1"), instance("orders-2", "enabling-kerberos")]
    writer = doctor.membership_findings(cluster(), instances, DIR, ENDPOINT)
    assert statuses(writer)[-1] == ("instance_membership", doctor.OK) and "orders-1" in writer[-1]["evidence"]
    reader = doctor.membership_findings(cluster(), instances, DIR, READER)
    assert statuses(reader)[-1] == ("instance_membership", doctor.FAIL)
    assert "orders-2 is enabling-kerberos" in reader[-1]["evidence"]
    own = doctor.membership_findings(cluster(), instances, DIR, "ORDERS-1.abc.us-east-1.rds.amazonaws.com.")
    assert ("endpoint", doctor.OK) in statuses(own) and statuses(own)[-1] == ("instance_membership", doctor.OK)


def test_a_custom_endpoint_is_broken_and_an_unknown_name_warns():
    custom = "mine.cluster-custom-abc.us-east-1.rds.amazonaws.com"
    found = doctor.membership_findings(cluster(custom=[custom]), [instance("orders-1")], DIR, custom)
    assert statuses(found)[-1] == ("endpoint", doctor.FAIL) and ENDPOINT in found[-1]["fix"]
    cname = doctor.membership_findings(cluster(), [instance("orders-1")], DIR, "db.corp.example.com")
    assert ("endpoint", doctor.WARN) in statuses(cname) and f"Dial {ENDPOINT} itself" in cname[1]["fix"]


def dc_group(*permissions):
    return dict(GroupId="sg-0dc", IpPermissions=list(permissions))


def test_the_domain_controllers_group_must_accept_the_db_by_group_or_by_a_covering_cidr():
    everything = dict(IpProtocol="-1", IpRanges=[{"CidrIp": "10.0.0.0/16"}])
    ok = doctor.dc_ingress_finding(dc_group(everything), ["sg-0db"], ["10.0.1.0/24", "10.0.2.0/24"])
    assert ok["status"] == doctor.OK
    by_group = dict(IpProtocol="tcp", FromPort=0, ToPort=65535, UserIdGroupPairs=[{"GroupId": "sg-0db"}])
    assert doctor.dc_ingress_finding(dc_group(by_group), ["sg-0db"], [])["status"] == doctor.OK
    # AWS's rules cover the directory's VPC only: a DB in a peered VPC is not covered.
    peered = doctor.dc_ingress_finding(dc_group(everything), ["sg-0db"], ["10.1.1.0/24"])
    assert peered["status"] == doctor.FAIL and "TCP 88, 464, 389, 53" in peered["evidence"]
    assert "sg-0dc" in peered["fix"]
    only_ldap = dict(IpProtocol="tcp", FromPort=389, ToPort=389, IpRanges=[{"CidrIp": "10.0.0.0/16"}])
    partial = doctor.dc_ingress_finding(dc_group(only_ldap), ["sg-0db"], ["10.0.1.0/24"])
    assert partial["status"] == doctor.FAIL and "TCP 88, 464, 53 " in partial["evidence"]
    assert doctor.dc_ingress_finding(None, ["sg-0db"], [])["status"] == doctor.WARN
    assert doctor.dc_ingress_finding(dc_group(), ["sg-0db"], [])["status"] == doctor.WARN


# --- AD --------------------------------------------------------------------------------------------

def user(**changes):
    value = dict(name="alice", dn="CN=alice,OU=Users,OU=CORP,DC=corp,DC=example,DC=com", enabled=True,
                 has_password=True, encryption_types_value=24, supported_encryption_types=["aes128", "aes256"],
                 user_principal_name=ALICE)
    value.update(changes)
    return value


STATE = {"msDS-User-Account-Control-Computed": 0, "lockoutTime": 0, "accountExpires": 0x7FFFFFFFFFFFFFFF,
         "pwdLastSet": 133000000000000000}


def test_a_healthy_user_holds_every_ad_check():
    found = doctor.ad_findings(user(), "alice", REALM, STATE, now=NOW)
    assert [s for c, s in statuses(found)] == [doctor.OK] * len(found)
    assert [c for c, s in statuses(found)] == ["user_exists", "user_enabled", "not_locked_out", "password_not_expired",
                                               "aes_keys", "name_case"]


@pytest.mark.parametrize("the_user, state, check, words", [
    (None, STATE, "user_exists", "Client not found"),
    (user(enabled=False), STATE, "user_enabled", "disabled"),
    (user(has_password=False), STATE, "password_not_expired", "pwdLastSet is 0"),
    (user(), dict(STATE, **{"msDS-User-Account-Control-Computed": doctor.UF_LOCKOUT}), "not_locked_out", "locked out"),
    (user(), dict(STATE, **{"msDS-User-Account-Control-Computed": doctor.UF_PASSWORD_EXPIRED}), "password_not_expired",
     "expired"),
    # 2026-01-01 as FILETIME
    (user(), dict(STATE, accountExpires=134116992000000000), "account_not_expired", "expired on 2026-01-01"),
    (user(encryption_types_value=4, supported_encryption_types=["rc4"]), STATE, "aes_keys", "no AES"),
])
def test_each_ad_fault_breaks_its_check(the_user, state, check, words):
    found = doctor.ad_findings(the_user, "alice", REALM, state, now=NOW)
    assert statuses(found)[-1] == (check, doctor.FAIL), found
    assert words in found[-1]["evidence"] and found[-1]["fix"]


def test_what_is_only_a_warning_in_ad():
    found = dict(statuses(doctor.ad_findings(user(name="Alice", encryption_types_value=0), "alice", REALM, STATE,
                                             now=NOW)))
    assert found["aes_keys"] == doctor.WARN and found["name_case"] == doctor.WARN
    over_ds_data = dict(statuses(doctor.ad_findings(user(), "alice", REALM, None, "ds-data", now=NOW)))
    assert over_ds_data["not_locked_out"] == doctor.WARN and "password_not_expired" not in over_ds_data


def test_filetime():
    assert doctor.filetime_to_datetime(0) is None
    assert doctor.filetime_to_datetime(116444736000000000) == datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    naive = datetime.datetime(2030, 1, 1)
    assert doctor.filetime_to_datetime(naive).tzinfo is datetime.timezone.utc


# --- the database ----------------------------------------------------------------------------------

def catalog(roles, memberships=(), caseins=False):
    names = {"rds_ad": False, "rds_iam": False, "rds_superuser": False, "postgres": True}
    names.update(roles)
    return logins.Catalog("postgres", "postgres", caseins,
                          {name: {"oid": i, "login": login} for i, (name, login) in enumerate(names.items())},
                          list(memberships), {})


def test_a_login_in_rds_ad_through_another_role_with_connect_holds():
    found = doctor.database_findings(catalog({ALICE: True, "krb_users": False},
                                             [(ALICE, "krb_users"), ("krb_users", "rds_ad")]),
                                     ALICE, "postgres", True, True)
    assert [s for c, s in statuses(found)] == [doctor.OK] * 4
    assert f"{ALICE} -> krb_users -> rds_ad." in [f["evidence"] for f in found]


@pytest.mark.parametrize("roles, memberships, principal, check, fix", [
    ({}, [], ALICE, "login_role", f'CREATE ROLE "{ALICE}" LOGIN; GRANT rds_ad TO "{ALICE}";'),
    ({f"Alice@{REALM}": True}, [], ALICE, "login_role", f'ALTER ROLE "Alice@{REALM}" RENAME TO "{ALICE}"'),
    ({ALICE: True}, [], f"Alice@{REALM}", "login_role", f"kinit as {ALICE}"),
    ({ALICE: False}, [(ALICE, "rds_ad")], ALICE, "can_login", f'ALTER ROLE "{ALICE}" LOGIN'),
    ({ALICE: True}, [], ALICE, "rds_ad", f'GRANT rds_ad TO "{ALICE}"'),
    ({ALICE: True, "legacy": False}, [(ALICE, "rds_ad"), (ALICE, "legacy"), ("legacy", "rds_iam")], ALICE,
     "no_rds_iam", 'REVOKE rds_iam FROM "legacy"'),
])
def test_each_database_fault_breaks_its_check_with_sql_that_fixes_it(roles, memberships, principal, check, fix):
    found = doctor.database_findings(catalog(roles, memberships), principal, "postgres", True, True)
    assert statuses(found)[-1] == (check, doctor.FAIL), found
    assert fix in found[-1]["fix"]


def test_connect_and_a_missing_database():
    roles = catalog({ALICE: True}, [(ALICE, "rds_ad")])
    no_connect = doctor.database_findings(roles, ALICE, "reports", True, False)
    assert statuses(no_connect)[-1] == ("connect", doctor.FAIL)
    assert f'GRANT CONNECT ON DATABASE "reports" TO "{ALICE}"' in no_connect[-1]["fix"]
    missing = doctor.database_findings(roles, ALICE, "reprots", False, False)
    assert "does not exist" in missing[-1]["evidence"]


def test_krb_caseins_users_matches_a_role_in_another_case():
    found = doctor.database_findings(catalog({f"Alice@{REALM}": True}, [(f"Alice@{REALM}", "rds_ad")], caseins=True),
                                     ALICE, "postgres", True, True)
    assert found[0]["status"] == doctor.OK and "krb_caseins_users is on" in found[0]["evidence"]


def test_without_rds_ad_the_cluster_is_not_kerberos_aurora():
    roles = catalog({ALICE: True})
    del roles.roles["rds_ad"]
    assert statuses(doctor.database_findings(roles, ALICE, "postgres", True, True))[-1] == ("rds_ad", doctor.FAIL)


# --- AD groups and pg_ad_mapping ---------------------------------------------------------------------

READERS_SID = "S-1-5-21-1-2-3-1103"
OTHER_SID = "S-1-5-21-1-2-3-1104"
READERS = {"name": "db-readers", "dn": "CN=db-readers,OU=Users", "sid": READERS_SID, "members": ["alice"]}


def mapping(sid=READERS_SID, role="db_readers", weight=10, group="db-readers"):
    return dict(sid=sid, role=role, weight=weight, ad_group=group)


def test_the_group_meant_must_exist_and_hold_the_user_directly_or_nested():
    assert statuses(doctor.ad_group_findings(None, "db-raeders", "alice"))[-1] == ("group_exists", doctor.FAIL)
    assert statuses(doctor.ad_group_findings(READERS, "db-readers", "Alice")) == [
        ("group_exists", doctor.OK), ("group_member", doctor.OK)]
    # tokenGroups (nested included) decides when read; the direct members list is not consulted then
    nested = doctor.ad_group_findings(dict(READERS, members=[]), "db-readers", "alice", [OTHER_SID, READERS_SID])
    assert statuses(nested)[-1] == ("group_member", doctor.OK) and "nested" in nested[-1]["evidence"]
    outside = doctor.ad_group_findings(READERS, "db-readers", "alice", [OTHER_SID])
    assert statuses(outside)[-1] == ("group_member", doctor.FAIL) and "Add alice to db-readers" in outside[-1]["fix"]


def test_a_group_meant_without_its_mapping_is_broken_with_the_mapping_to_set():
    roles = catalog({"db_readers": True})
    groups = {READERS_SID: "db-readers"}
    found = doctor.mapping_findings([mapping(sid=OTHER_SID, group="db-writers")], groups, roles, "postgres", {},
                                    READERS_SID)
    assert statuses(found) == [("ad_group_mapping", doctor.FAIL)]
    assert "db-writers -> db_readers" in found[0]["evidence"]
    many = doctor.mapping_findings([mapping(sid=f"S-1-5-21-9-{n}") for n in range(12)], groups, roles, "postgres", {},
                                   READERS_SID)
    assert many[0]["evidence"].count(" -> ") == 10 and "(12 in all)" in many[0]["evidence"]
    assert f"SELECT pgadmap_set_mapping('db-readers', '<role>', '{READERS_SID}', 10)" in found[0]["fix"]
    assert "db_users_group_mappings" in found[0]["fix"]
    missing = doctor.mapping_findings(None, groups, roles, "postgres", {}, READERS_SID)
    assert statuses(missing) == [("ad_group_mapping", doctor.FAIL)] and "not created" in missing[0]["evidence"]
    # Not meant (the user's own groups, no login role of its own): nothing to say, the login role check speaks
    assert doctor.mapping_findings(None, groups, roles, "postgres", {}) == []
    assert doctor.mapping_findings([], groups, roles, "postgres", {}) == []


def test_the_mapped_role_must_log_in_connect_and_stay_out_of_rds_ad():
    groups = {READERS_SID: "db-readers"}
    good = doctor.mapping_findings([mapping()], groups, catalog({"db_readers": True}), "postgres",
                                   {"db_readers": True}, READERS_SID)
    assert statuses(good) == [("ad_group_mapping", doctor.OK), ("mapped_role", doctor.OK)]
    for roles, memberships, connect, fix in [
        ({}, [], {}, 'CREATE ROLE "db_readers" LOGIN'),
        ({"db_readers": False}, [], {"db_readers": True}, 'ALTER ROLE "db_readers" LOGIN'),
        ({"db_readers": True}, [("db_readers", "rds_ad")], {"db_readers": True}, 'REVOKE rds_ad FROM "db_readers"'),
        ({"db_readers": True}, [], {"db_readers": False}, 'GRANT CONNECT ON DATABASE "postgres" TO "db_readers"'),
    ]:
        found = doctor.mapping_findings([mapping()], groups, catalog(roles, memberships), "postgres", connect,
                                        READERS_SID)
        assert statuses(found)[-1] == ("mapped_role", doctor.FAIL) and fix in found[-1]["fix"]


def test_the_highest_weight_wins_and_a_group_meant_that_loses_warns():
    groups = {READERS_SID: "db-readers", OTHER_SID: OTHER_SID}
    mappings = [mapping(), mapping(sid=OTHER_SID, role="db_admins", weight=50, group="db-admins")]
    found = doctor.mapping_findings(mappings, groups, catalog({"db_readers": True, "db_admins": True}), "postgres",
                                    {"db_readers": True, "db_admins": True}, READERS_SID)
    assert statuses(found) == [("ad_group_mapping", doctor.OK), ("ad_group_mapping_weight", doctor.WARN),
                               ("mapped_role", doctor.OK)]
    assert "db_admins" in found[0]["evidence"] and "highest weight wins" in found[1]["evidence"]


def test_read_mappings_reads_them_only_when_the_extension_is_there():
    assert doctor.read_mappings(Cursor([(False,)]), "postgres") == (None, {})
    cursor = Cursor([(True,), [(READERS_SID, "db_readers", 10, "db-readers")], (True,)])
    assert doctor.read_mappings(cursor, "postgres") == ([mapping()], {"db_readers": True})
    assert cursor.queries[-1][1] == ("db_readers", "postgres")


class Cursor:
    def __init__(self, answers):
        self.answers, self.queries = list(answers), []

    def execute(self, query, params=None):
        self.queries.append((query, params))

    def fetchone(self):
        return self.answers.pop(0)

    def fetchall(self):
        return self.answers.pop(0)


def test_read_database_asks_postgresql_whether_the_role_may_connect():
    cursor = Cursor([("postgres", "postgres", "off"), [(1, ALICE, True), (2, "rds_ad", False)], [(1, 2)], [],
                     (True,), (False,)])
    dummy, exists, can_connect = doctor.read_database(cursor, ALICE, "reports")
    assert exists is True and can_connect is False
    assert cursor.queries[-1] == ("SELECT pg_catalog.has_database_privilege(%s, %s, 'CONNECT')", (ALICE, "reports"))


# --- the client: krb5.conf ----------------------------------------------------------------------------

KRB5 = """
# a comment
[libdefaults]
    default_realm = CORP.EXAMPLE.COM
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    clockskew = 120
[realms]
    CORP.EXAMPLE.COM = {
        kdc = 10.0.1.10
        kdc = [fd00::1]:750
        admin_server = 10.0.1.10
    }
[domain_realm]
    .rds.amazonaws.com = CORP.EXAMPLE.COM
    special.cluster-x.us-east-1.rds.amazonaws.com = OTHER.NET
"""


def test_krb5_conf_is_parsed_with_its_realms_kdcs_and_domain_realm():
    conf = doctor.parse_krb5_conf(KRB5)
    assert doctor.kdc_addresses(conf["realms"][REALM]) == [("10.0.1.10", 88), ("fd00::1", 750)]
    assert doctor.realm_for_host(conf["domain_realm"], ENDPOINT) == (REALM, ".rds.amazonaws.com")
    assert doctor.realm_for_host(conf["domain_realm"], "special.cluster-x.us-east-1.rds.amazonaws.com") == \
        ("OTHER.NET", "special.cluster-x.us-east-1.rds.amazonaws.com")
    assert doctor.realm_for_host(conf["domain_realm"], "db.example.net") == (None, None)


def test_the_first_krb5_conf_wins():
    merged = doctor.merge_krb5_confs(["[libdefaults]\n default_realm = A.NET\n", KRB5])
    assert merged["libdefaults"]["default_realm"] == ["A.NET"] and REALM in merged["realms"]


def test_a_krb5_conf_that_holds():
    found, kdcs, skew = doctor.krb5_conf_findings(doctor.parse_krb5_conf(KRB5), "/etc/krb5.conf", REALM, ENDPOINT,
                                                  ["10.0.1.10"])
    assert [s for c, s in statuses(found)] == [doctor.OK, doctor.OK] and skew == 120 and kdcs[0] == ("10.0.1.10", 88)


def test_a_krb5_conf_without_the_realm_is_broken_unless_dns_finds_the_kdcs():
    no_realm = KRB5.split("[realms]", maxsplit=1)[0]
    found = doctor.krb5_conf_findings(doctor.parse_krb5_conf(no_realm), "k.conf", REALM, ENDPOINT, ["10.0.1.10"])[0]
    assert statuses(found) == [("krb5_conf_realm", doctor.FAIL)] and "kdc = 10.0.1.10" in found[0]["fix"]
    with_dns = no_realm.replace("dns_lookup_kdc = false", "dns_lookup_kdc = true")
    found = doctor.krb5_conf_findings(doctor.parse_krb5_conf(with_dns), "k.conf", REALM, ENDPOINT, [])[0]
    assert found[0]["status"] == doctor.WARN


def test_domain_realm_missing_or_wrong():
    no_mapping = KRB5.split("[domain_realm]", maxsplit=1)[0]
    found = doctor.krb5_conf_findings(doctor.parse_krb5_conf(no_mapping), "k.conf", REALM, ENDPOINT)[0]
    # The default realm is the directory's: the KDC answers by referral, a warning.
    assert statuses(found)[1] == ("krb5_conf_domain_realm", doctor.WARN)
    elsewhere = no_mapping.replace(f"default_realm = {REALM}", "default_realm = HOME.NET")
    found = doctor.krb5_conf_findings(doctor.parse_krb5_conf(elsewhere), "k.conf", REALM, ENDPOINT)[0]
    assert statuses(found)[1] == ("krb5_conf_domain_realm", doctor.FAIL)
    assert f"[domain_realm] .rds.amazonaws.com = {REALM}" in found[1]["fix"]
    wrong = doctor.krb5_conf_findings(doctor.parse_krb5_conf(KRB5), "k.conf", REALM,
                                      "special.cluster-x.us-east-1.rds.amazonaws.com")[0]
    assert statuses(wrong)[1] == ("krb5_conf_domain_realm", doctor.FAIL) and "OTHER.NET" in wrong[1]["evidence"]
    dns = doctor.krb5_conf_findings(doctor.parse_krb5_conf(KRB5.replace("rdns = false", "rdns = true")), "k.conf",
                                    REALM, ENDPOINT)[0]
    assert ("krb5_conf_rdns", doctor.WARN) in statuses(dns)


# --- the client: the KDCs on the wire --------------------------------------------------------------

def krb_error(code, stime="20261204080000Z", e_text=None):
    """A KRB-ERROR as a KDC sends it (RFC 4120 5.9.1)."""
    fields = [doctor._ctx(0, doctor._int(5)), doctor._ctx(1, doctor._int(30)),
              doctor._ctx(4, doctor._der(0x18, stime.encode())), doctor._ctx(5, doctor._int(0)),
              doctor._ctx(6, doctor._int(code)), doctor._ctx(9, doctor._gstring(REALM)),
              doctor._ctx(10, doctor._principal(2, "krbtgt", REALM))]
    if e_text:
        fields.append(doctor._ctx(11, doctor._gstring(e_text)))
    return doctor._der(0x7E, doctor._seq(*fields))


def test_the_as_req_is_well_formed_der_and_the_krb_error_is_read():
    message = doctor.as_req("alice", REALM, now=NOW, nonce=42)
    tag, content, end = doctor._read_tlv(message, 0)
    assert tag == 0x6A and end == len(message)
    (seq_tag, seq), = doctor._children(content)
    assert [t for t, v in doctor._children(seq)] == [0xA1, 0xA2, 0xA4]
    assert b"alice" in message and b"krbtgt" in message and b"20261204090000Z" in message
    parsed = doctor.parse_kdc_reply(krb_error(25, e_text="Need pre-auth"))
    assert parsed == dict(kind="error", stime=NOW, error_code=25, e_text="Need pre-auth")
    assert doctor.parse_kdc_reply(doctor._der(0x6B, b""))["kind"] == "as-rep"
    with pytest.raises(ValueError):
        doctor.parse_kdc_reply(b"HTTP/1.1 400 Bad Request\r\n")


def test_long_der_lengths_round_trip():
    long = doctor._der(0x04, b"x" * 300)
    assert doctor._read_tlv(long, 0)[1] == b"x" * 300


def kpasswd_reply(error=None):
    error = error or b""
    return struct.pack(">HHH", 6 + len(error), 1, 0) + error


def kdc(reply=None, silent=(), udp_silent=False, kpasswd_silent=()):
    """A fake KDC: each call is recorded; kpasswd_silent: the transports on which 464 does not answer."""
    calls = []

    def probe(host, port, message, transport, timeout):
        calls.append((host, port, transport))
        if host in silent or (transport == "udp" and udp_silent and port == 88):
            raise OSError("timed out")
        if port == 464:
            if transport in kpasswd_silent:
                raise ConnectionRefusedError(111, "Connection refused")
            assert struct.unpack(">H", message[2:4])[0] == 0xFF80
            return kpasswd_reply(krb_error(2))
        return reply or krb_error(25)
    return probe, calls


def clock_at(moment):
    return lambda: moment


def test_the_kdcs_answer_and_the_clock_is_right():
    probe, calls = kdc()
    found = doctor.kdc_findings([("10.0.1.10", 88)], "alice", REALM, 300, probe=probe,
                                now=clock_at(NOW + datetime.timedelta(seconds=30)))
    assert statuses(found) == [("kdc_reachable", "ok"), ("kdc_udp", "ok"), ("kpasswd", "ok"), ("clock", "ok")]
    assert calls[0] == ("10.0.1.10", 88, "tcp")
    assert sorted(calls[1:]) == [("10.0.1.10", 88, "udp"), ("10.0.1.10", 464, "tcp"), ("10.0.1.10", 464, "udp")]


@pytest.mark.parametrize("closed", [("tcp",), ("udp",), ("tcp", "udp")])
def test_kpasswd_closed_on_tcp_or_udp_warns_naming_each(closed):
    probe, dummy = kdc(kpasswd_silent=closed)
    found = doctor.kdc_findings([("10.0.1.10", 88)], "alice", REALM, 300, probe=probe, now=clock_at(NOW))
    item = dict((f["check"], f) for f in found)["kpasswd"]
    assert item["status"] == doctor.WARN and "464" in item["fix"]
    for transport in ("tcp", "udp"):
        assert (f"{transport.upper()} 10.0.1.10:464" in item["evidence"]) == (transport in closed)


def test_a_kpasswd_reply_is_told_from_anything_else():
    assert doctor.parse_kpasswd_reply(kpasswd_reply(krb_error(2))) == 0x7E
    request = doctor.kpasswd_request()
    assert struct.unpack(">HHH", request[:6]) == (len(request), 0xFF80, request[6 + 1] + 2)
    for junk in (b"", b"\x00\x06\x00\x01\x00\x00", krb_error(2), kpasswd_reply(b"\x30\x00")):
        with pytest.raises(ValueError):
            doctor.parse_kpasswd_reply(junk)


def test_a_clock_ten_minutes_off_is_broken():
    probe, dummy = kdc()
    found = doctor.kdc_findings([("10.0.1.10", 88)], "alice", REALM, 300, probe=probe,
                                now=clock_at(NOW - datetime.timedelta(minutes=10)))
    assert statuses(found)[-1] == ("clock", doctor.FAIL)
    assert "600 s behind the KDC's (08:00:00 UTC)" in found[-1]["evidence"] and "NTP" not in found[-1]["evidence"]
    assert "169.254.169.123" in found[-1]["fix"]


def test_no_kdc_answering_is_broken_and_one_silent_kdc_warns():
    probe, dummy = kdc(silent=("10.0.1.10", "10.0.2.10"))
    found = doctor.kdc_findings([("10.0.1.10", 88), ("10.0.2.10", 88)], "alice", REALM, 300, probe=probe, now=clock_at(NOW))
    assert statuses(found) == [("kdc_reachable", doctor.FAIL)] and "88 and 464" in found[0]["fix"]
    probe, dummy = kdc(silent=("10.0.2.10",))
    found = doctor.kdc_findings([("10.0.1.10", 88), ("10.0.2.10", 88)], "alice", REALM, 300, probe=probe, now=clock_at(NOW))
    assert found[0]["status"] == doctor.WARN and "10.0.2.10:88" in found[0]["evidence"]


def test_udp_and_kpasswd_silence_and_an_unknown_user():
    probe, dummy = kdc(reply=krb_error(6), udp_silent=True, kpasswd_silent=("tcp",))
    found = dict(statuses(doctor.kdc_findings([("10.0.1.10", 88)], "bob", REALM, 300, probe=probe,
                                              now=clock_at(NOW))))
    assert found == dict(kdc_reachable="ok", kdc_udp="warn", kpasswd="warn", clock="ok", kdc_knows_user="fail")
    probe, dummy = kdc(udp_silent=True)
    needed = doctor.kdc_findings([("10.0.1.10", 88)], "alice", REALM, 300, probe=probe,
                                 now=clock_at(NOW), udp_needed=True)
    assert ("kdc_udp", doctor.FAIL) in statuses(needed)


def test_a_kdc_that_needs_no_preauthentication_gives_no_time():
    probe, dummy = kdc(reply=doctor._der(0x6B, b""))
    found = doctor.kdc_findings([("10.0.1.10", 88)], "alice", REALM, 300, probe=probe,
                                now=clock_at(NOW))
    assert statuses(found)[-1] == ("clock", doctor.WARN)


# --- the client: kinit, kvno, the login -----------------------------------------------------------

@pytest.mark.parametrize("stderr, words", [
    ("kinit: Client 'carol@CORP.EXAMPLE.COM' not found in Kerberos database while getting initial credentials",
     "does not know the user"),
    ("kinit: Preauthentication failed while getting initial credentials", "password (or keytab) is wrong"),
    ("kinit: Password has expired while getting initial credentials", "has expired"),
    ("kinit: Client's credentials have been revoked while getting initial credentials", "disabled or locked out"),
    ("kinit: Clock skew too great while getting initial credentials", "clock"),
    ("kinit: Cannot contact any KDC for realm 'CORP.EXAMPLE.COM' while getting initial credentials", "no KDC answers"),
    ("kinit: something new", "kinit failed"),
])
def test_kinit_failures_are_explained(stderr, words):
    found = doctor.kinit_finding(ALICE, 1, stderr, "password")
    assert found["status"] == doctor.FAIL and words in found["evidence"] and stderr in found["evidence"]
    assert doctor.kinit_finding(ALICE, 0, "", "password")["status"] == doctor.OK


def test_no_service_principal_names_the_endpoint_to_dial():
    text = "kvno: Server not found in Kerberos database while getting credentials for postgres/db.corp.example.com@"
    cname = doctor.kvno_finding("db.corp.example.com", 1, text, REALM, ENDPOINT)
    assert cname["status"] == doctor.FAIL and f"Dial {ENDPOINT} itself" in cname["fix"]
    same = doctor.kvno_finding(ENDPOINT, 1, text, REALM, ENDPOINT)
    assert "kerberos-enabled" in same["fix"]
    assert doctor.kvno_finding(ENDPOINT, 0, "kvno = 2", REALM, ENDPOINT)["status"] == doctor.OK
    assert doctor.kvno_finding(ENDPOINT, 1, "Cannot contact any KDC", REALM)["status"] == doctor.FAIL


def test_the_login_shows_the_servers_own_words():
    refused = doctor.login_finding(ALICE, ENDPOINT, "postgres",
                                   error='FATAL:  GSSAPI authentication failed for user "alice@CORP.EXAMPLE.COM"')
    assert refused["status"] == doctor.FAIL and 'GSSAPI authentication failed for user "alice' in refused["evidence"]
    password = doctor.login_finding(ALICE, ENDPOINT, "postgres", error="fe_sendauth: no password supplied")
    assert "rds_ad" in password["fix"]
    assert doctor.login_finding(ALICE, ENDPOINT, "postgres", row=(ALICE, False, None))["status"] == doctor.FAIL
    assert doctor.login_finding(ALICE, ENDPOINT, "postgres", row=(ALICE, True, ALICE))["status"] == doctor.OK


def test_the_endpoint_resolves_or_hostaddr_is_used():
    assert doctor.resolve_finding(ENDPOINT, "127.0.0.1")["status"] == doctor.OK

    def nowhere(*args, **kwargs):
        raise OSError("Name or service not known")

    assert doctor.resolve_finding(ENDPOINT, resolver=nowhere)["status"] == doctor.FAIL
    found = doctor.resolve_finding(ENDPOINT, resolver=lambda *a, **k: [(2, 1, 6, "", ("10.0.1.5", 0))])
    assert found["status"] == doctor.OK and "10.0.1.5" in found["evidence"]
    assert doctor.private_ccache("/tmp/x") == "FILE:/tmp/x/ccache"


# --- AWS reads, with botocore's Stubber ------------------------------------------------------------

def stubbed(service):
    import boto3
    from botocore.stub import Stubber

    client = boto3.session.Session().client(service, region_name="us-east-1", aws_access_key_id="x",
                                            aws_secret_access_key="x")
    stub = Stubber(client)
    stub.activate()
    return client, stub


ACTIVE = dict(DirectoryId=DIR, Name="corp.example.com", Type="MicrosoftAD", Stage="Active", DnsIpAddrs=["10.0.1.10"],
              VpcSettings=dict(VpcId="vpc-0aaaaaaaaaaaaaaaa", SubnetIds=[], SecurityGroupId="sg-0dc",
                               AvailabilityZones=[]))


def test_the_directory_is_found_by_id_or_by_name_and_must_be_active():
    from ansible_collections.aurora.kerberos.plugins.module_utils import ds

    client, stub = stubbed("ds")
    stub.add_response("describe_directories", {"DirectoryDescriptions": [ACTIVE]}, {"DirectoryIds": [DIR]})
    item, found = doctor.find_directory(ds, client, directory_id=DIR)
    assert item["status"] == doctor.OK and found["DirectoryId"] == DIR
    stub.add_response("describe_directories", {"DirectoryDescriptions": [dict(ACTIVE, Stage="Impaired",
                                                                              StageReason="DCs down")]}, {})
    stub.add_response("describe_directories", {"DirectoryDescriptions": [dict(ACTIVE, Stage="Impaired",
                                                                              StageReason="DCs down")]},
                      {"DirectoryIds": [DIR]})
    item, dummy = doctor.find_directory(ds, client, name="corp.example.com")
    assert item["status"] == doctor.FAIL and "Impaired: DCs down" in item["evidence"]
    stub.add_response("describe_directories", {"DirectoryDescriptions": []}, {})
    item, found = doctor.find_directory(ds, client, name="corp.example.com", vpc_id="vpc-0aaaaaaaaaaaaaaaa")
    assert item["status"] == doctor.FAIL and found is None and "No directory named corp.example.com" in item["evidence"]
    stub.add_response("describe_directories", {"DirectoryDescriptions": [ACTIVE, dict(ACTIVE, DirectoryId="d-0987654321")]},
                      {})
    item, found = doctor.find_directory(ds, client, name="corp.example.com")
    assert "2 directories" in item["evidence"] and "directory_id" in item["fix"]
    item, found = doctor.find_directory(ds, client)
    assert item["status"] == doctor.FAIL
    stub.assert_no_pending_responses()


def ec2_with_the_groups():
    """An EC2 client that answers the DB group (open to the DCs' group), then the DCs' group twice (AWS's rules)."""
    client, stub = stubbed("ec2")
    db = dict(GroupId="sg-0db", IpPermissions=[dict(IpProtocol="tcp", FromPort=5432, ToPort=5432,
                                                    UserIdGroupPairs=[{"GroupId": "sg-0dc"}])])
    dc = dict(GroupId="sg-0dc", IpPermissions=[dict(IpProtocol="-1", IpRanges=[{"CidrIp": "10.0.0.0/16"}])],
              IpPermissionsEgress=[dict(IpProtocol="-1", IpRanges=[{"CidrIp": "0.0.0.0/0"}])])
    stub.add_response("describe_security_groups", {"SecurityGroups": [db]}, {"GroupIds": ["sg-0db"]})
    stub.add_response("describe_security_groups", {"SecurityGroups": [dc]}, {"GroupIds": ["sg-0dc"]})
    stub.add_response("describe_security_groups", {"SecurityGroups": [dc]}, {"GroupIds": ["sg-0dc"]})
    return client, stub


def test_the_security_groups_both_ways():
    from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_security_groups

    client, stub = ec2_with_the_groups()
    found = doctor.security_group_findings(client, describe_security_groups, ACTIVE, ["sg-0db"], 5432, ["10.0.1.0/24"])
    assert statuses(found) == [("db_security_group_ingress", "ok"), ("directory_security_group_egress", "ok"),
                               ("directory_controllers_ingress", "ok")]
    stub.assert_no_pending_responses()


# --- the KDC probe, against a local listener ------------------------------------------------------

def test_probe_kdc_speaks_tcp_with_a_length_prefix_and_udp_without():
    import socket
    import struct
    import threading

    reply = krb_error(25)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", tcp.getsockname()[1]))
    port = tcp.getsockname()[1]
    received = {}

    def serve_tcp():
        conn, dummy = tcp.accept()
        with conn:
            size = struct.unpack(">I", conn.recv(4))[0]
            data = b""
            while len(data) < size:
                data += conn.recv(size - len(data))
            received["tcp"] = data
            conn.sendall(struct.pack(">I", len(reply)) + reply)

    def serve_udp():
        data, peer = udp.recvfrom(65535)
        received["udp"] = data
        udp.sendto(reply, peer)

    threads = [threading.Thread(target=serve_tcp), threading.Thread(target=serve_udp)]
    for thread in threads:
        thread.start()
    message = doctor.as_req("alice", REALM, now=NOW, nonce=1)
    try:
        assert doctor.probe_kdc("127.0.0.1", port, message, "tcp") == reply
        assert doctor.probe_kdc("127.0.0.1", port, message, "udp") == reply
    finally:
        for thread in threads:
            thread.join(5)
        tcp.close()
        udp.close()
    assert received == {"tcp": message, "udp": message}
    with pytest.raises(ConnectionRefusedError):  # closed now: a connected UDP socket hears the ICMP at once
        doctor.probe_kdc("127.0.0.1", port, message, "udp", timeout=5)


def test_a_db_in_another_vpc_is_the_preflights_controllers_check():
    from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_security_groups

    client, stub = ec2_with_the_groups()
    stub.add_response("describe_vpc_peering_connections", {"VpcPeeringConnections": []})
    stub.add_response("describe_vpcs", {"Vpcs": [dict(VpcId="vpc-0ccccccccccccccc0", CidrBlock="10.1.0.0/16")]})
    found = doctor.security_group_findings(client, describe_security_groups, ACTIVE, ["sg-0db"], 5432, ["10.1.1.0/24"],
                                           db_vpc_id="vpc-0ccccccccccccccc0")
    assert statuses(found)[-1] == ("directory_controllers_ingress", doctor.FAIL), found
    assert "sg-0dc" in found[-1]["evidence"] and "network role" in found[-1]["fix"]
