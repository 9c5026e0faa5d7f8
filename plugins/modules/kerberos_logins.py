#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kerberos_logins
short_description: Kerberos database logins (rds_ad) of AD users on Aurora PostgreSQL, the whole list in one task
version_added: 0.1.0
description:
  - Makes the database logins of AD users match a list, in one connection and one transaction, as
    AWS documents them for Aurora PostgreSQL with Kerberos authentication
    (C(CREATE ROLE "alice@CORP.EXAMPLE.COM" LOGIN), C(GRANT rds_ad TO "alice@CORP.EXAMPLE.COM")).
  - The difference is computed from the catalogs (C(pg_roles), C(pg_auth_members), C(pg_database),
    C(pg_shdepend)) before anything is written, so a converged list of thousands of logins costs
    four queries, and a refused run changes nothing.
  - The login is the lower-case AD logon name, C(@), and the upper-case realm. With the cluster
    parameter C(krb_caseins_users) on, an existing login that differs only in case is the same login.
  - Refuses, naming each offender, when a login would hold both C(rds_ad) and C(rds_iam), directly
    or through nested roles; O(migrate_from_iam=true) revokes a direct C(rds_iam).
  - Refuses to drop a login that owns objects or holds privileges unless O(reassign_owned_to) is
    given (then C(REASSIGN OWNED), C(DROP OWNED), C(DROP ROLE)).
  - >-
    Every role and database name is quoted by the driver. Logon names that AD cannot hold
    (C(" / \ [ ] : ; | = , + * ? < >), control characters) and logins over 63 bytes (PostgreSQL
    would truncate them) are refused before the module connects.
author:
  - aurora.kerberos contributors (!UNKNOWN)
requirements:
  - psycopg2 (or psycopg2-binary) on the host that runs the module
  - boto3 and botocore, for O(master_user_secret)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - community.postgresql.postgres
  - amazon.aws.common.modules
  - amazon.aws.region.modules
attributes:
  check_mode:
    support: full
    details: Reads the catalogs and reports what would change; executes nothing.
  diff_mode:
    support: full
    details: For each login that changes, its direct role memberships and CONNECT grants before and after.
  platform:
    platforms: posix
options:
  logins:
    description:
      - The AD users who have (or must not have) a Kerberos login.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The AD logon name (C(sAMAccountName)) without C(@REALM), for example V(alice).
          - Upper-case letters are lowered; two entries that are the same login are refused.
        type: str
        required: true
      realm:
        description:
          - The user's Kerberos realm, for a user of a forest the directory trusts, for example
            V(ONPREM.EXAMPLE.ORG) (the login is then C(joe@ONPREM.EXAMPLE.ORG)). Defaults to O(realm).
          - A realm other than O(realm) must be in O(trusted_realms) or be the remote domain of one of the
            trusts of O(directory_id); otherwise the task is refused before it connects. A login dropped
            (V(absent)) may be of any realm, so that the logins of a forest no longer trusted can be removed.
        type: str
      state:
        description:
          - V(present) creates the login with C(LOGIN) and grants it C(rds_ad); V(absent) drops it.
          - Defaults to O(state).
        type: str
        choices: [present, absent]
      roles:
        description:
          - The roles the login is a direct member of, besides C(rds_ad). Missing ones are granted and
            others are revoked, so an empty list revokes all of them.
          - Omit to leave the login's memberships alone. The roles must exist.
        type: list
        elements: str
      databases:
        description:
          - The databases on which the login holds an explicit C(CONNECT) grant. Missing grants are made
            and others revoked; omit to leave them alone.
          - The connecting user must own each database or hold C(CONNECT WITH GRANT OPTION) on it.
        type: list
        elements: str
  logins_file:
    description:
      - A JSON file on the host that runs the module that holds a list of entries in the shape of O(logins),
        checked as O(logins) is.
        The list of logins, instead of O(logins).
      - For thousands of logins. Ansible templates, checks and hands over an argument of 10,000 entries in about
        half a second before the module starts; a file costs the module a read (C(make bench), P1).
    type: path
  state:
    description:
      - The state of every entry of O(logins) that does not give its own.
    type: str
    choices: [present, absent]
    default: present
  realm:
    description:
      - The Kerberos realm of the directory, for example V(CORP.EXAMPLE.COM). Lower case is raised.
    type: str
    required: true
  trusted_realms:
    description:
      - The realms of the forests the directory trusts, whose users O(logins) may name with their own
        C(realm), for example V([ONPREM.EXAMPLE.ORG]). Lower case is raised.
    type: list
    elements: str
    default: []
  directory_id:
    description:
      - The directory whose trusts (DescribeTrusts) give the trusted realms, besides O(trusted_realms). Each
        trust that is not C(Failed), C(Deleting) or C(Deleted) adds its remote domain, in upper case.
      - Read with the AWS credentials and region of the task, only when a login names a realm other than
        O(realm).
    type: str
  exclusive:
    description:
      - Whether to drop every other Kerberos login of O(realm), that is every direct member of
        C(rds_ad) named C(<name>@<realm>) that O(logins) does not list as present.
      - The same holds for each realm of O(trusted_realms) (and of the trusts of O(directory_id) when they are
        read), so that the list is the whole truth for every realm the task knows.
      - The master user is never dropped. The same ownership rules as for V(absent) apply.
    type: bool
    default: false
  reassign_owned_to:
    description:
      - The role that takes over what a dropped login owns (C(REASSIGN OWNED BY <login> TO <role>),
        then C(DROP OWNED BY <login>)), in the database of O(login_db).
      - Without it, a login that owns objects or holds privileges is not dropped and the task fails,
        naming it, before any change.
    type: str
  migrate_from_iam:
    description:
      - Whether to revoke C(rds_iam) from a listed login that holds it directly, instead of refusing.
      - A C(rds_iam) reached through another role is always refused, with the chain of roles.
    type: bool
    default: false
  group_logins:
    description:
      - Logins synced from AD groups, for example from the members that
        M(aurora.kerberos.ad_group_members_info) returns. Each member of each group gets a login, as in
        O(logins), with the union of the roles and databases of every group it is in.
      - Each synced login is also a direct member of a marker role named C(aurora_kerberos_group_) and the
        group's lower-case name (C(NOLOGIN), no privileges; created when missing). The marker is how the
        module knows which logins the sync owns. Every login that is a member of a marker role and no
        longer a member of a listed group is dropped, with the same ownership rules as for V(absent)
        (O(reassign_owned_to)).
      - Logins without a marker role are never dropped by the sync. A group member whose login exists
        without a marker (made by hand), or that O(logins) also lists, is refused, naming both.
      - Omit to leave synced logins alone; an empty list drops every synced login.
    type: list
    elements: dict
    suboptions:
      ad_group:
        description: The AD group's C(sAMAccountName), which names its marker role.
        type: str
        required: true
      members:
        description:
          - The C(sAMAccountName) of every enabled user of the group, nested groups expanded.
          - Defaults to the group's entry in O(group_members); one of them is required.
        type: list
        elements: str
      roles:
        description: The roles every member's login is a direct member of, besides C(rds_ad) and the marker.
        type: list
        elements: str
        default: []
      databases:
        description: The databases on which every member's login holds an explicit C(CONNECT) grant.
        type: list
        elements: str
        default: []
  group_members:
    description:
      - The members of each group by group name, as M(aurora.kerberos.ad_group_members_info) returns them
        (RV(aurora.kerberos.ad_group_members_info#module:members_by_group)), for the entries of O(group_logins)
        without C(members).
    type: dict
    default: {}
  login_db:
    description:
      - The database to connect to. Roles are cluster-wide; ownership is reassigned only here.
    type: str
    default: postgres
  ssl_mode:
    description:
      - libpq C(sslmode). Aurora always offers TLS; keep V(verify-full) with O(ca_cert) pointing at the
        RDS CA bundle (C(global-bundle.pem)) and O(login_host) the cluster endpoint.
    type: str
    default: verify-full
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  master_user_secret:
    description:
      - ARN or name of the Secrets Manager secret that holds the master user's C(username) and
        C(password), as RDS keeps it for a cluster with C(ManageMasterUserPassword)
        (C(MasterUserSecret.SecretArn)). Both override O(login_user) and O(login_password).
      - Read with the AWS credentials and region of the task; never returned.
    type: str
notes:
  - All statements run in one transaction; any error rolls all of them back.
  - C(REASSIGN OWNED) and C(DROP OWNED) act on one database (and on shared objects). A login with
    objects in another database is refused; run the task once per database with O(login_db).
  - The master user is granted a dropped login (and O(reassign_owned_to)) inside the transaction,
    because PostgreSQL requires their privileges to reassign; the grant of O(reassign_owned_to)
    is revoked again before the commit.
seealso:
  - module: aurora.kerberos.ad_group_mappings
  - module: community.postgresql.postgresql_user
"""

EXAMPLES = r"""
- name: Logins for the analysts, read access through a role, on the reports database
  aurora.kerberos.kerberos_logins:
    login_host: mydb.cluster-abc123.eu-west-1.rds.amazonaws.com
    ca_cert: /etc/pki/rds/global-bundle.pem
    master_user_secret: "{{ cluster.master_user_secret.secret_arn }}"
    region: eu-west-1
    realm: CORP.EXAMPLE.COM
    logins:
      - name: alice
        roles: [reports_read]
        databases: [reports]
      - name: bob
      - name: carol
        state: absent
    reassign_owned_to: reports_owner

- name: Exactly these Kerberos logins, moving users off IAM authentication
  aurora.kerberos.kerberos_logins:
    login_host: "{{ endpoint }}"
    login_user: postgres
    login_password: "{{ master_password }}"
    ca_cert: /etc/pki/rds/global-bundle.pem
    realm: CORP.EXAMPLE.COM
    logins: "{{ ad_users | map('community.general.dict_kv', 'name') }}"
    exclusive: true
    migrate_from_iam: true

- name: A login for a user of the trusted on-premises forest, next to the directory's own users
  aurora.kerberos.kerberos_logins:
    login_host: "{{ endpoint }}"
    master_user_secret: "{{ master_secret_arn }}"
    ca_cert: /etc/pki/rds/global-bundle.pem
    region: eu-west-1
    realm: CORP.EXAMPLE.COM
    directory_id: d-1234567890  # its trusts (DescribeTrusts) say which other realms may log in
    logins:
      - name: alice
      - name: joe
        realm: ONPREM.EXAMPLE.ORG

- name: Logins for exactly the enabled members of AD group dba, nested groups included
  aurora.kerberos.kerberos_logins:
    login_host: "{{ endpoint }}"
    login_user: postgres
    login_password: "{{ master_password }}"
    ca_cert: /etc/pki/rds/global-bundle.pem
    realm: CORP.EXAMPLE.COM
    group_logins:
      - ad_group: dba
        roles: [rds_superuser]
        databases: [reports]
    group_members: "{{ dba.members_by_group }}"
    reassign_owned_to: reports_owner
"""

RETURN = r"""
logins:
  description: The logins that are present after the task, as PostgreSQL names them.
  returned: always
  type: list
  elements: str
  sample: ["alice@CORP.EXAMPLE.COM", "bob@CORP.EXAMPLE.COM"]
created:
  description: Logins created (or that check mode would create).
  returned: always
  type: list
  elements: str
  sample: ["bob@CORP.EXAMPLE.COM"]
dropped:
  description: Logins dropped (or that check mode would drop).
  returned: always
  type: list
  elements: str
  sample: ["carol@CORP.EXAMPLE.COM"]
granted:
  description: Role memberships (C(role)) and database CONNECT grants (C(database)) given to logins.
  returned: always
  type: list
  elements: dict
  sample: [{"role": "rds_ad", "login": "bob@CORP.EXAMPLE.COM"}, {"database": "reports", "login": "alice@CORP.EXAMPLE.COM"}]
revoked:
  description: Role memberships and CONNECT grants taken from logins, C(rds_iam) included.
  returned: always
  type: list
  elements: dict
  sample: [{"role": "rds_iam", "login": "alice@CORP.EXAMPLE.COM"}]
queries:
  description: The statements executed, or that check mode would execute, in order.
  returned: always
  type: list
  elements: str
  sample: ['CREATE ROLE "bob@CORP.EXAMPLE.COM" LOGIN', 'GRANT "rds_ad" TO "bob@CORP.EXAMPLE.COM"']
group_logins:
  description: For each AD group of O(group_logins), the logins of its members after the task.
  returned: always
  type: dict
  sample: {"dba": ["alice@CORP.EXAMPLE.COM", "bob@CORP.EXAMPLE.COM"]}
krb_caseins_users:
  description: Whether the server compares Kerberos names without case (C(krb_caseins_users)).
  returned: always
  type: bool
  sample: false
"""

import json

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils import logins as lg
from ansible_collections.aurora.kerberos.plugins.module_utils import pg
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule


# A trust in these states gives no path for tickets (ds model, TrustState).
DEAD_TRUST_STATES = ("Failed", "Deleting", "Deleted")


def known_realms(module, realm):
    """Every realm the task may make logins in: the directory's, trusted_realms and, when a login needs one that
    is not among them, the remote domains of the directory's trusts. None when nothing says what it trusts."""
    params = module.params
    trusted = [lg.validate_realm(value) for value in params["trusted_realms"]]
    # Only the logins made need a trusted realm (a dropped one may be of a forest no longer trusted).
    others = set(str(entry.get("realm") or realm).upper() for entry in params["logins"]
                 if (entry.get("state") or params["state"]) == "present") - {realm}
    if params["directory_id"] and others - set(trusted):
        try:
            trusts = ds.describe_trusts(module.client("ds"), params["directory_id"])
        except ds.AnsibleDSError as e:
            module.fail_json(msg=f"Cannot read the trusts of directory {params['directory_id']} (directory_id), which "
                                 f"say the realms its logins may name: {e}")
        trusted.extend(t["RemoteDomainName"].upper() for t in trusts if t.get("TrustState") not in DEAD_TRUST_STATES)
    if not trusted and not params["directory_id"]:
        return None
    return sorted(set([realm] + trusted))


LOGIN_OPTIONS = dict(
    name=dict(type="str", required=True),
    realm=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"]),
    roles=dict(type="list", elements="str"),
    databases=dict(type="list", elements="str"),
)


def read_logins_file(path):
    """The entries of a logins_file, checked by Ansible's own validator against the suboptions of logins; raises
    LoginsError naming the file and what is wrong."""
    try:
        with open(path, encoding="utf-8") as stream:
            entries = json.load(stream)
    except (OSError, ValueError) as e:
        raise lg.LoginsError(f"logins_file {path} cannot be read as a JSON list of logins: {e}") from e
    if not isinstance(entries, list):
        raise lg.LoginsError(f"logins_file {path} must hold a list of logins, each a dict with at least name "
                             f"(it holds a {type(entries).__name__})")
    spec = {"logins": dict(type="list", elements="dict", options=LOGIN_OPTIONS)}
    checked = ArgumentSpecValidator(spec).validate({"logins": entries})
    if checked.error_messages:
        raise lg.LoginsError(f"logins_file {path}: {'; '.join(checked.error_messages)}")
    return checked.validated_parameters["logins"]


def main():
    argument_spec = pg.argument_spec()
    argument_spec.update(
        logins=dict(type="list", elements="dict", default=[], options=LOGIN_OPTIONS),
        logins_file=dict(type="path"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        realm=dict(type="str", required=True),
        trusted_realms=dict(type="list", elements="str", default=[]),
        directory_id=dict(type="str"),
        exclusive=dict(type="bool", default=False),
        reassign_owned_to=dict(type="str"),
        migrate_from_iam=dict(type="bool", default=False),
        group_logins=dict(type="list", elements="dict", options=dict(
            ad_group=dict(type="str", required=True),
            members=dict(type="list", elements="str"),
            roles=dict(type="list", elements="str", default=[]),
            databases=dict(type="list", elements="str", default=[]),
        )),
        group_members=dict(type="dict", default={}),
    )
    module = AuroraKerberosAWSModule(argument_spec=argument_spec, supports_check_mode=True, check_boto3=False)
    params = module.params
    try:
        if params["logins_file"]:
            if params["logins"]:
                raise lg.LoginsError("logins and logins_file both give logins: give the list in one of them")
            params["logins"] = read_logins_file(params["logins_file"])
        realm = lg.validate_realm(params["realm"])
        realms = known_realms(module, realm)
        # A refused entry is named by where the user wrote it: logins[3], or the file and its index.
        wanted = lg.validate_logins(params["logins"], realm, params["state"], realms=realms,
                                    option=params["logins_file"] or "logins")
        sync = params["group_logins"] is not None
        synced, markers = lg.validate_group_logins(params["group_logins"] or [], realm, params["group_members"])
        if params["reassign_owned_to"] is not None:
            problem = lg.validate_object_name(params["reassign_owned_to"], "reassign_owned_to")
            if problem:
                raise lg.LoginsError(problem)
    except lg.LoginsError as e:
        module.fail_json(msg=str(e))

    def planner(cursor):
        catalog = lg.read_catalog(cursor)
        creates, sync_drops = [], []
        if sync:
            entries, creates, sync_drops = lg.plan_group_sync(synced, markers, wanted, catalog)
            wanted.extend(entries)
            for marker in creates:  # made ahead of the grants, in the same transaction
                catalog.roles[marker] = {"oid": None, "login": False}
        drops = lg.drop_candidates(wanted, catalog, sorted(realms or [realm]), params["exclusive"])
        drops.extend(login for login in sync_drops if login not in drops)
        dependencies = lg.read_dependencies(cursor, catalog, drops)
        plan = lg.plan_logins(wanted, catalog, realm, drops, dependencies, reassign_owned_to=params["reassign_owned_to"],
                              migrate_from_iam=params["migrate_from_iam"])
        return lg.add_marker_roles(plan, creates), catalog

    plan, catalog, queries = pg.transact(module, planner)
    members_of = {}
    for item in wanted:
        for group in item.get("groups", ()):
            members_of.setdefault(group, []).append(item["login"])
    result = dict(
        changed=plan.changed,
        logins=sorted(item["login"] for item in wanted if item["state"] == "present"),
        created=plan.created,
        dropped=plan.dropped,
        granted=plan.granted,
        revoked=plan.revoked,
        queries=queries,
        krb_caseins_users=catalog.caseins,
        group_logins=dict((group, sorted(members_of.get(group, []))) for group in markers),
    )
    if module._diff:
        result["diff"] = dict(before={"logins": plan.before}, after={"logins": plan.after})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
