#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: directory_info
short_description: Describe AWS Directory Service directories, with their tags
version_added: 0.1.0
description:
  - Returns the directories of the account in the Region, or those with the given ids or DNS name, in the same
    shape as M(aurora.kerberos.directory) returns one.
  - A directory shared with this account appears with type C(SharedMicrosoftAD), its C(share_status) and its
    C(owner_directory_description). Its id is the one RDS must be given in this account.
  - C(ShareNotes) is sensitive in the AWS API model, so it is never returned.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  directory_ids:
    description:
      - The ids of the directories to describe (V(d-) and 10 hex digits). Ids that do not exist are left out of
        the result.
      - Mutually exclusive with O(name). Without either, every directory is returned.
    type: list
    elements: str
    aliases: [directory_id]
  name:
    description:
      - The fully qualified DNS name of the directories to describe, for example V(corp.example.com) (any case).
        Directories being deleted are included, with their stage.
    type: str
extends_documentation_fragment:
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
"""

EXAMPLES = r"""
- name: The directory named corp.example.com
  aurora.kerberos.directory_info:
    name: corp.example.com
  register: found

- name: Its DNS servers (the KDCs for krb5.conf)
  ansible.builtin.debug:
    msg: "{{ found.directories[0].dns_ip_addrs }}"
  when: found.directories | length > 0

- name: Two directories by id
  aurora.kerberos.directory_info:
    directory_ids: [d-1234567890, d-0987654321]
"""

RETURN = r"""
directories:
  description: The directories found, in AWS's order; empty when none match.
  returned: always
  type: list
  elements: dict
  contains:
    directory_id:
      description: The directory id, as AWS names it (C(DirectoryId)).
      type: str
      sample: d-1234567890
    name:
      description: The DNS name.
      type: str
      sample: corp.example.com
    short_name:
      description: The NetBIOS name.
      type: str
      sample: CORP
    realm:
      description: The Kerberos realm (the DNS name, upper-case).
      type: str
      sample: CORP.EXAMPLE.COM
    stage:
      description: The directory's stage.
      type: str
      sample: Active
    stage_reason:
      description: Why the directory is in its stage, when AWS says.
      type: str
      returned: when AWS gives one
    dns_ip_addrs:
      description: The domain controllers' addresses (DNS servers and KDCs).
      type: list
      elements: str
      sample: ["10.0.1.10", "10.0.2.10"]
    security_group_id:
      description: The security group AWS made for the domain controllers.
      type: str
      sample: sg-0123456789abcdef0
    vpc_id:
      description: The VPC.
      type: str
    subnet_ids:
      description: The subnets.
      type: list
      elements: str
    vpc_settings:
      description: The VPC settings as AWS returns them.
      type: dict
      returned: when AWS returns them
    edition:
      description: The edition.
      type: str
      returned: for Microsoft AD directories
    type:
      description: The directory type.
      type: str
      sample: MicrosoftAD
    size:
      description: The size, for Simple AD and AD Connector.
      type: str
      returned: when AWS returns it
    description:
      description: The description.
      type: str
      returned: when the directory has one
    launch_time:
      description: When the directory was created.
      type: str
      returned: when AWS returns it
    stage_last_updated_date_time:
      description: When the stage last changed.
      type: str
      returned: when AWS returns it
    share_status:
      description: For a directory shared with this account, the share's status.
      type: str
      returned: for shared directories
      sample: Shared
    share_method:
      description: For a directory shared with this account, how it was shared.
      type: str
      returned: for shared directories
      sample: HANDSHAKE
    owner_directory_description:
      description: For a directory shared with this account, the owner's account id, directory id, DNS addresses and VPC.
      type: dict
      returned: for shared directories
    alias:
      description: The directory's alias (by default its id).
      type: str
      returned: when AWS returns it
    access_url:
      description: The access URL.
      type: str
      returned: when AWS returns it
    dns_ipv6_addrs:
      description: The domain controllers' IPv6 addresses.
      type: list
      elements: str
      returned: for dual-stack directories
    network_type:
      description: The network type (IPv4, dual stack).
      type: str
      returned: when AWS returns it
    os_version:
      description: The Windows Server version of the domain controllers.
      type: str
      returned: when AWS returns it
    desired_number_of_domain_controllers:
      description: How many domain controllers the directory should have.
      type: int
      returned: when AWS returns it
    sso_enabled:
      description: Whether single sign-on is enabled.
      type: bool
      returned: when AWS returns it
    connect_settings:
      description: For AD Connector directories, the connection settings.
      type: dict
      returned: for AD Connector directories
    radius_settings:
      description: The RADIUS (multi-factor authentication) settings.
      type: dict
      returned: when RADIUS is configured
    radius_status:
      description: The RADIUS status.
      type: str
      returned: when RADIUS is configured
    regions_info:
      description: The Regions the directory is replicated to.
      type: dict
      returned: for multi-Region directories
    hybrid_settings:
      description: For Hybrid edition directories, the self-managed instances' settings.
      type: dict
      returned: for Hybrid directories
    tags:
      description: The directory's tags.
      type: dict
      sample: {"team": "databases"}
"""


from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


def validate(module):
    p = module.params
    problems = []
    for directory_id in p["directory_ids"] or []:
        problems += ds.directory_input_problems(directory_id=directory_id)
    if p["name"] is not None:
        problems += ds.directory_input_problems(name=p["name"])
    if problems:
        module.fail_json(msg="; ".join(problems))


def describe(client, directory_ids, name):
    if directory_ids:
        found = ds.describe_directories(client, directory_ids)
        if not found and len(directory_ids) > 1:
            # One unknown id makes AWS answer EntityDoesNotExistException for all of them: ask one by one.
            found = [d for directory_id in directory_ids for d in ds.describe_directories(client, [directory_id])]
        return found
    found = ds.describe_directories(client)
    if name:
        found = [d for d in found if d.get("Name", "").lower() == name.lower()]
    return found


def result(client, directory):
    normalized = ds.normalize(directory, ds.list_tags(client, directory["DirectoryId"]))
    normalized.pop("share_notes", None)  # sensitive in the API model
    return normalized


def main():
    argument_spec = dict(
        directory_ids=dict(type="list", elements="str", aliases=["directory_id"]),
        name=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("directory_ids", "name")])
    validate(module)
    client = module.client("ds", retry_decorator=jittered_backoff())
    try:
        directories = describe(client, module.params["directory_ids"], module.params["name"])
        module.exit_json(changed=False, directories=[result(client, d) for d in directories])
    except ds.AnsibleDSError as e:
        ds.fail(module, e)


if __name__ == "__main__":
    main()
