# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The doctor: why can't <principal> log in? Every link from AWS to the login, read in order.

A link is a chain of checks; each check gives one finding {link, check, status (ok | warn | fail),
evidence, fix}. The walk stops at the first fail (Broken): what comes after a broken link cannot
be judged. Nothing here writes: AWS, the directory and the database are only read; the client
checks use a private credential cache that the caller removes.

The links, in the order a login crosses them (AWS_FACTS.md sections 1, 2, 4, 5, 10):
  aws      the directory is Active; the cluster and the instances behind the endpoint are members
           (kerberos-enabled); the security groups let the DB and the domain controllers talk;
  ad       the user exists, is enabled, not locked out, its password is set and not expired, AES keys;
  database a LOGIN role named exactly as the principal (or matching under krb_caseins_users), in rds_ad
           (directly or nested), not in rds_iam, with CONNECT on the database;
  client   krb5.conf (realm, KDCs, domain_realm), the endpoint resolves, the KDCs answer, the clock,
           kinit, the service ticket postgres/<endpoint>, and a GSSAPI login.
"""

import concurrent.futures
import datetime
import ipaddress
import os
import re
import secrets
import socket
import struct

from ansible_collections.aurora.kerberos.plugins.module_utils import logins
from ansible_collections.aurora.kerberos.plugins.module_utils import preflight
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain

OK = preflight.OK
WARN = preflight.WARN
FAIL = preflight.FAIL

LINK_TITLES = {"input": "input", "aws": "AWS", "ad": "AD", "database": "Database", "client": "Client"}
ALL_HOLD = "all links hold"

# MIT krb5's default clockskew (krb5.conf(5)); AD's "Maximum tolerance for computer clock
# synchronization" is also 5 minutes by default.
DEFAULT_CLOCKSKEW = 300
KERBEROS_PORT = 88
KPASSWD_PORT = 464


class Broken(Exception):
    """The first broken link: the walk stops here."""

    def __init__(self, finding):
        super().__init__(finding["evidence"])
        self.finding = finding


def finding(link, check, status, evidence, fix=""):
    return dict(link=link, check=check, status=status, evidence=evidence, fix=fix)


class Walk(object):
    """The findings so far, in order; add() raises Broken at the first fail."""

    def __init__(self):
        self.findings = []

    def add(self, *findings):
        for item in findings:
            self.findings.append(item)
            if item["status"] == FAIL:
                raise Broken(item)

    def warnings(self):
        return [f for f in self.findings if f["status"] == WARN]


def broken_message(item):
    """The play's failure: the link, the check, the evidence and the fix."""
    text = f"{LINK_TITLES.get(item['link'], item['link'])} link broken ({item['check']}): {item['evidence']}"
    if item["fix"]:
        text += f" Fix: {item['fix']}"
    return text


def summary(findings):
    return [f"[{LINK_TITLES.get(f['link'], f['link'])}/{f['check']}] {f['status']}: {f['evidence']}" for f in findings]


# --- the principal -----------------------------------------------------------------------------

_REALM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


def parse_principal(principal):
    """(name, realm) of user@REALM, or ValueError saying what is wrong."""
    name, sep, realm = (principal or "").rpartition("@")
    if not sep or not name or not realm:
        raise ValueError(f"doctor_principal {principal!r} is not a user principal: give it as alice@CORP.EXAMPLE.COM")
    if "/" in name or any(c.isspace() for c in name):
        raise ValueError(f"doctor_principal {principal!r} is not a user principal (no '/' or spaces in the name): give "
                         "it as alice@CORP.EXAMPLE.COM")
    if not _REALM.match(realm):
        raise ValueError(f"doctor_principal {principal!r} has no realm after '@': give it as alice@CORP.EXAMPLE.COM")
    return name, realm


def principal_findings(principal, directory_realm):
    """Input checks that need the directory: the realm is the directory's, in upper case."""
    name, realm = parse_principal(principal)
    if directory_realm and realm != directory_realm:
        if realm.upper() == directory_realm:
            return [finding("input", "principal_realm", FAIL,
                            f"The principal {principal} names the realm {realm}; Kerberos realms are case-sensitive "
                            f"and the directory's is {directory_realm}.",
                            f"Use {name}@{directory_realm} (kinit {name}@{directory_realm}).")]
        return [finding("input", "principal_realm", FAIL,
                        f"The principal's realm {realm} is not the directory's realm {directory_realm}; the doctor "
                        "checks users of the directory itself (a user of a trusted forest is checked in that forest).",
                        f"Give doctor_principal as {name}@{directory_realm}.")]
    return []


# --- AWS ---------------------------------------------------------------------------------------

def find_directory(ds_module, ds_client, directory_id=None, name=None, vpc_id=None):
    """(finding, directory or None): the directory by id, else by name (and VPC) as the directory role finds it."""
    if directory_id:
        item, directory = preflight.check_directory(ds_client, directory_id)
        return _from_preflight("aws", item), directory
    if not name:
        return finding("aws", "directory", FAIL, "Neither a directory id nor a directory name was given.",
                       "Set directory_id, or directory_name (and directory_vpc_id) as for site.yml."), None
    found = ds_module.find_directories(ds_client, name, vpc_id)
    where = f" in {vpc_id}" if vpc_id else ""
    if not found:
        return finding("aws", "directory", FAIL, f"No directory named {name}{where} in this account and Region.",
                       "Create it (site.yml, the directory role), or give directory_id of the directory the cluster "
                       "joins (and check the AWS Region)."), None
    if len(found) > 1:
        ids = ", ".join(d["DirectoryId"] for d in found)
        return finding("aws", "directory", FAIL, f"{len(found)} directories are named {name}{where} ({ids}).",
                       "Give directory_id to say which one the cluster joins."), None
    item, directory = preflight.check_directory(ds_client, found[0]["DirectoryId"])
    return _from_preflight("aws", item), directory


def _from_preflight(link, item):
    return finding(link, item["check"], item["status"], item["message"], item.get("fix", ""))


def _join_fix(cluster_id, directory_id, iam_role_name):
    role = iam_role_name or "<the IAM role with AmazonRDSDirectoryServiceAccess>"
    return (f"Join it: run site.yml (the cluster role, cluster_join: true), or aurora.kerberos.domain_membership "
            f"(cluster_id: {cluster_id}, directory_id: {directory_id}), or aws rds modify-db-cluster "
            f"--db-cluster-identifier {cluster_id} --domain {directory_id} --domain-iam-role-name {role} "
            "--apply-immediately; then wait for kerberos-enabled.")


