#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ad_users
short_description: Many Active Directory users and groups in one task, at the directory's rate
version_added: 0.1.0
description:
  - >-
    Makes a list of AD users and a list of AD groups what they should be, in one task, with the rules
    of M(aurora.kerberos.ad_user) and M(aurora.kerberos.ad_group) for each of them: the same options
    per entry, the same changes, warnings, check mode and diff. Users are done first, so groups can
    name them as members.
  - With O(backend=ldap), one LDAPS connection serves the whole list and the users are read in a few
    searches (200 names a search), not one search each.
  - >-
    With O(backend=ds_data), C(ListUsers) says which users exist; existing users are read and changed
    one by one as M(aurora.kerberos.ad_user) does. New users are made in two passes, every
    C(CreateUser) first, then each password (Directory Service C(ResetUserPassword), which also enables
    the user) and C(DisableUser): ds and ds-data show a new user only after a short delay, and a call
    that is too early goes to the back of the queue instead of holding up the others (at most
    O(consistency_timeout) seconds a user). Every write carries a C(ClientToken) (kept across its
    retries); up to four are in flight at a time, and each starts one interval after the one before at
    the directory's write rate, Standard edition 4 and Enterprise 8 a second (a C(ResetUserPassword)
    counts as one; see the notes), so a long list runs at that rate without provoking
    C(ThrottlingException), which is still retried with backoff.
  - New users made through ds-data are returned as made (C(CN=<name>) in the users OU, C(<name>@<REALM>)
    and the SID that C(CreateUser) answered), not read back.
  - A user or group that cannot be changed fails the task, naming it; the ones before it are done.
author:
  - aurora.kerberos contributors (!UNKNOWN)
requirements:
  - ldap3 >= 2.9 on the host that runs the module, for O(backend=ldap)
  - boto3 and botocore, for O(backend=ds_data)
extends_documentation_fragment:
  - aurora.kerberos.ad_directory
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: For each user and group that changes, its attributes before and after; never a password.
  platform:
    platforms: posix
options:
  users:
    description:
      - The users, each with the options of M(aurora.kerberos.ad_user) that concern one user.
      - A name may appear once (names are compared without case).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The logon name, C(sAMAccountName). 1 to 20 characters, as for M(aurora.kerberos.ad_user).
        type: str
        required: true
      state:
        description:
          - V(present) creates or updates the user, V(absent) deletes it.
        type: str
        choices: [present, absent]
        default: present
      password:
        description:
          - The user's password; see M(aurora.kerberos.ad_user). Never returned or logged.
        type: str
      update_password:
        description:
          - V(on_create) or V(always), as for M(aurora.kerberos.ad_user).
        type: str
        choices: [on_create, always]
        default: on_create
      enabled:
        description:
          - Whether the account is enabled; a user without a password stays disabled.
        type: bool
        default: true
      given_name:
        description:
          - C(givenName). An empty string clears it.
        type: str
      surname:
        description:
          - C(sn). An empty string clears it.
        type: str
      email_address:
        description:
          - C(mail). An empty string clears it.
        type: str
      user_principal_name:
        description:
          - C(userPrincipalName); defaults to C(<name>@<REALM>) for a new user. Not settable with O(backend=ds_data).
        type: str
      supported_encryption_types:
        description:
          - Written to C(msDS-SupportedEncryptionTypes); an empty list clears it.
        type: list
        elements: str
        choices: [aes128, aes256, rc4]
        default: [aes128, aes256]
  groups:
    description:
      - The groups, each with the options of M(aurora.kerberos.ad_group) that concern one group.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The group's C(sAMAccountName), 1 to 64 characters, as for M(aurora.kerberos.ad_group).
        type: str
        required: true
      state:
        description:
          - V(present) creates or updates the group, V(absent) deletes it.
        type: str
        choices: [present, absent]
        default: present
      group_type:
        description:
          - V(Security) or V(Distribution); V(Security) for a new group when not given.
        type: str
        choices: [Security, Distribution]
      group_scope:
        description:
          - The scope; V(Global) for a new group when not given.
        type: str
        choices: [DomainLocal, Global, Universal]
      description:
        description:
          - The group's C(description). An empty string clears it.
        type: str
      members:
        description:
          - The C(sAMAccountName) of each member. Missing ones are added; others are removed only with
            O(groups[].purge_members=true). When not given, membership is left alone.
        type: list
        elements: str
      purge_members:
        description:
          - Whether O(groups[].members) is the whole list.
        type: bool
        default: false
  state:
    description:
      - When given, the state of every entry of O(users) and O(groups), whatever the entry says; V(absent)
        deletes every user and group listed (their other options are not used).
    type: str
    choices: [present, absent]
  ou:
    description:
      - With O(backend=ldap), the DN of the OU in which to create users and groups.
      - Defaults to C(OU=Users,OU=<short_name>,<base DN>). Not supported with O(backend=ds_data).
    type: str
