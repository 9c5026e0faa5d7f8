#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ad_objects_info
short_description: List a directory's AD users and groups, and which of them someone else made
version_added: 0.2.0
description:
  - Lists every user and group of an Active Directory domain, for example AWS Managed Microsoft AD, over LDAPS
    or the Directory Service Data API (C(ListUsers), C(ListGroups)).
  - Sorts out the ones made by someone other than Windows, AWS and the caller (O(known_users), O(known_groups)).
    The directory role reads them before it deletes a directory, because deleting it deletes them too and AWS
    keeps no way back.
  - Windows' and AWS's own objects are the ones with a well-known relative identifier (below 1000, such as
    C(Administrator), C(Guest), C(krbtgt), C(Domain Admins)), the C(Builtin) groups (C(S-1-5-32-...)), the DNS
    groups the domain controllers make (C(DnsAdmins), C(DnsUpdateProxy)), AWS's C(Admin) account and C(AWS_*)
    service accounts, and AWS's C(AWS Delegated *) and C(AWS Reserved *) groups. Accounts whose name ends with
    C($) are machine or service accounts and are not counted.
  - It writes nothing, so O(enable_data_access) is not used; with O(backend=ds_data) directory data access must
    already be enabled (the directory role enables it for C(directory_users_backend=ds_data)).
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
  known_users:
    description: The C(sAMAccountName) of users the caller made or expects; they are not reported as foreign.
    type: list
    elements: str
    default: []
  known_groups:
    description: The C(sAMAccountName) of groups the caller made or expects; they are not reported as foreign.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Users and groups someone else made in the directory
  aurora.kerberos.ad_objects_info:
    backend: ds_data
    directory_id: d-1234567890
    domain: corp.example.com
    known_users: [alice, bob]
    known_groups: [db-readers]
  register: objects
"""

RETURN = r"""
users:
  description: The C(sAMAccountName) of every user of the domain.
  returned: always
  type: list
  elements: str
groups:
  description: The C(sAMAccountName) of every group of the domain.
  returned: always
  type: list
  elements: str
foreign_users:
  description: The users neither Windows, AWS nor O(known_users) account for.
  returned: always
  type: list
  elements: str
  sample: [carol]
foreign_groups:
  description: The groups neither Windows, AWS nor O(known_groups) account for.
  returned: always
  type: list
  elements: str
  sample: [finance-readers]
"""

import re

try:
    import botocore
except ImportError:
    pass  # Reported by the ds_data path.

try:
    from ldap3.protocol.formatters.formatters import format_sid

    HAS_LDAP3 = True
except ImportError:
    HAS_LDAP3 = False

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_ARGUMENT_SPEC
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_REQUIRED_IF
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import domain_labels
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import ldap_connection
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import AdLdapError
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import base_dn_from_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

# Windows' well-known relative identifiers stop below 1000; the Builtin domain is S-1-5-32.
WELL_KNOWN_RID_LIMIT = 1000
BUILTIN_SID = "S-1-5-32-"
# What the domain controllers and AWS make in every AWS Managed Microsoft AD (the Admin account, its AWS_*
# service accounts, the delegated groups).
AWS_USERS = re.compile(r"^(Admin|AWS_.*)$", re.IGNORECASE)
AWS_GROUPS = re.compile(r"^(DnsAdmins|DnsUpdateProxy|AWS Delegated .*|AWS Reserved .*)$", re.IGNORECASE)


def is_default(name, sid, pattern):
    if name.endswith("$") or pattern.match(name):
        return True
    if not sid:
        return False
    if sid.startswith(BUILTIN_SID):
        return True
    rid = sid.rsplit("-", 1)[-1]
    return rid.isdigit() and int(rid) < WELL_KNOWN_RID_LIMIT


def foreign(objects, known, pattern):
    """The names of objects ({name: sid}) that neither Windows, AWS nor `known` account for."""
    known = {name.lower() for name in known}
    return sorted(name for name, sid in objects.items() if name.lower() not in known and not is_default(name, sid, pattern))


def list_ldap(params, domain):
    base_dn = base_dn_from_domain(domain)
    connection = ldap_connection(params, domain.upper())
    try:
        found = {}
        for kind, flt in (("users", "(&(objectCategory=person)(objectClass=user))"), ("groups", "(objectClass=group)")):
            entries = connection.extend.standard.paged_search(base_dn, flt, attributes=["sAMAccountName", "objectSid"],
                                                              paged_size=500, generator=False)
            found[kind] = {}
            for entry in entries:
                raw = entry.get("raw_attributes") or {}
                names = raw.get("sAMAccountName") or []
                sids = raw.get("objectSid") or []
                if names:
                    found[kind][names[0].decode("utf-8")] = format_sid(sids[0]) if sids else None
        return found["users"], found["groups"]
    finally:
        connection.unbind()


def list_ds_data(module):
    client = module.client("ds-data", retry_decorator=jittered_backoff())
    directory_id = module.params["directory_id"]

    @jittered_backoff()
    def listed(operation, key):
        pages = client.get_paginator(operation).paginate(DirectoryId=directory_id)
        return {item["SAMAccountName"]: item.get("SID") for page in pages for item in page.get(key, [])}

    return listed("list_users", "Users"), listed("list_groups", "Groups")


def main():
    module = AuroraKerberosAWSModule(
        argument_spec=dict(DIRECTORY_ARGUMENT_SPEC,
                           known_users=dict(type="list", elements="str", default=[]),
                           known_groups=dict(type="list", elements="str", default=[])),
        required_if=DIRECTORY_REQUIRED_IF,
        supports_check_mode=True,
        check_boto3=False,
    )
    p = module.params
    domain, labels = domain_labels(p["domain"])
    if labels is None:
        module.fail_json(msg=f"domain {p['domain']!r} must be the directory's DNS name, such as corp.example.com")
    try:
        if p["backend"] == "ds_data":
            users, groups = list_ds_data(module)
        elif not HAS_LDAP3:
            module.fail_json(msg=missing_required_lib("ldap3"))
        else:
            users, groups = list_ldap(p, domain)
    except AdLdapError as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not list the users and groups of directory {p['directory_id']}")
    module.exit_json(changed=False, users=sorted(users), groups=sorted(groups),
                     foreign_users=foreign(users, p["known_users"], AWS_USERS),
                     foreign_groups=foreign(groups, p["known_groups"], AWS_GROUPS))


if __name__ == "__main__":
    main()