def endpoint_targets(cluster, instances, host):
    """(kind, [instances behind the endpoint]) for the name the client dials.

    kind: writer, reader, instance, custom or unknown. The cluster endpoint reaches the writer; the reader
    endpoint the readers (the writer when there is none); an instance endpoint that instance."""
    host = (host or "").rstrip(".").lower()
    by_id = {i["DBInstanceIdentifier"]: i for i in instances}
    writers = [by_id[m["DBInstanceIdentifier"]] for m in cluster.get("DBClusterMembers") or []
               if m.get("IsClusterWriter") and m.get("DBInstanceIdentifier") in by_id]
    readers = [by_id[m["DBInstanceIdentifier"]] for m in cluster.get("DBClusterMembers") or []
               if not m.get("IsClusterWriter") and m.get("DBInstanceIdentifier") in by_id]
    behind = []
    kinds = []
    if host == (cluster.get("Endpoint") or "").lower():
        kinds.append("writer")
        behind += writers or instances
    if host == (cluster.get("ReaderEndpoint") or "").lower():
        kinds.append("reader")
        behind += readers or writers or instances
    for instance in instances:
        if host == ((instance.get("Endpoint") or {}).get("Address") or "").lower():
            kinds.append("instance")
            behind.append(instance)
    if not kinds and host in [e.lower() for e in cluster.get("CustomEndpoints") or []]:
        return "custom", []
    unique = list({i["DBInstanceIdentifier"]: i for i in behind}.values())
    return ("+".join(kinds) if kinds else "unknown"), unique


def membership_findings(cluster, instances, directory_id, host, iam_role_name=None, events=()):
    """The cluster's membership of directory_id, and that of each instance behind the endpoint."""
    cluster_id = cluster["DBClusterIdentifier"]
    membership = rds_domain.active_membership(cluster)
    status = (membership or {}).get("Status")
    fix = _join_fix(cluster_id, directory_id, iam_role_name or (membership or {}).get("IAMRoleName"))
    if not membership:
        return [finding("aws", "cluster_membership", FAIL,
                        f"Cluster {cluster_id} is not a member of any directory (DomainMemberships is empty): until it "
                        "joins there is no service principal postgres/<endpoint>, so no Kerberos login can succeed "
                        "(a GSSAPI login fails with \"Server not found in Kerberos database\").", fix)]
    if membership.get("Domain") != directory_id:
        return [finding("aws", "cluster_membership", FAIL,
                        f"Cluster {cluster_id} is a member of {membership.get('Domain')} ({status}), not of "
                        f"{directory_id}: its service principals live in that directory.",
                        f"Join it to {directory_id} (the same command moves it): " + fix)]
    said = f" RDS events: {' | '.join(events)}" if events else ""
    if status in rds_domain.STATUSES_FAILED:
        return [finding("aws", "cluster_membership", FAIL,
                        f"Cluster {cluster_id} is {status} in {directory_id}: RDS could not join it.{said}",
                        "Fix the cause (run aurora.kerberos.kerberos_preflight with cluster_id, directory_id and "
                        "iam_role_name: IAM role trust and policy, the security groups, the directory's stage), then "
                        "modify the cluster again with the same directory id (site.yml does it; "
                        "docs/troubleshooting.md, enable-kerberos-failed).")]
    if status not in rds_domain.STATUSES_DONE:
        verb = "leaving" if status in rds_domain.STATUSES_LEAVING else "not yet a member of"
        return [finding("aws", "cluster_membership", FAIL,
                        f"Cluster {cluster_id} is {status}: {verb} {directory_id}. Kerberos works only once the "
                        "membership is kerberos-enabled.",
                        "Wait for kerberos-enabled (the cluster role waits: cluster_wait); a pending-maintenance-* "
                        "status waits for the maintenance window (apply immediately)." if verb != "leaving" else fix)]
    found = [finding("aws", "cluster_membership", OK,
                     f"Cluster {cluster_id} is {status} in {directory_id} (role {membership.get('IAMRoleName')}).")]
    kind, behind = endpoint_targets(cluster, instances, host)
    endpoints = ", ".join(e for e in (cluster.get("Endpoint"), cluster.get("ReaderEndpoint")) if e)
    if kind == "custom":
        return found + [finding("aws", "endpoint", FAIL,
                                f"{host} is a custom endpoint of {cluster_id}; custom endpoints do not work with "
                                "Kerberos (AWS: connect to the cluster, reader or instance endpoint).",
                                f"Dial the cluster endpoint ({endpoints}) instead.")]
    if kind == "unknown":
        found.append(finding("aws", "endpoint", WARN,
                             f"{host} is none of the endpoints RDS gives for {cluster_id} ({endpoints}, and the "
                             "instance endpoints): a CNAME or another name has no service principal of its own "
                             "(the client asks for postgres/<the name it dials>).",
                             f"Dial {cluster.get('Endpoint')} itself."))
        behind = instances
    else:
        found.append(finding("aws", "endpoint", OK, f"{host} is the {kind} endpoint of {cluster_id}."))
    not_done = [(i["DBInstanceIdentifier"], rds_domain.membership_status(i, directory_id)) for i in behind
                if rds_domain.membership_status(i, directory_id) not in rds_domain.STATUSES_DONE]
    if not_done:
        listed = ", ".join(f"{i} is {s or 'not a member'}" for i, s in not_done)
        return found + [finding("aws", "instance_membership", FAIL,
                                f"Behind {host}: {listed} in {directory_id}; a login that lands there fails.",
                                "Wait for kerberos-enabled on every instance; a failed instance is retried by modifying "
                                "the cluster again with the same directory id. " + fix)]
    names = ", ".join(i["DBInstanceIdentifier"] for i in behind) or "no instance"
    return found + [finding("aws", "instance_membership", OK,
                            f"The instances behind {host} ({names}) are kerberos-enabled in {directory_id}.")]


# The domain controllers' ports a DB needs (AWS_FACTS.md section 2, "Corrected"; the exact list inferred):
# Kerberos and kpasswd, LDAP and DNS. Checked on TCP; AWS's own rules open UDP alike.
DC_PORTS_FROM_DB = (KERBEROS_PORT, KPASSWD_PORT, 389, 53)


def _allows(permission, port, protocol="tcp"):
    proto = str(permission.get("IpProtocol"))
    if proto == "-1":
        return True
    if proto not in (protocol, {"tcp": "6", "udp": "17"}[protocol]):
        return False
    return permission.get("FromPort", 0) <= port <= permission.get("ToPort", 65535)


def _cidr_covers(cidr, networks):
    try:
        outer = ipaddress.ip_network(cidr, strict=False)
        return bool(networks) and all(ipaddress.ip_network(n, strict=False).subnet_of(outer) for n in networks)
    except (ValueError, TypeError):
        return False


def dc_ingress_finding(dc_group, db_group_ids, db_cidrs):
    """The DCs' security group accepts the AD ports from the DB (by group, or a CIDR that covers the DB's
    subnets). AWS makes it accept them from the directory VPC's CIDR only (AWS_FACTS.md section 2)."""
    if dc_group is None:
        return finding("aws", "directory_controllers_ingress", WARN,
                       "Not checked: the domain controllers' security group is not visible to this account (a shared "
                       "directory's group lives in the owner's account).",
                       "In the owner's account, see that it accepts 53, 88, 464 and 389 from the DB.")
    group_id = dc_group["GroupId"]
    missing = []
    for port in DC_PORTS_FROM_DB:
        allowed = False
        for permission in dc_group.get("IpPermissions") or []:
            if not _allows(permission, port):
                continue
            if any(p.get("GroupId") in db_group_ids for p in permission.get("UserIdGroupPairs") or []):
                allowed = True
            elif any(_cidr_covers(r.get("CidrIp"), db_cidrs) for r in permission.get("IpRanges") or []):
                allowed = True
        if not allowed:
            missing.append(port)
    if not db_cidrs and missing:
        return finding("aws", "directory_controllers_ingress", WARN,
                       f"Not checked by address: the DB subnets' CIDRs are not known, and {group_id} names none of the "
                       f"DB security groups for TCP {', '.join(map(str, missing))}.",
                       "Give cluster_id of a cluster with a DB subnet group.")
    if missing:
        return finding("aws", "directory_controllers_ingress", FAIL,
                       f"The domain controllers' security group {group_id} does not accept TCP "
                       f"{', '.join(map(str, missing))} from the DB (groups {', '.join(db_group_ids) or 'none'}, subnets "
                       f"{', '.join(db_cidrs)}): AWS opens it to the directory VPC's CIDR only.",
                       f"Open {group_id} to the DB security group (TCP and UDP 53, 88, 464, 389; TCP 445, 135, 636, "
                       "3268-3269, 1024-65535): the network role does it for a DB in another VPC.")
    return finding("aws", "directory_controllers_ingress", OK,
                   f"The domain controllers' security group {group_id} accepts TCP "
                   f"{', '.join(map(str, DC_PORTS_FROM_DB))} from the DB.")


