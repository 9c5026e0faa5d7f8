#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_info
short_description: One Aurora DB cluster or RDS DB instance, with its tags, in one call
version_added: 0.2.0
description:
  - Reads one DB cluster (C(DescribeDBClusters)) or, with O(kind=instance), one DB instance (C(DescribeDBInstances))
    and returns it in the keys of M(amazon.aws.rds_cluster_info) (M(amazon.aws.rds_instance_info)), with its tags as
    a dict.
  - The tags come from the answer's C(TagList) (RDS API reference, DBCluster and DBInstance data types), so they
    are not read a second time with C(ListTagsForResource) as M(amazon.aws.rds_cluster_info) does.
  - The same reader M(aurora.kerberos.domain_membership) uses, so its RV(aurora.kerberos.domain_membership#module:cluster)
    has the same keys.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  cluster_id:
    description:
      - The DB cluster identifier (the DB instance identifier with O(kind=instance)).
    type: str
    required: true
  kind:
    description:
      - V(cluster) for an Aurora DB cluster, V(instance) for an RDS DB instance outside any cluster.
    type: str
    choices: [cluster, instance]
    default: cluster
  engine_support:
    description:
      - When the DB cluster (or DB instance) does not exist, also check that the engine version and instance class it
        would be created with support Kerberos authentication in the Region, as M(aurora.kerberos.kerberos_preflight)'s
        C(engine_support) check does (C(DescribeOrderableDBInstanceOptions), C(SupportsKerberosAuthentication)), and
        return the finding in RV(engine_support). Nothing is checked for one that exists (its engine is never changed).
      - The cluster role reads and checks with one module process before anything is written.
    type: dict
    suboptions:
      engine:
        description: V(aurora-postgresql) for an Aurora cluster, V(postgres) for an RDS for PostgreSQL DB instance.
        type: str
        choices: [aurora-postgresql, postgres]
        default: aurora-postgresql
      engine_version:
        description: The exact engine version, for example V(16.6).
        type: str
        required: true
      instance_class:
        description: The DB instance class, for example V(db.r6g.large).
        type: str
        required: true
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
seealso:
  - module: amazon.aws.rds_cluster_info
  - module: aurora.kerberos.domain_membership
"""

EXAMPLES = r"""
- name: The cluster as it is
  aurora.kerberos.cluster_info:
    cluster_id: orders-prod
  register: found

- name: Its Kerberos memberships
  ansible.builtin.debug:
    msg: "{{ found.cluster.domain_memberships | default([]) }}"
  when: found.cluster | length > 0

- name: The cluster, and whether one created with these would support Kerberos
  aurora.kerberos.cluster_info:
    cluster_id: orders-prod
    engine_support:
      engine_version: "16.6"
      instance_class: db.r6g.large
  register: found

- name: Refuse an engine version without Kerberos
  ansible.builtin.assert:
    that: found.engine_support.status | default('ok') != 'fail'
    fail_msg: "{{ found.engine_support.message }} {{ found.engine_support.fix }}"
"""

RETURN = r"""
cluster:
  description:
    - The DB cluster (or DB instance) in M(amazon.aws.rds_cluster_info)'s (M(amazon.aws.rds_instance_info)'s) keys,
      its C(tags) a dict; an empty dict when there is none.
  returned: always
  type: dict
  sample:
    db_cluster_identifier: orders-prod
    status: available
    endpoint: orders-prod.cluster-abcdefghijkl.us-east-1.rds.amazonaws.com
    port: 5432
    domain_memberships:
      - domain: d-1234567890
        status: kerberos-enabled
        iam_role_name: rds-directory-service-access
    tags: {"aurora.kerberos:chain": aurora-kerberos}
engine_support:
  description:
    - With O(engine_support), for a DB cluster (or DB instance) that does not exist, the finding of
      M(aurora.kerberos.kerberos_preflight)'s C(engine_support) check; null otherwise. A check that could not read
      what it needs (a missing permission) is a V(warn) finding that says so.
  returned: always
  type: dict
  contains:
    check:
      description: V(engine_support).
      type: str
    status:
      description: V(ok), V(warn) or V(fail).
      type: str
    message:
      description: What was found.
      type: str
    fix:
      description: How to fix it (empty when there is nothing to fix).
      type: str
  sample:
    check: engine_support
    status: fail
    message: aurora-postgresql 9.6 is not offered in this Region.
    fix: Choose an engine version that DescribeOrderableDBInstanceOptions lists here.
"""

from ansible_collections.aurora.kerberos.plugins.module_utils import input_rules
from ansible_collections.aurora.kerberos.plugins.module_utils import preflight
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster_id=dict(type="str", required=True),
            kind=dict(type="str", choices=["cluster", "instance"], default="cluster"),
            engine_support=dict(type="dict", options=dict(
                engine=dict(type="str", choices=["aurora-postgresql", "postgres"], default="aurora-postgresql"),
                engine_version=dict(type="str", required=True),
                instance_class=dict(type="str", required=True))),
        ),
        supports_check_mode=True,
    )
    cluster_id, instance = module.params["cluster_id"], module.params["kind"] == "instance"
    problem = input_rules.rds_id_problem(cluster_id, "cluster_id")
    if problem:
        module.fail_json(msg=problem)
    client = module.client("rds", retry_decorator=jittered_backoff())
    try:
        found = rds_domain.get_instance(client, cluster_id) if instance else rds_domain.get_cluster(client, cluster_id)
    except rds_domain.AnsibleRDSDomainError as e:
        module.fail_json_aws_error(e)
    wanted, engine_support = module.params["engine_support"], None
    if wanted and found is None:
        # Guarded as in kerberos_preflight: an unreadable answer (AccessDenied) is a warn finding, not a failure.
        engine_support = preflight.guarded("engine_support", preflight.check_engine_support, client, wanted["engine"],
                                           wanted["engine_version"], [wanted["instance_class"]])
    module.exit_json(changed=False, cluster=rds_domain.described(found), engine_support=engine_support)


if __name__ == "__main__":
    main()