notes:
  - >-
    The rates kept are Standard 4 writes and 8 reads a second, Enterprise 8 and 16. No AWS page found
    states them; the API model says only that C(ThrottlingException) means "the limit on the number of
    requests per second has been exceeded" and gives C(RetryAfterSeconds).
seealso:
  - module: aurora.kerberos.ad_user
  - module: aurora.kerberos.ad_group
"""

EXAMPLES = r"""
- name: The database users and their group, in one task through the Directory Service Data API
  aurora.kerberos.ad_users:
    backend: ds_data
    directory_id: "{{ directory_id }}"
    enable_data_access: true
    domain: corp.example.com
    users:
      - name: alice
        password: "{{ alice_password }}"
        given_name: Alice
      - name: bob
        password: "{{ bob_password }}"
      - name: carol
        state: absent
    groups:
      - name: db-readers
        members: [alice, bob]
        purge_members: true
  no_log: true

- name: A thousand users over one LDAPS connection
  aurora.kerberos.ad_users:
    domain: corp.example.com
    ldap_server: "{{ directory_dns_ips[0] }}"
    ldap_server_name: dc1.corp.example.com
    ldap_ca_file: /etc/pki/ca-trust/source/anchors/corp-ca.pem
    bind_password: "{{ ad_admin_password }}"
    users: "{{ hr_export | map('community.general.dict_kv', 'name') }}"
"""

RETURN = r"""
users:
  description:
    - Each user of O(users) after the task (what it would be in check mode), in the order given, as
      M(aurora.kerberos.ad_user) returns C(user); empty for a user that is absent.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "alice", "dn": "CN=alice,OU=Users,OU=CORP,DC=corp,DC=example,DC=com", "enabled": true,
            "sid": "S-1-5-21-2127521184-1604012920-1887927527-1105", "user_principal_name": "alice@CORP.EXAMPLE.COM",
            "given_name": "Alice", "surname": null, "email_address": null,
            "supported_encryption_types": ["aes128", "aes256"]}]
groups:
  description:
    - Each group of O(groups) after the task, in the order given, as M(aurora.kerberos.ad_group) returns
      C(group); empty for a group that is absent.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "db-readers", "sid": "S-1-5-21-2127521184-1604012920-1887927527-1106",
            "dn": "CN=db-readers,OU=Users,OU=CORP,DC=corp,DC=example,DC=com", "group_type": "Security",
            "group_scope": "Global", "description": null, "members": ["alice", "bob"]}]
changed_users:
  description: The names of the users that changed (or would in check mode).
  returned: always
  type: list
  elements: str
  sample: ["bob"]
changed_groups:
  description: The names of the groups that changed (or would in check mode).
  returned: always
  type: list
  elements: str
  sample: ["db-readers"]
diff:
  description: The users and groups that change, by name, before and after.
  returned: always
  type: dict
  contains:
    before:
      description: C(users) and C(groups), each a dict of name to the object before the task.
      returned: always
      type: dict
    after:
      description: C(users) and C(groups), each a dict of name to the object after the task.
      returned: always
      type: dict