def security_group_findings(ec2, describe_security_groups, directory, db_group_ids, port, db_cidrs, db_vpc_id=None):
    """Both ways: the DB's group from the directory's group, the DCs' group from the DB (and its egress).

    A DB in another VPC is the preflight's check (peering, the DB VPC's CIDR, every AD port); in the directory's
    VPC the rules AWS made are read again: TCP 53, 88, 464 and 389 from a CIDR that holds the DB's subnets."""
    vpc = preflight.directory_vpc_settings(directory)
    dc_group_id = vpc.get("SecurityGroupId")
    dc_addresses = (directory or {}).get("DnsIpAddrs") or []
    found = [_from_preflight("aws", preflight.check_db_ingress(ec2, db_group_ids, dc_group_id, port, dc_addresses)),
             _from_preflight("aws", preflight.check_directory_egress(ec2, dc_group_id, db_group_ids, port))]
    if db_vpc_id and vpc.get("VpcId") and db_vpc_id != vpc["VpcId"]:
        controllers = preflight.check_controllers_ingress(ec2, dc_group_id, vpc["VpcId"], db_vpc_id, db_group_ids)
        found.append(_from_preflight("aws", controllers))
        return found
    groups = describe_security_groups(ec2, GroupIds=[dc_group_id]) if dc_group_id else []
    found.append(dc_ingress_finding(groups[0] if groups else None, db_group_ids, db_cidrs))
    return found


# --- AD ----------------------------------------------------------------------------------------

UF_ACCOUNTDISABLE = 0x0002
UF_LOCKOUT = 0x0010
UF_DONT_EXPIRE_PASSWD = 0x10000
UF_PASSWORD_EXPIRED = 0x800000
AES_BITS = 0x18
# What the ldap backend reads beyond ad_ldap's user (msDS-User-Account-Control-Computed is computed by the
# DC: lockout and password expiry under the domain's policy, MS-ADTS 3.1.1.4.5.17).
LDAP_STATE_ATTRIBUTES = ["msDS-User-Account-Control-Computed", "lockoutTime", "accountExpires", "pwdLastSet"]
_NEVER = (0, 0x7FFFFFFFFFFFFFFF)


def filetime_to_datetime(value):
    """AD's 100-ns intervals since 1601 (an int), or a datetime as ldap3 gives it, as an aware datetime."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    value = int(value)
    if value in _NEVER:
        return None
    return datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=value // 10)


def ad_findings(user, name, realm, state=None, backend="ldap", now=None):
    """The user as the directory holds it. state: the LDAP_STATE_ATTRIBUTES (ldap backend), None over ds-data.
    Returns the findings; the last ok one carries the stored sAMAccountName."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    create = ("Create it: directory_users in the directory role (site.yml), or aurora.kerberos.ad_user; check the "
              "spelling of doctor_principal.")
    if user is None:
        return [finding("ad", "user_exists", FAIL, f"The directory {realm.lower()} has no user with the logon name "
                                                   f"(sAMAccountName) {name}: kinit says \"Client not found in "
                                                   "Kerberos database\".", create)]
    found = [finding("ad", "user_exists", OK, f"{user.get('dn') or user['name']} exists.")]
    if not user.get("enabled", True):
        return found + [finding("ad", "user_enabled", FAIL,
                                f"{user['name']} is disabled (userAccountControl ACCOUNTDISABLE): the KDC refuses it "
                                "(kinit: \"Client's credentials have been revoked\").",
                                "Enable it: enabled: true in its directory_users entry (aurora.kerberos.ad_user), "
                                "or ds reset-user-password, which sets a password and enables the user.")]
    found.append(finding("ad", "user_enabled", OK, f"{user['name']} is enabled."))
    new_password = ("Set a new password: update_password: always with a new password in its directory_users entry "
                    "(aurora.kerberos.ad_user), ds reset-user-password, or kpasswd/kinit at a terminal.")
    if not user.get("has_password", True):
        # AD keeps pwdLastSet at 0 both before a password is set and when one must be changed at the next logon.
        return found + [finding("ad", "password_not_expired", FAIL,
                                f"{user['name']} has no usable password: pwdLastSet is 0 (never set, or it must be "
                                "changed at the next logon). kinit fails (\"Password has expired\") and PostgreSQL "
                                "cannot prompt for a new one.", new_password)]
    if state is not None:
        computed = int(state.get("msDS-User-Account-Control-Computed") or 0)
        if computed & UF_LOCKOUT:
            return found + [finding("ad", "not_locked_out", FAIL,
                                    f"{user['name']} is locked out (lockoutTime {state.get('lockoutTime')}): too many bad "
                                    "passwords; the KDC refuses it until the lockout duration passes.",
                                    "Wait out the domain's lockout duration, or unlock it (Active Directory Users and "
                                    "Computers, Account: Unlock; or set lockoutTime to 0), and find the client that "
                                    "keeps sending an old password.")]
        found.append(finding("ad", "not_locked_out", OK, f"{user['name']} is not locked out."))
        if computed & UF_PASSWORD_EXPIRED:
            return found + [finding("ad", "password_not_expired", FAIL,
                                    f"{user['name']}'s password has expired under the domain's password policy: kinit "
                                    "fails (\"Password has expired\") and PostgreSQL cannot prompt for a new one.",
                                    new_password)]
        found.append(finding("ad", "password_not_expired", OK, f"The password of {user['name']} has not expired."))
        expires = state.get("accountExpires")
        expires_at = filetime_to_datetime(expires) if expires not in (None, "") else None
        if expires_at is not None and expires_at.year < 9999 and expires_at <= now:
            return found + [finding("ad", "account_not_expired", FAIL,
                                    f"The account {user['name']} expired on {expires_at:%Y-%m-%d %H:%M} UTC.",
                                    "Extend its accountExpires (Active Directory Users and Computers, Account).")]
    else:
        found.append(finding("ad", "not_locked_out", WARN,
                             f"Not checked over {backend}: lockout and password expiry are not among the attributes "
                             "the Directory Service Data API returns; kinit below tells.",
                             "Nothing to do unless kinit fails."))
    value = user.get("encryption_types_value")
    if value and not value & AES_BITS:
        return found + [finding("ad", "aes_keys", FAIL,
                                f"{user['name']}'s msDS-SupportedEncryptionTypes is {value} "
                                f"({', '.join(user.get('supported_encryption_types') or []) or 'no AES'}): no AES.",
                                "Give it AES (supported_encryption_types: [aes128, aes256] in its directory_users entry, "
                                "aurora.kerberos.ad_user), then set its password again so AD makes the AES keys.")]
    if not value:
        found.append(finding("ad", "aes_keys", WARN,
                             f"{user['name']}'s msDS-SupportedEncryptionTypes is not set: the domain's default applies.",
                             "Set supported_encryption_types: [aes128, aes256] (AES 24) to be sure."))
    else:
        found.append(finding("ad", "aes_keys", OK,
                             f"{user['name']} has AES ({', '.join(user.get('supported_encryption_types') or [])})."))
    stored = user.get("name") or name
    upn = user.get("user_principal_name")
    if stored != name:
        found.append(finding("ad", "name_case", WARN,
                             f"AD stores the logon name as {stored} (UPN {upn or 'none'}); you asked for {name}. kinit "
                             f"keeps the case you type, kinit -C and Windows give {stored}@{realm}: PostgreSQL compares "
                             "the principal with the role name exactly unless krb_caseins_users is on.",
                             f"kinit exactly {name}@{realm}, or set cluster_krb_caseins_users: true."))
    else:
        found.append(finding("ad", "name_case", OK, f"Logon name {stored} (UPN {upn or 'none'})."))
    return found


