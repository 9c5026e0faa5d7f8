#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ad_group
short_description: Manage an Active Directory group and its members, such as a database role's group
version_added: 0.1.0
description:
  - Creates, updates and deletes a group in Active Directory, for example in AWS Managed Microsoft
    AD, and manages its members, from any Linux host; no Windows host is needed.
  - The group is found by its C(sAMAccountName) (O(name)) anywhere under the domain's base DN.
  - Returns the group's real security identifier (C(objectSid)), which
    C(pg_ad_mapping) needs to map the group to a database role.
  - The C(ldap) backend talks LDAPS to a domain controller with C(ldap3); the C(ds_data) backend
    calls the AWS Directory Service Data API within the directory's documented rate and retries
    C(ThrottlingException).
  - Options that are not given leave the matching attribute alone on an existing group.
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
    details: The diff shows the group, members included, before and after.
  platform:
    platforms: posix
options:
  name:
    description:
      - The group's C(sAMAccountName), and the CN of a group the module creates.
      - >-
        1 to 64 characters, none of C(: ; | = + " * ? < > / \ , [ ]) or C(@).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the group, V(absent) deletes it.
      - Deleting a group that does not exist is not a change.
    type: str
    choices: [present, absent]
    default: present
  group_type:
    description:
      - V(Security) groups can be granted access; V(Distribution) groups are mail lists.
      - Defaults to V(Security) when the module creates the group; left alone on an existing group
        when not given.
    type: str
    choices: [Security, Distribution]
  group_scope:
    description:
      - The group's scope.
      - Defaults to V(Global) when the module creates the group; left alone on an existing group
        when not given.
      - AD converts a V(Global) group to V(DomainLocal), or back, only through V(Universal).
    type: str
    choices: [DomainLocal, Global, Universal]
  description:
    description:
      - The group's C(description). An empty string clears it.
    type: str
  members:
    description:
      - The C(sAMAccountName) of each user, group or computer that should be a member, in this domain.
      - Members that are missing are added. Other members are removed only with O(purge_members=true).
      - When not given, membership is left alone.
    type: list
    elements: str
  purge_members:
    description:
      - Whether to remove members that are not in O(members), so that O(members) is the whole list.
      - Ignored when O(members) is not given.
    type: bool
    default: false
  ou:
    description:
      - With O(backend=ldap), the DN of the OU in which to create the group.
      - Defaults to C(OU=Users,OU=<short_name>,<base DN>), where AWS Managed Microsoft AD's
        C(Admin) account may create groups. An existing group is not moved.
      - Not supported with O(backend=ds_data), which creates groups there.
    type: str
seealso:
  - module: aurora.kerberos.ad_user
"""

EXAMPLES = r"""
- name: A security group for the readers of the reports database, with exactly these members
  aurora.kerberos.ad_group:
    name: db-reports-readers
    description: Read access to the reports database
    members: [alice, bob]
    purge_members: true
    domain: corp.example.com
    ldap_server: dc1.corp.example.com
    ldap_ca_file: /etc/pki/ca-trust/source/anchors/corp-ca.pem
    bind_password: "{{ ad_admin_password }}"
  register: readers

- name: The same through the Directory Service Data API
  aurora.kerberos.ad_group:
    backend: ds_data
    directory_id: "{{ directory_id }}"
    enable_data_access: true
    name: db-reports-readers
    members: [alice, bob]
    domain: corp.example.com
    region: eu-west-1

- name: Delete a group
  aurora.kerberos.ad_group:
    name: db-old
    state: absent
    backend: ds_data
    directory_id: "{{ directory_id }}"
    domain: corp.example.com
"""

RETURN = r"""
group:
  description:
    - The group after the task, or what it would be in check mode. Empty when O(state=absent).
  returned: always
  type: dict
  contains:
    name:
      description: The C(sAMAccountName).
      returned: success
      type: str
      sample: db-reports-readers
    dn:
      description: The group's distinguished name.
      returned: success
      type: str
      sample: CN=db-reports-readers,OU=Users,OU=CORP,DC=corp,DC=example,DC=com
    sid:
      description: The group's security identifier (C(objectSid)); null for a group only created in check mode.
      returned: success
      type: str
      sample: S-1-5-21-2127521184-1604012920-1887927527-1106
    group_type:
      description: V(Security) or V(Distribution).
      returned: success
      type: str
      sample: Security
    group_scope:
      description: V(DomainLocal), V(Global) or V(Universal).
      returned: success
      type: str
      sample: Global
    description:
      description: The C(description), or null.
      returned: success
      type: str
      sample: Read access to the reports database
    members:
      description: The C(sAMAccountName) of each member, sorted.
      returned: success
      type: list
      elements: str
      sample: [alice, bob]
diff:
  description: The group before and after, as in RV(group).
  returned: always
  type: dict
  contains:
    before:
      description: The group before the task.
      returned: always
      type: dict
    after:
      description: The group after the task.
      returned: always
      type: dict
"""

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import GROUP_NAME
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import GROUP_OPTIONS
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import run_group
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_ARGUMENT_SPEC
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_REQUIRED_IF
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import directory_settings
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import run_on_directory
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LdapGroupDirectory
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule

ARGUMENT_SPEC = dict(
    ou=dict(type="str"),
    **GROUP_OPTIONS,
    **DIRECTORY_ARGUMENT_SPEC,
)


def group_settings(module):
    """Check the options and derive realm, base DN and OU; fail naming each bad option."""
    params = module.params
    settings, problems = directory_settings(params, "group")
    name = params["name"]
    if not GROUP_NAME.match(name) or name != name.strip():
        problems.insert(0, f"name {name!r} is not a valid group sAMAccountName: 1 to 64 characters, none of "
                           ': ; | = + " * ? < > / \\ , [ ] @, no leading or trailing spaces')
    for member in params["members"] or []:
        if not GROUP_NAME.match(member):
            problems.append(f"members entry {member!r} is not a sAMAccountName")
    if problems:
        module.fail_json(msg="; ".join(problems) + ".")
    return settings


def main():
    # One module class for both backends: the AWS options are ignored with backend=ldap.
    module = AuroraKerberosAWSModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=DIRECTORY_REQUIRED_IF,
        supports_check_mode=True,
        check_boto3=False,
    )
    run_on_directory(module, group_settings(module), LdapGroupDirectory, run_group)


if __name__ == "__main__":
    main()