"""

import os

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.botocore import HAS_BOTO3

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import GROUP_NAME
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import GROUP_OPTIONS
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import NETBIOS_FORBIDDEN
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import run_group
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import run_user
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import USER_OPTIONS
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import sam_account_name_problem
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_bulk import Entry
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_bulk import PrefetchedUsers
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_bulk import prefetch_users
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_bulk import run_users_ds_data
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_ARGUMENT_SPEC
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_REQUIRED_IF
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import domain_labels
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import ldap_connection
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import HAS_LDAP3
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LDAP3_IMPORT_ERROR
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import AdLdapError
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LdapGroupDirectory
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LdapUserDirectory
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import base_dn_from_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import is_dn
from ansible_collections.aurora.kerberos.plugins.module_utils.ds import DIRECTORY_ID
from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import AnsibleDSDataError
from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import open_directory_data
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule

ARGUMENT_SPEC = dict(
    users=dict(type="list", elements="dict", default=[], options=USER_OPTIONS),
    groups=dict(type="list", elements="dict", default=[], options=GROUP_OPTIONS),
    state=dict(type="str", choices=["present", "absent"]),
    ou=dict(type="str"),
    **DIRECTORY_ARGUMENT_SPEC,
)


def settings_from(params):
    """(settings, problems): realm, base DN, short name and OU, and every bad option or entry, named."""
    problems = []
    domain, labels = domain_labels(params["domain"])
    if labels is None:
        problems.append(f"domain {params['domain']!r} must be the directory's DNS name, such as corp.example.com")
    base_dn = base_dn_from_domain(domain)
    short_name = params["short_name"] or domain.split(".")[0].upper()
    if not 1 <= len(short_name) <= 15 or set(short_name) & NETBIOS_FORBIDDEN:
        problems.append(f"short_name {short_name!r} must be a NetBIOS name: 1 to 15 characters, no dots or spaces")
    ou = params["ou"] or f"OU=Users,OU={short_name},{base_dn}"
    ds_data = params["backend"] == "ds_data"
    if ds_data:
        if params["ou"]:
            problems.append(f"ou is not supported with backend=ds_data, which creates users and groups in "
                            f"OU=Users,OU={short_name},{base_dn}; leave it out or use backend=ldap")
        if not DIRECTORY_ID.match(params["directory_id"] or ""):
            problems.append(f"directory_id {params['directory_id']!r} is not a directory id: use d- and 10 hex digits")
    else:
        if not is_dn(ou) or not ou.replace(" ", "").lower().endswith(base_dn.lower()):
            problems.append(f"ou {ou!r} must be a DN under the domain's base DN {base_dn}")
        if not 1 <= params["ldap_port"] <= 65535:
            problems.append(f"ldap_port {params['ldap_port']} is not a TCP port")
        if params["validate_certs"]:
            ca_file = params["ldap_ca_file"]
            if not ca_file:
                problems.append("ldap_ca_file is required with validate_certs=true: give the CA that signed the "
                                "domain controller's LDAPS certificate")
            elif not os.path.isfile(ca_file) or not os.access(ca_file, os.R_OK):
                problems.append(f"ldap_ca_file {ca_file} is not a readable file")
    realm = domain.upper()
    seen = {}
    for index, user in enumerate(params["users"]):
        where, name = f"users[{index}]", user["name"]
        problem = sam_account_name_problem(name)
        if problem:
            problems.append(f"{where}.name {name!r} is not a valid sAMAccountName: it {problem}")
        elif name.lower() in seen:
            problems.append(f"{where}.name {name!r} is the same user as users[{seen[name.lower()]}] (names are "
                            "compared without case)")
        seen.setdefault(name.lower(), index)
        if user["password"] == "":
            problems.append(f"{where}.password must not be empty; leave it out to create {name} without one")
        upn = user["user_principal_name"]
        if upn and "@" not in upn:
            problems.append(f"{where}.user_principal_name {upn!r} must have the form user@suffix, such as {name}@{realm}")
        elif upn and ds_data and upn.lower() != f"{name}@{realm}".lower():
            problems.append(f"{where}.user_principal_name {upn!r} cannot be set with backend=ds_data, where it is "
                            f"read-only and always {name}@{realm}; leave it out or use backend=ldap")
    seen = {}
    for index, group in enumerate(params["groups"]):
        where, name = f"groups[{index}]", group["name"]
        if not GROUP_NAME.match(name) or name != name.strip():
            problems.append(f"{where}.name {name!r} is not a valid group sAMAccountName: 1 to 64 characters, none of "
                            ': ; | = + " * ? < > / \\ , [ ] @, no leading or trailing spaces')
        elif name.lower() in seen:
            problems.append(f"{where}.name {name!r} is the same group as groups[{seen[name.lower()]}]")
        seen.setdefault(name.lower(), index)
        for member in group["members"] or []:
            if not GROUP_NAME.match(member):
                problems.append(f"{where}.members entry {member!r} is not a sAMAccountName")
    return dict(realm=realm, base_dn=base_dn, short_name=short_name, ou=ou), problems


def entry_params(params, entry):
    """One entry's options plus the directory options, as ad_user or ad_group would see them."""
    merged = {key: params[key] for key in DIRECTORY_ARGUMENT_SPEC}
    merged["ou"] = params["ou"]
    merged.update(entry)
    if params["state"]:
        merged["state"] = params["state"]
    return merged