# --- the database ------------------------------------------------------------------------------

def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def database_findings(catalog, principal, database, database_exists, can_connect):
    """The login role for principal (as PostgreSQL matches a GSSAPI principal with include_realm=1)."""
    name, realm = parse_principal(principal)
    wanted = logins.login_for(name, realm)
    create = (f"Create it: db_users_logins: [{{name: {name.lower()}}}] (the db_users role), or as the master user: "
              f"CREATE ROLE {_quote(wanted)} LOGIN; GRANT rds_ad TO {_quote(wanted)};")
    try:
        role = catalog.find(principal)
    except logins.LoginsError as e:
        return [finding("database", "login_role", FAIL, str(e), "Drop all but one of them.")]
    if role is None:
        others = sorted(r for r in catalog.roles if r.lower() == principal.lower())
        if others:
            rename = (f"ALTER ROLE {_quote(others[0])} RENAME TO {_quote(principal)}" if principal == wanted
                      else f"kinit as {wanted} (kinit keeps the case you type)")
            return [finding("database", "login_role", FAIL,
                            f"No role is named exactly {principal}; {', '.join(others)} differs only in case, and "
                            "krb_caseins_users is off, so PostgreSQL refuses the principal (GSSAPI authentication "
                            "failed).",
                            f"{rename}; or make names case-insensitive with cluster_krb_caseins_users: true. Logins "
                            f"are <lower-case name>@<REALM>: {wanted}.")]
        if principal != wanted and wanted in catalog.roles:
            return [finding("database", "login_role", FAIL,
                            f"The login is {wanted} but the principal is {principal}: PostgreSQL compares them exactly "
                            "(krb_caseins_users is off).",
                            f"kinit as {wanted}, or set cluster_krb_caseins_users: true.")]
        return [finding("database", "login_role", FAIL, f"No role {wanted} exists in the cluster.", create)]
    how = " (krb_caseins_users is on)" if role != principal else ""
    found = [finding("database", "login_role", OK, f"Role {role} matches {principal}{how}.")]
    if not catalog.roles[role]["login"]:
        return found + [finding("database", "can_login", FAIL, f"Role {role} is NOLOGIN.",
                                f"ALTER ROLE {_quote(role)} LOGIN (the db_users role makes logins with LOGIN).")]
    if logins.KERBEROS_ROLE not in catalog.roles:
        return found + [finding("database", "rds_ad", FAIL,
                                "The role rds_ad does not exist: this is not Aurora PostgreSQL with Kerberos.",
                                "Connect to the cluster's endpoint (db_users_host).")]
    path = catalog.path_to(role, logins.KERBEROS_ROLE)
    if path is None:
        return found + [finding("database", "rds_ad", FAIL,
                                f"Role {role} is not a member of rds_ad, directly or through another role: Aurora "
                                "authenticates only rds_ad members with Kerberos (the others by password).",
                                f"GRANT rds_ad TO {_quote(role)} (the db_users role grants it to each login).")]
    found.append(finding("database", "rds_ad", OK, f"{' -> '.join(path)}."))
    iam = catalog.path_to(role, logins.IAM_ROLE) if logins.IAM_ROLE in catalog.roles else None
    if iam:
        holder = iam[-2]
        return found + [finding("database", "no_rds_iam", FAIL,
                                f"Role {role} is also in rds_iam ({' -> '.join(iam)}): a role must never hold both "
                                "rds_ad and rds_iam, and with rds_iam the login is refused.",
                                f"REVOKE rds_iam FROM {_quote(holder)} (db_users_migrate_from_iam: true revokes a "
                                "direct grant).")]
    found.append(finding("database", "no_rds_iam", OK, f"Role {role} is not in rds_iam."))
    if not database_exists:
        return found + [finding("database", "connect", FAIL, f"The database {database} does not exist.",
                                "Give doctor_database (or verify_database) the database the user connects to.")]
    if not can_connect:
        return found + [finding("database", "connect", FAIL,
                                f"Role {role} has no CONNECT on database {database} (neither granted to it, to a role it "
                                "is in, nor to PUBLIC).",
                                f"GRANT CONNECT ON DATABASE {_quote(database)} TO {_quote(role)} (db_users_logins: "
                                f"databases: [{database}]).")]
    found.append(finding("database", "connect", OK, f"Role {role} may CONNECT to {database}."))
    return found


def read_database(cursor, principal, database):
    """(catalog, database exists, role can connect) as the master user sees them."""
    catalog = logins.read_catalog(cursor)
    try:
        role = catalog.find(principal)
    except logins.LoginsError:
        role = None
    cursor.execute("SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = %s)", (database,))
    exists = cursor.fetchone()[0]
    can_connect = False
    if exists and role:
        cursor.execute("SELECT pg_catalog.has_database_privilege(%s, %s, 'CONNECT')", (role, database))
        can_connect = cursor.fetchone()[0]
    return catalog, exists, can_connect


# --- AD groups mapped to roles with pg_ad_mapping (AWS_FACTS.md section 6) ----------------------------

def ad_group_findings(group, meant, user_name, token_sids=None):
    """AD: the group meant (doctor_group) exists and the user is in it: directly or nested, by the SIDs the DC
    computes for the user's token (tokenGroups, what a ticket's PAC carries), or, without them (ds-data), by the
    group's direct members."""
    if group is None:
        return [finding("ad", "group_exists", FAIL, f"The directory has no group with the logon name {meant}.",
                        "Create it (directory_groups in the directory role, or aurora.kerberos.ad_group) or check the "
                        "spelling of doctor_group.")]
    found = [finding("ad", "group_exists", OK, f"Group {group.get('dn') or group['name']} exists (SID {group['sid']}).")]
    if token_sids is not None:
        member, how = group["sid"] in token_sids, "directly or through nested groups (tokenGroups)"
    else:
        member, how = user_name.lower() in [m.lower() for m in group.get("members") or []], "directly"
    if not member:
        return found + [finding("ad", "group_member", FAIL,
                                f"{user_name} is not a member of {group['name']} ({how}): the group's mapping does not "
                                "apply to it.",
                                f"Add {user_name} to {group['name']}: members of its directory_groups entry "
                                "(aurora.kerberos.ad_group), or Active Directory Users and Computers.")]
    return found + [finding("ad", "group_member", OK, f"{user_name} is a member of {group['name']} ({how}).")]


