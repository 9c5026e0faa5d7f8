#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ad_group_members_info
short_description: The enabled users of AD groups, nested groups expanded, for logins synced from a group
version_added: 0.2.0
description:
  - Returns the effective user members of one or more Active Directory groups, for example of AWS Managed
    Microsoft AD, over LDAPS or the Directory Service Data API. Members of nested groups count; disabled
    accounts do not.
  - >-
    With O(backend=ldap), one paged search per group with the matching rule LDAP_MATCHING_RULE_IN_CHAIN
    (C(1.2.840.113556.1.4.1941)) on C(memberOf), which the domain controller resolves through every nested
    group, and C(userAccountControl) without C(ACCOUNTDISABLE) (Microsoft, "Search Filter Syntax").
  - >-
    With O(backend=ds_data), the groups are walked with C(ListGroupMembers) (paged), recursing into members of
    C(MemberType) C(GROUP), each group once; C(ListUsers) gives each user's C(Enabled). The API has no
    transitive listing (AWS Directory Service Data API Reference, ListGroupMembers).
  - Feed RV(groups[].members) to the O(aurora.kerberos.kerberos_logins#module:group_logins) option of
    M(aurora.kerberos.kerberos_logins), as the db_users role does for C(db_users_group_logins).
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
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  groups:
    description: The C(sAMAccountName) of each group to read.
    type: list
    elements: str
    required: true
notes:
  - Membership through the primary group (C(primaryGroupID), such as C(Domain Users)) is not in C(memberOf)
    and is not listed.
  - Members in a trusted domain are not listed (C(ListGroupMembers) without C(MemberRealm) lists this domain's).
  - O(enable_data_access) is not used; with O(backend=ds_data) directory data access must already be enabled.
"""

EXAMPLES = r"""
- name: The enabled members of dba, nested groups included
  aurora.kerberos.ad_group_members_info:
    groups: [dba]
    backend: ds_data
    directory_id: "{{ directory_id }}"
    domain: corp.example.com
    region: eu-west-1
  register: dba
"""

RETURN = r"""
groups:
  description: One entry per group of O(groups), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The group, as given.
      returned: always
      type: str
      sample: dba
    members:
      description: Its enabled users, directly or through nested groups, sorted by name.
      returned: always
      type: list
      elements: dict
      sample: [{"name": "alice", "user_principal_name": "alice@corp.example.com"}]
    nested_groups:
      description: The groups it contains, directly or through other groups.
      returned: always
      type: list
      elements: str
      sample: [dba-oncall]
members_by_group:
  description:
    - The C(sAMAccountName) of each group's enabled users, by group, for the O(aurora.kerberos.kerberos_logins#module:group_members)
      option of M(aurora.kerberos.kerberos_logins).
  returned: always
  type: dict
  sample: {"dba": ["alice", "bob"]}
members:
  description: The C(sAMAccountName) of every enabled user of any of the groups, sorted, each once.
  returned: always
  type: list
  elements: str
  sample: [alice, bob]
"""

try:
    import botocore
except ImportError:
    pass  # Reported by the ds_data path.

try:
    from ldap3.core.exceptions import LDAPException
except ImportError:
    class LDAPException(Exception):
        """Stands in when ldap3 is missing, which the ldap path reports."""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.botocore import HAS_BOTO3

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import GROUP_NAME
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_ARGUMENT_SPEC
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_REQUIRED_IF
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import domain_labels
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import ldap_connection
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import HAS_LDAP3
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LDAP3_IMPORT_ERROR
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import AdLdapError
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import base_dn_from_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_members import GroupNotFound
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_members import ds_data_members
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_members import ldap_members
from ansible_collections.aurora.kerberos.plugins.module_utils.ds import DIRECTORY_ID
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


def problems_of(params):
    problems = []
    for group in params["groups"]:
        if not isinstance(group, str) or not GROUP_NAME.match(group) or group != group.strip():
            problems.append(f"groups entry {group!r} is not a group sAMAccountName")
    if not params["groups"]:
        problems.append("groups is empty: name at least one group")
    if domain_labels(params["domain"])[1] is None:
        problems.append(f"domain {params['domain']!r} must be the directory's DNS name, such as corp.example.com")
    if params["backend"] == "ds_data" and not DIRECTORY_ID.match(params["directory_id"] or ""):
        problems.append(f"directory_id {params['directory_id']!r} is not a directory id: use d- and 10 hex digits")
    return problems


def main():
    module = AuroraKerberosAWSModule(
        argument_spec=dict(DIRECTORY_ARGUMENT_SPEC, groups=dict(type="list", elements="str", required=True)),
        required_if=DIRECTORY_REQUIRED_IF,
        supports_check_mode=True,
        check_boto3=False,
    )
    p = module.params
    problems = problems_of(p)
    if problems:
        module.fail_json(msg="; ".join(problems) + ".")
    domain = domain_labels(p["domain"])[0]
    try:
        if p["backend"] == "ds_data":
            if not HAS_BOTO3:
                module.fail_json(msg=missing_required_lib("boto3 and botocore"))
            client = module.client("ds-data")
            found = jittered_backoff()(ds_data_members)(client, p["directory_id"], p["groups"])
        elif not HAS_LDAP3:
            module.fail_json(msg=missing_required_lib("ldap3"), exception=LDAP3_IMPORT_ERROR)
        else:
            connection = ldap_connection(p, domain.upper())
            try:
                found = ldap_members(connection, base_dn_from_domain(domain), p["groups"])
            finally:
                connection.unbind()
    except GroupNotFound as e:
        module.fail_json(msg=f"Group {e} does not exist in {domain}: check groups (a group's sAMAccountName).")
    except AdLdapError as e:
        module.fail_json(msg=str(e))
    except LDAPException as e:
        module.fail_json(msg=f"Could not read the members of {', '.join(p['groups'])} from {p['ldap_server']}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not read the members of {', '.join(p['groups'])} in {p['directory_id']} "
                                    "(directory data access must be enabled: the directory role enables it for "
                                    "directory_users_backend=ds_data)")
    groups = [{"name": group, "members": found[group]["members"], "nested_groups": found[group]["groups"]}
              for group in p["groups"]]
    members = {}
    for group in groups:
        for member in group["members"]:
            members.setdefault(member["name"].lower(), member["name"])
    module.exit_json(changed=False, groups=groups, members=sorted(members.values(), key=str.lower),
                     members_by_group=dict((group["name"], [m["name"] for m in group["members"]]) for group in groups))


if __name__ == "__main__":
    main()
