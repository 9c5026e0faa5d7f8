#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: region_info
short_description: The partition, the Region's opt-in status and the trust principals of the RDS directory role
version_added: 0.2.0
description:
  - Reads, without changing anything, what the IAM role RDS uses for Kerberos must look like in the Region.
  - The partition comes from the caller's ARN (STS C(GetCallerIdentity)); its DNS suffix is C(amazonaws.com.cn) in
    China and C(amazonaws.com) in the commercial and GovCloud partitions.
  - Whether the Region is opt-in comes from EC2 C(DescribeRegions) (C(OptInStatus); C(opt-in-not-required) means
    not opt-in). When that call is denied, a table of the known opt-in Regions decides, and RV(opt_in_source) says
    so. A Region in no table with the call denied fails, unless O(trust_principals) is given.
  - The trust principals (AWS RDS user guide, Supported Regions and DB engines for Kerberos authentication) are
    C(directoryservice.rds.amazonaws.com) and C(rds.amazonaws.com) everywhere; in an opt-in Region also
    C(directoryservice.rds.<region>.<suffix>) and C(rds.<region>.<suffix>); in a Region launched after il-central-1
    (ca-west-1 on) also C(directoryservice-<engine>.rds.<region>.<suffix>). IAM refuses a service principal that
    does not exist, so no form is added where it does not exist.
  - With O(iam_role_name) the module also reads that IAM role (C(GetRole), which returns its trust policy, path,
    description and tags, and C(ListAttachedRolePolicies)) and returns it as RV(iam_role). When the role exists its
    ARN gives the partition and the account id, and STS is not called.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  engine_part:
    description:
      - The engine part of the engine-specific principal C(directoryservice-<engine>.rds.<region>.<suffix>), used
        in Regions launched after il-central-1. AWS documents V(postgresql) for RDS for PostgreSQL and nothing
        for Aurora.
    type: str
    default: postgresql
  trust_principals:
    description:
      - The whole list of trust principals, returned as given instead of the computed one.
    type: list
    elements: str
  iam_role_name:
    description:
      - An IAM role to read as well, returned as RV(iam_role).
      - Two calls, where M(amazon.aws.iam_role_info) makes four (its inline policies and instance profiles are
        not read, since the role RDS uses needs neither).
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: The module changes nothing.
  platform:
    platforms: all
seealso:
  - module: aurora.kerberos.kerberos_preflight
"""

EXAMPLES = r"""
- name: What the RDS directory role needs here
  aurora.kerberos.region_info:
    region: af-south-1
  register: where

- name: Create the role with those principals and the partition's managed policy
  amazon.aws.iam_role:
    name: rds-directory-service-access
    assume_role_policy_document: >-
      {{ {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 'sts:AssumeRole',
          'Principal': {'Service': where.trust_principals}}]} | to_json }}
    managed_policies:
      - "{{ where.managed_policy_arn }}"
"""

RETURN = r"""
region:
  description: The Region.
  returned: always
  type: str
  sample: af-south-1
partition:
  description: The caller's partition, from its ARN (the role's, when O(iam_role_name) exists).
  returned: always
  type: str
  sample: aws
dns_suffix:
  description: The partition's DNS suffix.
  returned: always
  type: str
  sample: amazonaws.com
account_id:
  description: The caller's account id (from the role's ARN, when O(iam_role_name) exists).
  returned: always
  type: str
  sample: "123456789012"
opt_in:
  description: Whether the Region is an opt-in Region.
  returned: always
  type: bool
  sample: true
opt_in_source:
  description: V(DescribeRegions) when the opt-in status was read from EC2, V(table) when the call was denied.
  returned: always
  type: str
  sample: DescribeRegions
engine_principal:
  description: Whether the Region needs the engine-specific principal (launched after il-central-1).
  returned: always
  type: bool
  sample: false
trust_principals:
  description: The service principals the role trusts (O(trust_principals) when given).
  returned: always
  type: list
  elements: str
  sample: [directoryservice.rds.amazonaws.com, rds.amazonaws.com, directoryservice.rds.af-south-1.amazonaws.com,
           rds.af-south-1.amazonaws.com]