def mapping_findings(mappings, groups, catalog, database, connectable, meant_sid=None):
    """The pg_ad_mapping entry that covers the user's AD group, and the role it gives.

    mappings: pgadmap_read_mapping() as [{sid, role, weight, ad_group}], None when the extension is not created;
    groups: {sid: name} of the user's groups; meant_sid: the group doctor_group names, whose mapping must exist
    (without it, the user's groups are looked at because the user has no login role of their own, and no mapping
    is no finding). connectable: {role: may CONNECT to database}. Of the mappings that cover the user's groups,
    the highest weight wins (AWS_FACTS.md section 6)."""
    if mappings is None:
        if not meant_sid:
            return []
        return [finding("database", "ad_group_mapping", FAIL,
                        f"pg_ad_mapping is not created in this cluster: no AD group maps to a role, so "
                        f"{groups.get(meant_sid, meant_sid)} gives no login.",
                        "Map the group with db_users_group_mappings (the cluster role preloads pg_ad_mapping, the "
                        "db_users role runs CREATE EXTENSION pg_ad_mapping and sets the mapping).")]
    covering = [m for m in mappings if m["sid"] in groups]
    if meant_sid and not any(m["sid"] == meant_sid for m in covering):
        name = groups.get(meant_sid, meant_sid)
        listed = ", ".join(f"{m['ad_group']} -> {m['role']}" for m in mappings) or "none"
        return [finding("database", "ad_group_mapping", FAIL,
                        f"No pg_ad_mapping entry covers {name} (SID {meant_sid}); the cluster's mappings: {listed}.",
                        f"Map it: db_users_group_mappings: [{{ad_group: {name}, sid: {meant_sid}, role: <role>, "
                        f"weight: 10}}] (the db_users role), or as the master user on the writer: SELECT "
                        f"pgadmap_set_mapping('{name}', '<role>', '{meant_sid}', 10)")]
    if not covering:
        return []
    winner = max(covering, key=lambda m: (m["weight"] or 0))
    role = winner["role"]
    found = [finding("database", "ad_group_mapping", OK,
                     f"pg_ad_mapping maps {winner['ad_group']} ({winner['sid']}) to {role} (weight {winner['weight']})"
                     + (f"; of {len(covering)} mappings of the user's groups the highest weight wins"
                        if len(covering) > 1 else "") + ".")]
    if meant_sid and winner["sid"] != meant_sid:
        found.append(finding("database", "ad_group_mapping_weight", WARN,
                             f"The user gets {role} through {winner['ad_group']} (weight {winner['weight']}), not the "
                             f"role of {groups.get(meant_sid, meant_sid)}: the highest weight wins.",
                             "Give the mapping of the group you mean the highest weight."))
    if role not in catalog.roles:
        return found + [finding("database", "mapped_role", FAIL, f"The mapped role {role} does not exist.",
                                f"CREATE ROLE {_quote(role)} LOGIN (the db_users role creates mapped roles).")]
    if not catalog.roles[role]["login"]:
        return found + [finding("database", "mapped_role", FAIL, f"The mapped role {role} is NOLOGIN.",
                                f"ALTER ROLE {_quote(role)} LOGIN")]
    path = catalog.path_to(role, logins.KERBEROS_ROLE) if logins.KERBEROS_ROLE in catalog.roles else None
    if path:
        return found + [finding("database", "mapped_role", FAIL,
                                f"The mapped role {role} is in rds_ad ({' -> '.join(path)}): a mapped role must never "
                                "be (AWS).", f"REVOKE rds_ad FROM {_quote(path[-2])}")]
    if not connectable.get(role):
        return found + [finding("database", "mapped_role", FAIL, f"The mapped role {role} has no CONNECT on {database}.",
                                f"GRANT CONNECT ON DATABASE {_quote(database)} TO {_quote(role)}")]
    return found + [finding("database", "mapped_role", OK,
                            f"The mapped role {role} has LOGIN and CONNECT on {database}, and is not in rds_ad.")]


def read_mappings(cursor, database):
    """(pgadmap_read_mapping() rows, or None without the extension; {mapped role: may CONNECT to database})."""
    cursor.execute("SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_ad_mapping')")
    if not cursor.fetchone()[0]:
        return None, {}
    cursor.execute("SELECT ad_sid, pg_role, weight, ad_grp FROM pgadmap_read_mapping()")
    mappings = [dict(sid=sid, role=role, weight=weight, ad_group=group) for sid, role, weight, group in cursor.fetchall()]
    connectable = {}
    for role in sorted({m["role"] for m in mappings}):
        cursor.execute("SELECT pg_catalog.has_database_privilege(r.oid, d.oid, 'CONNECT') FROM pg_catalog.pg_roles r, "
                       "pg_catalog.pg_database d WHERE r.rolname = %s AND d.datname = %s", (role, database))
        row = cursor.fetchone()
        connectable[role] = bool(row and row[0])
    return mappings, connectable


# --- the client: krb5.conf ---------------------------------------------------------------------

def parse_krb5_conf(text):
    """{section: {tag: [values]}} with [realms] as {REALM: {tag: [values]}}; profile syntax (krb5.conf(5)):
    comments start with # or ;, a relation is tag = value, a subsection tag = { ... }."""
    sections = {}
    section = None
    stack = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and "]" in line:
            section = sections.setdefault(line[1:line.index("]")].strip(), {})
            stack = [section]
            continue
        if section is None:
            continue
        if line.startswith("}"):
            if len(stack) > 1:
                stack.pop()
            continue
        tag, sep, value = line.partition("=")
        if not sep:
            continue
        tag, value = tag.strip(), value.strip()
        if value.startswith("{"):
            child = stack[-1].setdefault(tag, {})
            if isinstance(child, list):
                child = {}
                stack[-1][tag] = child
            stack.append(child)
            continue
        if value.endswith("*"):  # a final value: no later file may override it
            value = value[:-1].rstrip()
        stack[-1].setdefault(tag, [])
        if isinstance(stack[-1][tag], list):
            stack[-1][tag].append(value)
    return sections


def merge_krb5_confs(texts):
    """KRB5_CONFIG may name several files: the first value of a tag wins (krb5.conf(5))."""
    merged = {}

    def merge(into, other):
        for key, value in other.items():
            if key not in into:
                into[key] = value
            elif isinstance(into[key], dict) and isinstance(value, dict):
                merge(into[key], value)

    for text in texts:
        merge(merged, parse_krb5_conf(text))
    return merged


def _first(section, tag, default=None):
    values = (section or {}).get(tag)
    return values[0] if isinstance(values, list) and values else default


def _truthy(value, default):
    if value is None:
        return default
    return value.strip().lower() in ("true", "yes", "on", "1")