def summary(module, user_results, group_results):
    users = [r["user"] for r in user_results]
    groups = [r["group"] for r in group_results]
    names = [p["name"] for p in module.params["users"]]
    group_names = [p["name"] for p in module.params["groups"]]
    changed_users = [name for name, r in zip(names, user_results) if r["changed"]]
    changed_groups = [name for name, r in zip(group_names, group_results) if r["changed"]]
    diff = {"before": {"users": {}, "groups": {}}, "after": {"users": {}, "groups": {}}}
    for kind, chosen, results, all_names in (("users", changed_users, user_results, names),
                                             ("groups", changed_groups, group_results, group_names)):
        for name, result in zip(all_names, results):
            if name in chosen:
                diff["before"][kind][name] = result["diff"]["before"]
                diff["after"][kind][name] = result["diff"]["after"]
    return dict(changed=bool(changed_users or changed_groups), users=users, groups=groups,
                changed_users=changed_users, changed_groups=changed_groups, diff=diff)


def run_ldap(module, settings):
    params = module.params
    connection = ldap_connection(params, settings["realm"])
    users = LdapUserDirectory(connection, settings["base_dn"])
    groups = LdapGroupDirectory(connection, settings["base_dn"])
    try:
        found = prefetch_users(users, [entry["name"] for entry in params["users"]]) if params["users"] else {}
        directory = PrefetchedUsers(users, found)
        user_results, group_results = [], []
        for entry in params["users"]:
            try:
                user_results.append(run_user(Entry(module, entry_params(params, entry)), directory, settings))
            except AdLdapError as e:
                raise AdLdapError(f"{entry['name']}: {e}") from e
        for entry in params["groups"]:
            try:
                group_results.append(run_group(Entry(module, entry_params(params, entry)), groups, settings))
            except AdLdapError as e:
                raise AdLdapError(f"{entry['name']}: {e}") from e
    finally:
        users.close()
    return user_results, group_results


def run_ds_data(module, settings):
    params = module.params
    data, access_changed, readable = open_directory_data(module, params["directory_id"], params["enable_data_access"])
    user_results = run_users_ds_data(module, data, settings, [entry_params(params, e) for e in params["users"]],
                                     readable)
    group_results = []
    for entry in params["groups"]:
        try:
            group_results.append(run_group(Entry(module, entry_params(params, entry)), data, settings, readable))
        except AnsibleDSDataError as e:
            raise AnsibleDSDataError(message=f"{entry['name']}: {e.message}", exception=e.exception) from e
    return user_results, group_results, access_changed


def main():
    # One module class for both backends: the AWS options are ignored with backend=ldap.
    module = AuroraKerberosAWSModule(argument_spec=ARGUMENT_SPEC, required_if=DIRECTORY_REQUIRED_IF,
                                     supports_check_mode=True, check_boto3=False)
    settings, problems = settings_from(module.params)
    if problems:
        module.fail_json(msg="Refused before any change: " + "; ".join(problems) + ".")
    if module.params["backend"] == "ds_data":
        if not HAS_BOTO3:
            module.fail_json(msg=missing_required_lib("boto3 and botocore"))
        try:
            user_results, group_results, access_changed = run_ds_data(module, settings)
        except AnsibleDSDataError as e:
            module.fail_json_aws_error(e)
        result = summary(module, user_results, group_results)
        result["changed"] = result["changed"] or access_changed
        module.exit_json(**result)
    if not HAS_LDAP3:
        module.fail_json(msg=missing_required_lib("ldap3"), exception=LDAP3_IMPORT_ERROR)
    try:
        user_results, group_results = run_ldap(module, settings)
    except AdLdapError as e:
        module.fail_json(msg=str(e))
    module.exit_json(**summary(module, user_results, group_results))


if __name__ == "__main__":
    main()
