#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_parameter_group
short_description: The custom DB cluster parameter group of an Aurora PostgreSQL cluster, for pg_ad_mapping
version_added: 0.2.0
description:
  - Finds or creates the custom DB cluster parameter group of an Aurora PostgreSQL cluster (family
    C(aurora-postgresql<major>) from the engine version), adds libraries to C(shared_preload_libraries)
    while keeping the ones already listed, sets other parameters such as C(krb_caseins_users), attaches the
    group to the cluster (C(ModifyDBCluster DBClusterParameterGroupName)), and reboots the instances whose
    C(DBClusterParameterGroupStatus) is C(pending-reboot), the writer first, waiting for each.
  - A default parameter group cannot be modified, so a cluster on its family's default group gets a new
    custom group (AWS_FACTS.md section 6). C(shared_preload_libraries) is static, so it takes effect only after a
    reboot of the writer, which AWS requires before C(CREATE EXTENSION pg_ad_mapping).
  - For a cluster that does not exist yet, only the group is made; pass its name to the cluster's creation
    (C(db_cluster_parameter_group_name) of M(amazon.aws.rds_cluster)) and no reboot is needed.
  - AWS documents a trap (AD.Security.Groups, "Important") when C(pg_ad_mapping) is added to a cluster that
    already has Kerberos enabled and was created before April 2025 (C(ClusterCreateTime)); the module then
    warns and returns RV(rejoin_advised=true), AWS advising to disable and re-enable Kerberos on the cluster.
author:
  - aurora.kerberos contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    details: Reads the group, its parameters and the cluster, and reports what would change; writes nothing.
  diff_mode:
    support: full
    details: The group's name and the parameters the task sets, before and after.
  platform:
    platforms: posix
options:
  cluster_id:
    description: The DB cluster identifier.
    type: str
    required: true
  cluster:
    description:
      - The cluster as M(aurora.kerberos.cluster_info) (or M(amazon.aws.rds_cluster_info)) read it just before this
        task; given, the module does not read it again. Omitted or empty, the module reads it.
      - Its engine version, parameter group, members' parameter group status, creation time and memberships count.
    type: dict
  name:
    description:
      - The custom DB cluster parameter group. Created when missing; an existing one must be of the cluster's family.
      - Defaults to the cluster's current group when it is a custom one, else C(<cluster_id>-params).
    type: str
  engine_version:
    description:
      - The engine version of a cluster that does not exist yet, for the group's family. Defaults to the version
        AWS creates by default. Ignored for an existing cluster (its own version counts).
    type: str
  description:
    description: The description of a group the module creates.
    type: str
  tags_on_create:
    description:
      - Tags given to a group the module creates, in the CreateDBClusterParameterGroup call. An existing group never
        gets them (the cluster role marks its own groups with C(aurora.kerberos:chain)).
    type: dict
  preload_libraries:
    description:
      - Libraries that C(shared_preload_libraries) must hold, e.g. C([pg_ad_mapping]). Added after the ones already
        listed, which are kept.
    type: list
    elements: str
    default: []
  parameters:
    description:
      - 'Other parameters and their values, for example C(krb_caseins_users) with value C("1"). Dynamic ones apply at once, static
        ones at the next reboot.'
    type: dict
    default: {}
  reboot:
    description:
      - Whether to reboot the instances that wait for a reboot (C(pending-reboot)), the writer first.
      - V(false) leaves them and returns them in RV(pending_reboot).
    type: bool
    default: true
  wait:
    description: Whether to wait until a rebooted instance is available again.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait, in all.
    type: int
    default: 1800
  poll_interval:
    description: Seconds between status reads while waiting.
    type: int
    default: 15
notes:
  - Reboots are the one interruption of service this module causes; with O(reboot=false) schedule them yourself.
seealso:
  - module: amazon.aws.rds_cluster_param_group
  - module: aurora.kerberos.ad_group_mappings
"""

EXAMPLES = r"""
- name: pg_ad_mapping preloaded on the cluster, the writer rebooted if needed
  aurora.kerberos.cluster_parameter_group:
    cluster_id: orders-prod
    preload_libraries: [pg_ad_mapping]

- name: Case-insensitive Kerberos names too, in a group of a given name
  aurora.kerberos.cluster_parameter_group:
    cluster_id: orders-prod
    name: orders-prod-kerberos
    preload_libraries: [pg_ad_mapping]
    parameters:
      krb_caseins_users: "1"
"""

RETURN = r"""
parameter_group:
  description: The group.
  returned: always
  type: dict
  contains:
    name:
      description: Its name.
      type: str
      sample: orders-prod-params
    family:
      description: Its family.
      type: str
      sample: aurora-postgresql16
    created:
      description: Whether the task created it (or would, in check mode).
      type: bool
      sample: true
changes:
  description: The parameters the task set (or would set), as sent to ModifyDBClusterParameterGroup.
  returned: always
  type: list
  elements: dict
  sample: [{"ParameterName": "shared_preload_libraries", "ParameterValue": "pg_stat_statements,pg_ad_mapping",
            "ApplyMethod": "pending-reboot"}]
attached:
  description: Whether the task attached the group to the cluster (ModifyDBCluster).
  returned: always
  type: bool
rebooted:
  description: The instances the task rebooted (or would reboot, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["orders-prod-1"]
pending_reboot:
  description: The instances still waiting for a reboot after the task.
  returned: always
  type: list
  elements: str
  sample: []
cluster_exists:
  description: Whether the cluster exists (when not, only the group was made).
  returned: always
  type: bool
rejoin_advised:
  description:
    - Whether AWS's trap applies, C(pg_ad_mapping) newly loaded on a Kerberos-enabled cluster created before
      2025-04-01; AWS's fix is to disable and re-enable Kerberos (AD.Security.Groups, "Important").
  returned: always
  type: bool
"""

from ansible_collections.aurora.kerberos.plugins.module_utils import cluster_params as cp
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


def main():
    module = AuroraKerberosAWSModule(
        argument_spec=dict(
            cluster_id=dict(type="str", required=True),
            cluster=dict(type="dict"),
            name=dict(type="str"),
            engine_version=dict(type="str"),
            description=dict(type="str"),
            tags_on_create=dict(type="dict"),
            preload_libraries=dict(type="list", elements="str", default=[]),
            parameters=dict(type="dict", default={}),
            reboot=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=1800),
            poll_interval=dict(type="int", default=15),
        ),
        supports_check_mode=True,
    )
    params = module.params
    cluster_id = params["cluster_id"]
    problems = cp.input_problems(params["name"], params["preload_libraries"], params["parameters"])
    problems += rds_domain.input_problems(cluster_id=cluster_id, wait_timeout=params["wait_timeout"])
    if problems:
        module.fail_json(msg=f"Refused before any change: {'; '.join(problems)}.")
    client = module.client("rds", retry_decorator=jittered_backoff())
    cluster = cp.from_described(params["cluster"]) if params["cluster"] else cp.read_cluster(module, client, cluster_id)
    module.exit_json(**cp.ensure(module, client, params, cluster))


if __name__ == "__main__":
    main()