def realm_for_host(domain_realm, host):
    """The realm [domain_realm] gives host: the host itself, else its longest .domain (MIT's order)."""
    host = host.rstrip(".").lower()
    entries = {k.lower(): _first(domain_realm, k) for k in (domain_realm or {})}
    if host in entries:
        return entries[host], host
    labels = host.split(".")
    for i in range(1, len(labels)):
        suffix = "." + ".".join(labels[i:])
        if suffix in entries:
            return entries[suffix], suffix
    return None, None


def kdc_addresses(realm_section):
    """[(host, port)] of the realm's kdc tags (host, host:port, [v6]:port)."""
    found = []
    for value in (realm_section or {}).get("kdc") or []:
        value = re.sub(r"^(tcp|udp|https?)/", "", value.strip()).split("/")[0]
        match = re.match(r"^\[([^\]]+)\](?::(\d+))?$", value) or re.match(r"^([^:]+)(?::(\d+))?$", value)
        if match:
            found.append((match.group(1), int(match.group(2) or KERBEROS_PORT)))
    return found


def krb5_conf_findings(conf, path, realm, host, directory_kdcs=()):
    """The realm, its KDCs and the domain_realm entry that covers the endpoint. Returns (findings, kdcs, clockskew)."""
    libdefaults = conf.get("libdefaults") or {}
    realms = conf.get("realms") or {}
    writes = ("Use the krb5.conf the cluster role writes (cluster_krb5_conf_path), or add to " + path + ": ")
    kdcs = []
    section = realms.get(realm)
    dns_lookup_kdc = _truthy(_first(libdefaults, "dns_lookup_kdc"), True)
    listed = ", ".join(directory_kdcs) or "<the directory's DnsIpAddrs>"
    if not section or not section.get("kdc"):
        if not dns_lookup_kdc:
            what = "no [realms] entry for" if not section else "no kdc for"
            return [finding("client", "krb5_conf_realm", FAIL,
                            f"{path} has {what} {realm}, and dns_lookup_kdc is false: kinit cannot find a KDC "
                            f"(\"Cannot find KDC for realm\").",
                            writes + f"[realms] {realm} = {{ kdc = {listed} }}.")], [], DEFAULT_CLOCKSKEW
        item = finding("client", "krb5_conf_realm", WARN,
                       f"{path} lists no KDC for {realm}; with dns_lookup_kdc the client looks up "
                       f"_kerberos._tcp.{realm.lower()} in DNS.",
                       writes + f"[realms] {realm} = {{ kdc = {listed} }}, so DNS is not needed.")
    else:
        kdcs = kdc_addresses(section)
        shown = ", ".join(f"{h}:{p}" for h, p in kdcs)
        if directory_kdcs and not any(h in directory_kdcs for h, dummy in kdcs):
            item = finding("client", "krb5_conf_realm", WARN,
                           f"{path} lists the KDCs {shown} for {realm}, none of the directory's addresses "
                           f"({listed}).", f"Use kdc = {listed} (the directory's DnsIpAddrs).")
        else:
            item = finding("client", "krb5_conf_realm", OK, f"{path} has {realm} with the KDCs {shown}.")
    found = [item]
    mapped, entry = realm_for_host(conf.get("domain_realm") or {}, host)
    # .rds.<the partition's DNS suffix> covers every endpoint of the Region (AWS_FACTS.md section 5)
    add = (f"[domain_realm] .rds.{host.split('.rds.', 1)[1]} = {realm}" if ".rds." in host
           else f"[domain_realm] {host} = {realm}")
    default_realm = _first(libdefaults, "default_realm")
    if mapped is None and default_realm == realm:
        # MIT then asks the default realm's KDC with the referral realm, and AD answers for its own SPNs.
        found.append(finding("client", "krb5_conf_domain_realm", WARN,
                             f"No [domain_realm] entry of {path} covers {host}; it works only because the default "
                             f"realm is {realm} (the KDC answers by referral). AWS documents the entry.",
                             writes + add + "."))
    elif mapped is None:
        found.append(finding("client", "krb5_conf_domain_realm", FAIL,
                             f"No [domain_realm] entry of {path} covers {host}, and the default realm is "
                             f"{default_realm or 'not set'}: the client asks that realm, not {realm}, for "
                             f"postgres/{host}.", writes + add + "."))
    elif mapped != realm:
        found.append(finding("client", "krb5_conf_domain_realm", FAIL,
                             f"[domain_realm] {entry} = {mapped} in {path} maps {host} to {mapped}, not {realm}: the "
                             f"client asks {mapped} for postgres/{host}.", f"Change it to {entry} = {realm}."))
    else:
        found.append(finding("client", "krb5_conf_domain_realm", OK, f"[domain_realm] {entry} maps {host} to {realm}."))
    for tag, wanted in (("rdns", False), ("dns_canonicalize_hostname", False)):
        value = _truthy(_first(libdefaults, tag), True)
        if value != wanted:
            found.append(finding("client", f"krb5_conf_{tag}", WARN,
                                 f"{tag} is not false in {path}: the client may ask for the service principal of a "
                                 "name DNS gives back (a CNAME target or a reverse lookup) instead of the endpoint "
                                 "(\"Server not found in Kerberos database\").", f"Set {tag} = false in [libdefaults]."))
    try:
        clockskew = int(_first(libdefaults, "clockskew", DEFAULT_CLOCKSKEW))
    except ValueError:
        clockskew = DEFAULT_CLOCKSKEW
    return found, kdcs, clockskew


# --- the client: the KDCs, on the wire ----------------------------------------------------------

def _der(tag, content):
    length = len(content)
    if length < 0x80:
        encoded = bytes([length])
    else:
        octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
        encoded = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + encoded + content


