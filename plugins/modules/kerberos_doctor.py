#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kerberos_doctor
short_description: Why can't a user log in to Aurora PostgreSQL with Kerberos? The AWS, AD and database links
version_added: 0.2.0
description:
  - Walks the server side of a Kerberos login, link by link, and stops at the first broken one. It only reads.
  - B(AWS) - the directory is C(Active) (C(directory)); the cluster is a C(kerberos-enabled) member of it
    (C(cluster_membership)); the name the client dials is the cluster, reader or an instance endpoint, not a custom
    endpoint (C(endpoint)); every instance behind it is C(kerberos-enabled) (C(instance_membership)); the DB security
    group accepts the DB port from the directory's group (C(db_security_group_ingress)), the directory's group may send
    to it (C(directory_security_group_egress)), and the domain controllers' group accepts TCP 53, 88, 464 and 389 from
    the DB (C(directory_controllers_ingress)).
  - B(AD), over LDAPS (O(backend=ldap)) or the Directory Service Data API (O(backend=ds_data)) - the user exists
    (C(user_exists)), is enabled (C(user_enabled)), has a password (C(password)), is not locked out (C(not_locked_out)),
    its password has not expired (C(password_not_expired)), the account has not expired (C(account_not_expired)),
    it has AES (C(aes_keys)), and how AD spells its logon name (C(name_case)). Over ds-data lockout and expiry are not
    readable and are left to kinit.
  - B(Database), as the master user, read-only - a role named exactly as the principal, or matching it under
    C(krb_caseins_users) (C(login_role)); with LOGIN (C(can_login)); in C(rds_ad), directly or nested (C(rds_ad)); not
    in C(rds_iam) (C(no_rds_iam)); with CONNECT on O(database) (C(connect)).
  - B(An AD group), when one is meant - with O(group), the group exists (C(group_exists)) and the user is in it,
    directly or nested (C(group_member)), a C(pg_ad_mapping) entry covers its SID (C(ad_group_mapping)), and the role
    it maps to has LOGIN and CONNECT and is not in C(rds_ad) (C(mapped_role)). Without O(group), for a user with no
    login role of their own, the same is checked for the user's groups (over LDAPS, read from the user's
    C(tokenGroups)); the mapping with the highest weight wins.
  - The client side (krb5.conf, the KDCs, the clock, kinit, the service ticket and the login) is
    M(aurora.kerberos.kerberos_doctor_client), which takes RV(client) as its input.
  - The first broken link fails the task with the link, the evidence and the fix. Warnings do not stop the walk.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  principal:
    description: The user who cannot log in, as they kinit, for example V(alice@CORP.EXAMPLE.COM).
    type: str
    required: true
  cluster_id:
    description: The Aurora DB cluster the user logs in to.
    type: str
    required: true
  directory_id:
    description: The directory the cluster should be a member of. Without it, the directory named O(directory_name).
    type: str
  directory_name:
    description: The directory's DNS name, for example V(corp.example.com), to find it by name as the directory role does.
    type: str
  directory_vpc_id:
    description: With O(directory_name), the directory's VPC.
    type: str
  iam_role_name:
    description: The IAM role the cluster joins with; only named in fixes.
    type: str
  endpoint:
    description: The host name the client dials. Default the cluster endpoint.
    type: str
  hostaddr:
    description: An IP address to connect to instead of resolving O(endpoint) (libpq's C(hostaddr)).
    type: str
  database:
    description: The database the user connects to.
    type: str
    default: postgres
  group:
    description:
      - An AD group through which the user should log in (its C(pg_ad_mapping) entry), by its logon name
        (sAMAccountName), for example V(db-readers).
    type: str
  backend:
    description: How the directory is read, as the directory role manages its users.
    type: str
    choices: [ldap, ds_data]
    default: ldap
  ldap_server:
    description: With O(backend=ldap), the domain controller. Default the directory's first DNS address.
    type: str
  ldap_port:
    description: The LDAPS port.
    type: int
    default: 636
  ldap_ca_file:
    description: The CA that signed the domain controller's LDAPS certificate.
    type: path
  ldap_server_name:
    description: The name in the domain controller's certificate, when O(ldap_server) is an IP address.
    type: str
  validate_certs:
    description: Whether to verify the LDAPS certificate.
    type: bool
    default: true
  bind_user:
    description: The account that reads the directory over LDAPS.
    type: str
    default: Admin
  bind_password:
    description: Its password.
    type: str
  login_user:
    description: The cluster's master user.
    type: str
    default: postgres
  login_password:
    description: The master user's password. Or O(master_user_secret).
    type: str
    default: ''
  master_user_secret:
    description: The ARN or name of the Secrets Manager secret RDS keeps the master credentials in.
    type: str
  login_db:
    description: The database the master user connects to.
    type: str
    default: postgres
  login_port:
    description: The cluster's port. Default the cluster's, else 5432.
    type: int
  ssl_mode:
    description: The master connection's sslmode.
    type: str
    default: verify-full
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description: The RDS CA bundle, for O(ssl_mode=verify-full).
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    description: The module only reads; it runs the same in check mode.
    support: full
  diff_mode:
    description: The module changes nothing.
    support: none
  platform:
    platforms: all
notes:
  - Nothing is written to AWS, the directory or the database. Passwords are never returned.
seealso:
  - module: aurora.kerberos.kerberos_doctor_client
  - module: aurora.kerberos.kerberos_preflight
"""

EXAMPLES = r"""
- name: Why can't alice log in? The AWS, AD and database links
  aurora.kerberos.kerberos_doctor:
    principal: alice@CORP.EXAMPLE.COM
    cluster_id: orders
    directory_id: d-1234567890
    ldap_ca_file: /etc/pki/corp-ca.pem
    ldap_server_name: dc1.corp.example.com
    bind_password: "{{ directory_admin_password }}"
    login_password: "{{ db_users_master_password }}"
    ca_cert: /etc/pki/rds/global-bundle.pem
  register: doctor
"""

RETURN = r"""
links:
  description: Every finding, in the order checked, up to and including the first broken one.
  returned: always
  type: list
  elements: dict
  contains:
    link:
      description: V(input), V(aws), V(ad) or V(database).
      type: str
    check:
      description: What was checked, for example V(cluster_membership) or V(rds_ad).
      type: str
    status:
      description: V(ok), V(warn) or V(fail).
      type: str
    evidence:
      description: What was found.
      type: str
    fix:
      description: What to do (empty when nothing).
      type: str
broken:
  description: The first broken finding (on failure only).
  returned: failure
  type: dict
client:
  description: What the client checks need, for M(aurora.kerberos.kerberos_doctor_client).
  returned: success
  type: dict
  contains:
    principal:
      description: The principal.
      type: str
    realm:
      description: The directory's realm.
      type: str
    kdcs:
      description: The directory's DNS addresses (its domain controllers).
      type: list
      elements: str
    endpoint:
      description: The name the client dials.
      type: str
    cluster_endpoint:
      description: The cluster endpoint RDS gives.
      type: str
    port:
      description: The cluster's port.
      type: int
    database:
      description: The database.
      type: str
"""

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_security_groups
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_subnets
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.community.postgresql.plugins.module_utils.postgres import connect_to_db
from ansible_collections.community.postgresql.plugins.module_utils.postgres import ensure_required_libs
from ansible_collections.community.postgresql.plugins.module_utils.postgres import get_conn_params

from ansible_collections.aurora.kerberos.plugins.module_utils import doctor
from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils import logins
from ansible_collections.aurora.kerberos.plugins.module_utils import pg
from ansible_collections.aurora.kerberos.plugins.module_utils import preflight
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_ARGUMENT_SPEC
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import ldap_connection
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import HAS_LDAP3
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import AdLdapError
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LdapGroupDirectory
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LdapUserDirectory
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import base_dn_from_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule

try:
    from ldap3 import BASE
    from ldap3.protocol.formatters.formatters import format_sid
except ImportError:
    BASE = format_sid = None  # HAS_LDAP3 says so


def aws_link(module, walk, clients):
    p = module.params
    ds_client, rds, ec2 = clients("ds"), clients("rds"), clients("ec2")
    item, directory = doctor.find_directory(ds, ds_client, p["directory_id"], p["directory_name"], p["directory_vpc_id"])
    walk.add(item)
    realm = directory["Name"].upper()
    walk.add(*doctor.principal_findings(p["principal"], realm))
    cluster = rds_domain.get_cluster(rds, p["cluster_id"])
    if cluster is None:
        walk.add(doctor.finding("aws", "cluster", doctor.FAIL,
                                f"DB cluster {p['cluster_id']} does not exist in this account and Region.",
                                "Give cluster_id of the cluster the user logs in to (and check the AWS Region)."))
    instances = rds_domain.get_cluster_instances(rds, p["cluster_id"])
    endpoint = p["endpoint"] or cluster.get("Endpoint")
    membership = rds_domain.active_membership(cluster) or {}
    events = []
    if membership.get("Status") in rds_domain.STATUSES_FAILED:
        events = [e.get("Message", "") for e in rds_domain.describe_cluster_events(rds, p["cluster_id"])][-3:]
    walk.add(*doctor.membership_findings(cluster, instances, directory["DirectoryId"], endpoint, p["iam_role_name"],
                                         events))
    target = preflight.target_from_cluster(rds, cluster, instances)
    port = p["login_port"] or target["port"]
    walk.add(*doctor.security_group_findings(ec2, describe_security_groups, directory, target["security_group_ids"],
                                             port, db_subnet_cidrs(rds, ec2, cluster), target["vpc_id"]))
    return directory, cluster, endpoint, port


def db_subnet_cidrs(rds, ec2, cluster):
    """The CIDRs of the cluster's DB subnet group, where the DB's addresses come from."""
    name = cluster.get("DBSubnetGroup")
    group = rds_domain.get_subnet_group(rds, name) if name else None
    ids = [s["SubnetIdentifier"] for s in (group or {}).get("Subnets") or []]
    if not ids:
        return []
    return sorted(s["CidrBlock"] for s in describe_subnets(ec2, SubnetIds=ids) if s.get("CidrBlock"))


def ad_link(module, walk, directory, name, realm):
    p = module.params
    if p["backend"] == "ds_data":
        from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import AnsibleDSDataError
        from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import open_directory_data
        try:
            data, dummy, readable = open_directory_data(module, directory["DirectoryId"], False)
            user = data.describe_user(name)
        except AnsibleDSDataError as e:
            walk.add(doctor.finding("ad", "directory_readable", doctor.FAIL,
                                    f"The directory's users cannot be read over ds-data: {e.message}",
                                    "Enable directory data access (directory_data_access: true), or use the ldap "
                                    "backend (directory_users_backend)."))
        walk.add(*doctor.ad_findings(user, name, realm, None, "ds-data"))
        if not p["group"]:
            return {}, None
        group = data.describe_group(p["group"])
        walk.add(*doctor.ad_group_findings(group, p["group"], user["name"]))
        return {group["sid"]: group["name"]}, group["sid"]
    if not HAS_LDAP3:
        walk.add(doctor.finding("ad", "directory_readable", doctor.FAIL, "The Python library ldap3 is missing here.",
                                "pip install ldap3 where the doctor runs (requirements.txt)."))
    params = dict(p, ldap_server=p["ldap_server"] or (directory.get("DnsIpAddrs") or [None])[0])
    try:
        conn = ldap_connection(params, realm)
    except AdLdapError as e:
        walk.add(doctor.finding("ad", "directory_readable", doctor.FAIL, f"The directory cannot be read: {e}",
                                "Give the directory role's LDAPS settings (directory_ldap_*, directory_admin_password)."))
    base_dn = base_dn_from_domain(directory["Name"])
    users = LdapUserDirectory(conn, base_dn)
    group, token_sids = None, []
    try:
        user = users.find_user(name)
        state = None
        if user is not None:
            # tokenGroups: the SIDs of every group the user is in, nested ones included, as the DC puts them in a
            # ticket's PAC (and pg_ad_mapping matches them).
            conn.search(user["dn"], "(objectClass=*)", BASE, attributes=doctor.LDAP_STATE_ATTRIBUTES + ["tokenGroups"])
            raw = (conn.response or [{}])[0].get("raw_attributes") or {}
            state = {k: int(raw[k][0]) if raw.get(k) else None for k in doctor.LDAP_STATE_ATTRIBUTES}
            token_sids = [format_sid(value) for value in raw.get("tokenGroups") or []]
            if p["group"]:
                group = LdapGroupDirectory(conn, base_dn).find_group(p["group"])
    except AdLdapError as e:
        walk.add(doctor.finding("ad", "directory_readable", doctor.FAIL, str(e), "See the message."))
    finally:
        users.close()
    walk.add(*doctor.ad_findings(user, name, realm, state))
    if not p["group"]:
        return {sid: sid for sid in token_sids}, None
    walk.add(*doctor.ad_group_findings(group, p["group"], user["name"], token_sids))
    # All the user's groups: another group's mapping of a higher weight would win over the one meant.
    return dict({sid: sid for sid in token_sids}, **{group["sid"]: group["name"]}), group["sid"]


def database_link(module, walk, endpoint, port, database, groups, meant_sid):
    p = module.params
    ensure_required_libs(module)
    user, password = pg.master_credentials(module)
    connect_params = {"hostaddr": p["hostaddr"]} if p["hostaddr"] else {}
    params = dict(login_host=endpoint, login_user=user, login_password=password, login_port=port,
                  ssl_mode=p["ssl_mode"], ca_cert=p["ca_cert"], login_db=p["login_db"], connect_params=connect_params)
    conn_params = get_conn_params(module, params, warn_db_default=False)
    conn_params.setdefault("connect_timeout", pg.CONNECT_TIMEOUT)
    conn, error = connect_to_db(pg._Quiet(module), conn_params, autocommit=False, fail_on_conn=False)
    if conn is None:
        message = to_native(error or "no answer").strip()
        if password:
            message = message.replace(password, "********")
        walk.add(doctor.finding("database", "master_connection", doctor.FAIL,
                                f"Cannot read the cluster's roles: connecting to {endpoint}:{port} as {user} with "
                                f"sslmode={p['ssl_mode']} failed: {message}",
                                "Give the master user's credentials (db_users_master_password or the cluster's "
                                "secret) and a path to the DB port from here."))
    try:
        cursor = conn.cursor()
        catalog, exists, can_connect = doctor.read_database(cursor, p["principal"], database)
        try:
            own_role = catalog.find(p["principal"])
        except logins.LoginsError:
            own_role = True  # database_findings names the clash
        mappings, connectable = (doctor.read_mappings(cursor, database) if groups and (meant_sid or not own_role)
                                 else (None, {}))
    finally:
        conn.rollback()
        conn.close()
    if own_role:
        walk.add(*doctor.database_findings(catalog, p["principal"], database, exists, can_connect))
        if meant_sid:
            walk.add(*doctor.mapping_findings(mappings, groups, catalog, database, connectable, meant_sid))
        return
    # No login role of its own: a mapping of the group meant, or of one of the user's groups, is the only way in.
    mapped = doctor.mapping_findings(mappings, groups, catalog, database, connectable, meant_sid)
    walk.add(*(mapped or doctor.database_findings(catalog, p["principal"], database, exists, can_connect)))


def main():
    argument_spec = dict(
        principal=dict(type="str", required=True),
        cluster_id=dict(type="str", required=True),
        directory_id=dict(type="str"),
        directory_name=dict(type="str"),
        directory_vpc_id=dict(type="str"),
        iam_role_name=dict(type="str"),
        endpoint=dict(type="str"),
        hostaddr=dict(type="str"),
        database=dict(type="str", default="postgres"),
        group=dict(type="str"),
        login_user=dict(type="str", default="postgres"),
        login_password=dict(type="str", default="", no_log=True),
        master_user_secret=dict(type="str", no_log=False),
        login_db=dict(type="str", default="postgres"),
        login_port=dict(type="int"),
        ssl_mode=dict(type="str", default="verify-full",
                      choices=["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]),
        ca_cert=dict(type="str"),
    )
    # How the directory is reached, as ad_user and ad_group reach it.
    argument_spec.update((key, DIRECTORY_ARGUMENT_SPEC[key]) for key in (
        "backend", "ldap_server", "ldap_port", "ldap_ca_file", "ldap_server_name", "validate_certs", "bind_user",
        "bind_password"))
    module = AuroraKerberosAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                                     required_if=[("backend", "ldap", ("bind_password",))])
    p = module.params
    try:
        name, dummy = doctor.parse_principal(p["principal"])
    except ValueError as e:
        module.fail_json(msg=str(e))
    problems = rds_domain.input_problems(cluster_id=p["cluster_id"], directory_id=p["directory_id"])
    if not p["directory_id"] and not p["directory_name"]:
        problems.append("give directory_id or directory_name (the directory role's variables)")
    if problems:
        module.fail_json(msg="; ".join(problems))

    clients = preflight.module_clients(module)
    walk = doctor.Walk()
    try:
        directory, cluster, endpoint, port = aws_link(module, walk, clients)
        realm = directory["Name"].upper()
        groups, meant_sid = ad_link(module, walk, directory, name, realm)
        database_link(module, walk, endpoint, port, p["database"], groups, meant_sid)
    except doctor.Broken as e:
        module.fail_json(msg=doctor.broken_message(e.finding), broken=e.finding, links=walk.findings)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    module.exit_json(changed=False, links=walk.findings, client=dict(
        principal=p["principal"], realm=realm, kdcs=directory.get("DnsIpAddrs") or [], endpoint=endpoint,
        cluster_endpoint=cluster.get("Endpoint"), port=port, database=p["database"]))


if __name__ == "__main__":
    main()