managed_policy_arn:
  description: The AWS managed policy the role carries, in the caller's partition.
  returned: always
  type: str
  sample: arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess
iam_role:
  description:
    - The role named by O(iam_role_name) in M(amazon.aws.iam_role_info)'s keys (its C(tags) a dict, its trust policy
      decoded), with only its attached policies as C(managed_policies); an empty dict when it does not exist.
  returned: when O(iam_role_name) is given
  type: dict
  sample:
    arn: arn:aws:iam::123456789012:role/rds-directory-service-access
    role_name: rds-directory-service-access
    path: /
    assume_role_policy_document: {Version: "2012-10-17", Statement: []}
    managed_policies:
      - policy_arn: arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess
        policy_name: AmazonRDSDirectoryServiceAccess
    tags: {"aurora.kerberos:chain": aurora-kerberos}
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.iam import AnsibleIAMError
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_iam_role
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import normalize_iam_role

from ansible_collections.aurora.kerberos.plugins.module_utils import partitions
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


@jittered_backoff()
def _caller_identity(sts):
    return sts.get_caller_identity()


def read_role(iam, name):
    """The role in iam_role_info's keys with its attached policies, or {} when there is none."""
    role = get_iam_role(iam, name)
    if not role:
        return {}
    return normalize_iam_role(dict(role, ManagedPolicies=list_iam_role_attached_policies(iam, name)))


def facts(sts, ec2, region, engine_part, given_principals=None, role=None):
    """Everything the module returns; raises partitions.UnknownRegion only without given_principals.
    role: the IAM role as read_role read it; its ARN (same account, same partition) stands for the caller's."""
    caller = {"Arn": role["arn"], "Account": role["arn"].split(":")[4]} if role else _caller_identity(sts)
    partition = partitions.partition_from_arn(caller.get("Arn")) or partitions.partition_for_region(region)
    try:
        opt_in, source = partitions.read_opt_in(ec2, region)
    except partitions.UnknownRegion:
        if given_principals is None:
            raise
        opt_in, source = None, "unknown"
    principals = list(given_principals) if given_principals is not None else \
        partitions.trust_principals(region, partition, opt_in, engine_part)
    return dict(
        region=region,
        partition=partition,
        dns_suffix=partitions.dns_suffix(partition),
        account_id=caller.get("Account"),
        opt_in=bool(opt_in),
        opt_in_source=source,
        engine_principal=partitions.uses_engine_principal(region, opt_in),
        trust_principals=principals,
        managed_policy_arn=partitions.managed_policy_arn(partition),
    )


def main():
    argument_spec = dict(
        engine_part=dict(type="str", default=partitions.DEFAULT_ENGINE_PART),
        trust_principals=dict(type="list", elements="str"),
        iam_role_name=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.region:
        module.fail_json(msg="No AWS Region: give region (or AWS_REGION / AWS_DEFAULT_REGION).")
    engine_part = module.params["engine_part"]
    if not engine_part or not engine_part.replace("-", "").isalnum() or engine_part != engine_part.lower():
        module.fail_json(msg=f"engine_part must be a lower-case engine name such as postgresql (got {engine_part!r}).")
    sts = module.client("sts", retry_decorator=jittered_backoff())
    ec2 = module.client("ec2", retry_decorator=jittered_backoff())
    role_name = module.params["iam_role_name"]
    try:
        role = read_role(module.client("iam", retry_decorator=jittered_backoff()), role_name) if role_name else None
        result = facts(sts, ec2, module.region, engine_part, module.params["trust_principals"], role)
    except AnsibleIAMError as e:
        module.fail_json_aws_error(e)
    except partitions.UnknownRegion:
        module.fail_json(msg=f"Whether {module.region} is an opt-in Region is unknown: ec2:DescribeRegions could not be "
                             "read and the Region is in none of the collection's tables. Allow ec2:DescribeRegions, "
                             "or give the whole list of trust principals (iam_role_trust_principals in the iam_role "
                             "role; trust_principals here).")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not read the caller's identity (sts:GetCallerIdentity)")
    if role_name:
        result["iam_role"] = role
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