def _int(value):
    return _der(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def _ctx(number, content):
    return _der(0xA0 + number, content)


def _seq(*items):
    return _der(0x30, b"".join(items))


def _gstring(text):
    return _der(0x1B, text.encode("utf-8"))


def _principal(name_type, *names):
    return _seq(_ctx(0, _int(name_type)), _ctx(1, _seq(*(_gstring(n) for n in names))))


# AES256, AES128 (RFC 3962): what an AD user with AES keys answers to
_ETYPES = (18, 17)


def as_req(name, realm, now=None, nonce=None):
    """An AS-REQ for name@realm with no pre-authentication (RFC 4120 5.4.1): the KDC answers it with a
    KRB-ERROR (PREAUTH_REQUIRED for an AD user), which carries the KDC's own time (stime)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    till = (now + datetime.timedelta(hours=1)).strftime("%Y%m%d%H%M%SZ").encode()
    body = _seq(
        _ctx(0, _der(0x03, b"\x00\x50\x80\x00\x00")),  # kdc-options: forwardable, renewable-ok
        _ctx(1, _principal(1, name)),
        _ctx(2, _gstring(realm)),
        _ctx(3, _principal(2, "krbtgt", realm)),
        _ctx(5, _der(0x18, till)),
        _ctx(7, _int(nonce if nonce is not None else secrets.randbelow(2 ** 31))),
        _ctx(8, _seq(*(_int(e) for e in _ETYPES))),
    )
    return _der(0x6A, _seq(_ctx(1, _int(5)), _ctx(2, _int(10)), _ctx(4, body)))


def _read_tlv(data, offset):
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    return tag, data[offset:offset + length], offset + length


def _children(content):
    items, offset = [], 0
    while offset < len(content):
        tag, value, offset = _read_tlv(content, offset)
        items.append((tag, value))
    return items


def parse_kdc_reply(data):
    """{kind: error | as-rep, stime (aware datetime), error_code, e_text} of a KDC's answer; ValueError if it is
    not one."""
    try:
        tag, content, dummy = _read_tlv(data, 0)
        if tag == 0x6B:  # AS-REP: the user needs no pre-authentication; its times are encrypted
            return dict(kind="as-rep", stime=None, error_code=None, e_text=None)
        if tag != 0x7E:
            raise ValueError(f"not a Kerberos reply (tag 0x{tag:02x})")
        (seq_tag, seq), = _children(content)
        fields = {t - 0xA0: v for t, v in _children(seq)}
        stime = _children(fields[4])[0][1].decode()
        code = int.from_bytes(_children(fields[6])[0][1], "big", signed=True)
        e_text = _children(fields[11])[0][1].decode("utf-8", "replace") if 11 in fields else None
    except (IndexError, KeyError, UnicodeDecodeError) as e:
        raise ValueError(f"not a Kerberos reply ({e})") from e
    when = datetime.datetime.strptime(stime, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    return dict(kind="error", stime=when, error_code=code, e_text=e_text)


# RFC 4120 7.5.9, the codes a pre-authentication-less AS-REQ can meet
KDC_ERRORS = {6: "KDC_ERR_C_PRINCIPAL_UNKNOWN", 14: "KDC_ERR_ETYPE_NOSUPP", 18: "KDC_ERR_CLIENT_REVOKED",
              23: "KDC_ERR_KEY_EXPIRED", 24: "KDC_ERR_PREAUTH_FAILED", 25: "KDC_ERR_PREAUTH_REQUIRED",
              37: "KRB_AP_ERR_SKEW", 68: "KDC_ERR_WRONG_REALM"}


def probe_kdc(host, port, message, transport="tcp", timeout=3.0):
    """Send message to the KDC and return its reply (bytes); OSError when nothing answers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if transport == "udp":
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            # Connected, so an ICMP port unreachable comes back as ConnectionRefusedError at once; a dropped
            # datagram is only a timeout. UDP cannot tell more: a port counts as open only when it answers.
            sock.connect((host, port))
            sock.send(message)
            return sock.recv(65535)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">I", len(message)) + message)
        header = _recv_exactly(sock, 4)
        return _recv_exactly(sock, struct.unpack(">I", header)[0])


def _recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the KDC closed the connection")
        data += chunk
    return data


def kpasswd_request():
    """A kpasswd request (RFC 3244 section 2: message length, version 0xff80, the AP-REQ's length, an AP-REQ, a
    KRB-PRIV) whose AP-REQ cannot be verified. It changes nothing; a kpasswd server answers it with a reply that
    carries a KRB-ERROR, which proves the port open on UDP, where only an answer can."""
    ap_req = _der(0x6E, _seq(_ctx(0, _int(5)), _ctx(1, _int(14))))
    priv = _der(0x75, _seq(_ctx(0, _int(5)), _ctx(1, _int(21))))
    return struct.pack(">HHH", 6 + len(ap_req) + len(priv), 0xFF80, len(ap_req)) + ap_req + priv


def parse_kpasswd_reply(data):
    """The kpasswd reply's KRB-ERROR or KRB-PRIV tag (RFC 3244: length, version 1, AP-REP length, AP-REP, then a
    KRB-PRIV, or a KRB-ERROR when the AP-REP is empty); ValueError if it is not one."""
    if len(data) < 6:
        raise ValueError("not a kpasswd reply (too short)")
    length, version, ap_rep_length = struct.unpack(">HHH", data[:6])
    if length != len(data) or version != 1 or 6 + ap_rep_length >= len(data):
        raise ValueError(f"not a kpasswd reply (length {length}, version {version})")
    tag = data[6 + ap_rep_length]
    if tag not in (0x7E, 0x75):
        raise ValueError(f"not a kpasswd reply (tag 0x{tag:02x})")
    return tag


def _kpasswd_probe(probe, host, transport, timeout):
    try:
        parse_kpasswd_reply(probe(host, KPASSWD_PORT, kpasswd_request(), transport, timeout))
        return None
    except (OSError, ValueError) as e:
        return f"{transport.upper()} {host}:{KPASSWD_PORT} ({e or e.__class__.__name__})"


def kdc_findings(kdcs, name, realm, clockskew, probe=probe_kdc, now=None, udp_needed=False, timeout=3.0):
    """Each KDC on TCP 88 (a real AS-REQ), UDP 88, and kpasswd on TCP and UDP 464 (a kpasswd request that changes
    nothing); the clock against the first KDC that answers. The probes after TCP 88 run side by side, so a
    silent port costs one timeout, not one each."""
    clock = now or (lambda: datetime.datetime.now(datetime.timezone.utc))
    open_ports = ("Open TCP and UDP 88 and 464 from this client to the domain controllers: their security group "
                  "accepts them from the directory VPC's CIDR only; from elsewhere add rules (or peer the VPC and "
                  "let the network role open it).")
    answered, silent, udp_silent, kpasswd_silent = [], [], [], []
    reply = None
    for host, port in kdcs:
        try:
            sent = clock()
            data = probe(host, port, as_req(name, realm, now=sent), "tcp", timeout)
            received = clock()
            parsed = parse_kdc_reply(data)
        except (OSError, ValueError) as e:
            silent.append(f"{host}:{port} ({e or e.__class__.__name__})")
            continue
        answered.append(f"{host}:{port}")
        if reply is None:
            reply = (parsed, sent + (received - sent) / 2)

        def udp_88(host=host, port=port):
            try:
                parse_kdc_reply(probe(host, port, as_req(name, realm), "udp", timeout))
                return None
            except (OSError, ValueError) as e:
                return f"{host}:{port} ({e or e.__class__.__name__})"

        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            udp = pool.submit(udp_88)
            kpasswd = [pool.submit(_kpasswd_probe, probe, host, transport, timeout) for transport in ("tcp", "udp")]
            if udp.result():
                udp_silent.append(udp.result())
            kpasswd_silent += [f.result() for f in kpasswd if f.result()]
    if not answered:
        return [finding("client", "kdc_reachable", FAIL,
                        f"No KDC of {realm} answers a Kerberos request on TCP: {', '.join(silent) or 'none listed'}.",
                        open_ports)]
    found = [finding("client", "kdc_reachable", OK if not silent else WARN,
                     f"{'The KDCs' if len(answered) > 1 else 'The KDC'} {', '.join(answered)} "
                     f"{'answer' if len(answered) > 1 else 'answers'} Kerberos on TCP"
                     + (f"; silent: {', '.join(silent)}" if silent else "") + ".",
                     open_ports if silent else "")]
    if udp_silent:
        found.append(finding("client", "kdc_udp", FAIL if udp_needed else WARN,
                             f"No answer on UDP 88 from {', '.join(udp_silent)}"
                             + ("" if udp_needed else " (this krb5.conf uses TCP: udp_preference_limit = 1)") + ".",
                             open_ports))
    else:
        found.append(finding("client", "kdc_udp", OK, "The KDCs answer on UDP 88 too."))
    if kpasswd_silent:
        found.append(finding("client", "kpasswd", WARN,
                             f"kpasswd (464) does not answer a password-change request on {', '.join(kpasswd_silent)} "
                             "(on UDP only an answer proves the port open: silence or an ICMP port unreachable count "
                             "as closed): a login works without it, but changing a password from this client, or "
                             "kinit with an expired one, fails.", open_ports))
    else:
        found.append(finding("client", "kpasswd", OK, "kpasswd answers on TCP and UDP 464."))
    parsed, local = reply
    if parsed["stime"] is None:
        found.append(finding("client", "clock", WARN,
                             "Not checked: the KDC answered without its time (the user needs no pre-authentication).",
                             "Keep the client on NTP."))
        return found
    skew = (local - parsed["stime"]).total_seconds()
    if abs(skew) > clockskew:
        direction = "ahead of" if skew > 0 else "behind"
        found.append(finding("client", "clock", FAIL,
                             f"This client's clock is {abs(skew):.0f} s {direction} the KDC's ({parsed['stime']:%H:%M:%S} "
                             f"UTC); Kerberos allows {clockskew} s (kinit: \"Clock skew too great\").",
                             "Synchronize the client's clock (chrony or systemd-timesyncd; on EC2 the Amazon Time Sync "
                             "Service at 169.254.169.123, which the domain controllers also follow)."))
    else:
        found.append(finding("client", "clock", OK, f"The clock is within {abs(skew):.0f} s of the KDC's (allowed "
                                                    f"{clockskew} s)."))
    code = parsed["error_code"]
    if code == 6:
        found.append(finding("client", "kdc_knows_user", FAIL,
                             f"The KDC does not know {name}@{realm} (KDC_ERR_C_PRINCIPAL_UNKNOWN).",
                             "Create the user (directory_users) or check the principal's spelling."))
    return found


# --- the client: kinit, kvno and the login -------------------------------------------------------

# MIT's messages (com_err tables krb5_err.et and kv5m_err.et) -> (check, what it means, fix)
KINIT_ERRORS = (
    ("not found in Kerberos database", "kinit",
     "the KDC does not know the user", "Create the user (directory_users) or check the principal's spelling."),
    ("Preauthentication failed", "kinit",
     "the password (or keytab) is wrong",
     "Give the user's current password as doctor_password (or a fresh keytab); too many tries lock the account."),
    ("Password incorrect", "kinit", "the password is wrong", "Give the user's current password as doctor_password."),
    ("Password has expired", "kinit",
     "the password has expired", "Set a new password (ds reset-user-password, or ad_user with update_password: always)."),
    ("credentials have been revoked", "kinit",
     "the account is disabled or locked out", "Enable or unlock the user in AD."),
    ("Clock skew too great", "kinit",
     "the client's clock is off", "Synchronize the client's clock with NTP."),
    ("Cannot find KDC", "kinit",
     "krb5.conf names no KDC for the realm", "Add the realm and its KDCs (the directory's DnsIpAddrs) to krb5.conf."),
    ("Cannot contact any KDC", "kinit",
     "no KDC answers", "Open TCP/UDP 88 and 464 to the domain controllers; check the kdc lines of krb5.conf."),
    ("KDC has no support for encryption type", "kinit",
     "the user has no key of an encryption type the client allows",
     "Give the user AES (supported_encryption_types: [aes128, aes256]) and set its password again."),
    ("Keytab contains no suitable keys", "kinit",
     "the keytab has no key for the principal", "Export a new keytab for the principal (ktpass, or ktutil)."),
)


def explain_kinit(stderr):
    text = (stderr or "").strip()
    for words, dummy, meaning, fix in KINIT_ERRORS:
        if words.lower() in text.lower():
            return meaning, fix
    return "kinit failed", "Read kinit's message above; run kinit by hand with KRB5_TRACE=/dev/stderr to see each step."


def kinit_finding(principal, returncode, stderr, how):
    if returncode == 0:
        return finding("client", "kinit", OK, f"kinit {principal} got a ticket ({how}).")
    meaning, fix = explain_kinit(stderr)
    return finding("client", "kinit", FAIL, f"kinit {principal} ({how}) failed: {meaning}: {(stderr or '').strip()}",
                   fix)


def kvno_finding(host, returncode, output, realm, endpoint=None):
    service = f"postgres/{host}"
    if returncode == 0:
        return finding("client", "service_ticket", OK, f"The KDC issues a ticket for {service} ({output.strip()}).")
    text = (output or "").strip()
    if "not found in Kerberos database" in text:
        other = (f" {host} is not the cluster endpoint {endpoint}: a CNAME or custom name has no service principal."
                 if endpoint and host.lower() != endpoint.lower() else "")
        fix = (f"Dial {endpoint} itself (and keep rdns = false, dns_canonicalize_hostname = false)."
               if other else "The cluster's membership makes the principal: check that the cluster is kerberos-enabled "
                             "in this directory (AWS link), then rejoin it with the same directory id if it is.")
        return finding("client", "service_ticket", FAIL,
                       f"No service principal {service} in {realm}: {text}.{other}", fix)
    return finding("client", "service_ticket", FAIL, f"kvno -S postgres {host} failed: {text}",
                   "Check the krb5.conf domain_realm entry and the network path to the KDCs.")


def login_finding(principal, host, database, error=None, row=None):
    if error is not None:
        text = (error or "").strip()
        fix = "Read the server's words above."
        if "GSSAPI authentication failed" in text:
            fix = ("The principal and the role must match exactly (Database link), and the server must hold the "
                   "keys of postgres/<endpoint>: a membership that was re-made since the ticket was issued needs a "
                   "new ticket (kdestroy, kinit).")
        elif "password authentication failed" in text or "no password supplied" in text:
            fix = "The role is not in rds_ad, so the server asks for a password: GRANT rds_ad to it."
        elif "pg_hba.conf rejects" in text:
            fix = "The role holds rds_iam: REVOKE rds_iam from it."
        return finding("client", "gssapi_login", FAIL, f"The login to {host} as {principal} failed: {text}", fix)
    if not row or not row[1]:
        return finding("client", "gssapi_login", FAIL,
                       f"Logged in to {host} as {principal}, but not over GSSAPI ({row}).",
                       "The role is not authenticated by Kerberos: GRANT rds_ad to it.")
    return finding("client", "gssapi_login", OK,
                   f"Logged in to {database} on {host} as {row[0]} over GSSAPI (principal {row[2]}).")


def resolve_finding(host, hostaddr=None, resolver=socket.getaddrinfo):
    if hostaddr:
        return finding("client", "endpoint_resolves", OK,
                       f"Connecting to hostaddr {hostaddr} for {host}: the name is used for Kerberos only, as libpq "
                       "does with hostaddr.")
    try:
        addresses = sorted({a[4][0] for a in resolver(host, None, proto=socket.IPPROTO_TCP)})
    except (OSError, UnicodeError) as e:
        return finding("client", "endpoint_resolves", FAIL, f"{host} does not resolve here: {e}.",
                       "Use the endpoint RDS gives, and a resolver that answers for it (in the VPC, the "
                       "Amazon-provided DNS, or a forwarder).")
    return finding("client", "endpoint_resolves", OK, f"{host} resolves to {', '.join(addresses)}.")


def private_ccache(directory):
    """A credential cache path in a private directory (the caller removes it)."""
    return "FILE:" + os.path.join(directory, "ccache")
