#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kerberos_preflight
short_description: Check, without changing anything, that an Aurora cluster or an RDS for PostgreSQL DB instance can join an AWS Managed Microsoft AD
version_added: 0.1.0
description:
  - Reads what a Kerberos domain join of an Aurora PostgreSQL cluster needs and reports one finding per check, each
    V(ok), V(warn) or V(fail) with a message and a fix. It changes nothing.
  - C(engine_support) - the exact engine version the cluster runs or will run supports Kerberos authentication
    with its instance classes in the Region (C(DescribeOrderableDBInstanceOptions) for that C(EngineVersion),
    C(SupportsKerberosAuthentication)). Without a version it is the engine's default in the Region
    (C(DescribeDBEngineVersions) C(DefaultOnly)), the one C(CreateDBCluster) picks. An existing cluster (O(cluster_id))
    on a version AWS no longer offers warns instead of failing, since it keeps running it.
  - C(directory) - the directory exists, is C(Active), is AWS Managed Microsoft AD, and is in this account or shared
    with it (a shared directory has its own id in this account).
  - C(iam_role_trust) and C(iam_role_policy) - the IAM role trusts the principals the Region needs, and has the
    managed policy C(AmazonRDSDirectoryServiceAccess) of the role's partition. Everywhere C(rds.amazonaws.com) (or
    C(rds.<region>.<suffix>) where that exists) and a directory-service principal of the Region's form -
    C(directoryservice.rds.amazonaws.com); in an opt-in Region (EC2 C(DescribeRegions), else a table)
    C(directoryservice.rds.<region>.<suffix>); in a Region launched after il-central-1 (ca-west-1 on)
    C(directoryservice-<engine>.rds.<region>.<suffix>). A role without the form fails, naming the principal.
  - C(sts_regional_endpoint) - STS in the Region issues credentials for the account (RDS assumes the role through
    it). C(GetCallerIdentity) answers even where the Region's STS is deactivated, so it only proves that the endpoint
    answers. In us-east-1 and the opt-in Regions, where STS cannot be deactivated, the check is V(ok). Elsewhere an
    IAM user (or the root user) calls C(GetSessionToken) on the regional endpoint, and the credentials it returns are
    discarded at once; C(RegionDisabledException) fails. A role's session cannot call C(GetSessionToken), so the check
    then warns "Not verifiable" and says where to look (IAM console, Account settings, Security Token Service (STS),
    Endpoints), never V(ok). Checked with O(iam_role_name), the role RDS assumes through it.
  - C(db_security_group_ingress) - a DB security group accepts the DB port from the directory's security group.
  - C(directory_security_group_egress) - the directory's security group may send to the DB security groups (by
    reference, or all traffic).
  - C(vpc_connectivity) - the cluster and the directory share a VPC, or an active VPC peering connects them with
    routes both ways.
  - C(directory_controllers_ingress) - a DB in another VPC than the directory, the domain controllers' security group
    (which admits the AD ports only from the directory VPC's CIDR) admits the DB on every AD port (TCP and UDP 53,
    88, 464, 389; TCP 445, 135, 636, 3268-3269, 1024-65535). It does so by the DB's security group across an active
    peering, or by a CIDR that holds the DB's VPC. A narrower CIDR warns.
  - A check that cannot read what it needs (a missing permission, another account's resource) warns and says so.
  - The same checks apply to an RDS for PostgreSQL DB instance outside any cluster - an existing one with
    O(db_instance_id), or one to be created with O(engine=postgres) - whose Kerberos support is read from the
    C(postgres) rows of C(DescribeOrderableDBInstanceOptions) for its exact version and class.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  cluster_id:
    description:
      - An existing DB cluster to check. Its engine, version, instances' classes, security groups, port and VPC are
        read from it; the explicit options below override what is read.
    type: str
    aliases: [db_cluster_identifier]
  db_instance_id:
    description:
      - An existing RDS for PostgreSQL DB instance outside any cluster to check, instead of O(cluster_id). Its engine,
        version, class, security groups, port and VPC are read from it; the explicit options below override them.
      - An instance of an Aurora cluster fails (check the cluster), and so does an instance of a Multi-AZ DB cluster,
        since Multi-AZ DB clusters do not support Kerberos authentication.
    type: str
    aliases: [db_instance_identifier]
    version_added: 0.2.0
  engine:
    description:
      - The engine whose support is checked, when there is no O(cluster_id) or O(db_instance_id) - V(aurora-postgresql)
        for an Aurora cluster, V(postgres) for an RDS for PostgreSQL DB instance.
    type: str
    choices: [aurora-postgresql, postgres]
    default: aurora-postgresql
    version_added: 0.2.0
  engine_version:
    description:
      - The engine version, for example V(16.4), when there is no O(cluster_id) or O(db_instance_id).
      - Without it (and without O(cluster_id) or O(db_instance_id)) the engine's default version in the Region is
        checked.
    type: str
  instance_class:
    description: The DB instance class, for example V(db.r6g.large), when there is no O(cluster_id).
    type: str
  db_security_group_ids:
    description: The cluster's VPC security groups, when there is no O(cluster_id).
    type: list
    elements: str
  port:
    description: The DB port. Default the cluster's port, else V(5432).
    type: int
  db_vpc_id:
    description: The cluster's VPC, when there is no O(cluster_id).
    type: str
  db_subnet_group_name:
    description:
      - The DB subnet group of a cluster or DB instance not created yet, when there is no O(cluster_id) or
        O(db_instance_id) and no O(db_vpc_id) - its VPC (C(DescribeDBSubnetGroups)) is the one checked. Without either
        the VPC checks say they could not check.
    type: str
    version_added: 0.2.0
  directory_id:
    description:
      - The directory id (V(d-) and 10 hex digits); in an account the directory is shared with, that account's id.
      - Without it the directory, security group and VPC checks are not run.
    type: str
  iam_role_name:
    description:
      - The name of the IAM role RDS is to use. Without it the IAM role checks are not run.
    type: str
  fail_on:
    description:
      - The finding statuses that fail the task. V([]) never fails (read RV(findings) and RV(ok) instead).
    type: list
    elements: str
    choices: [warn, fail]
    default: [fail]
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
    description: The module changes nothing, so there is nothing to diff.
    support: none
  platform:
    platforms: all
seealso:
  - module: aurora.kerberos.domain_membership
"""

EXAMPLES = r"""
- name: Check an existing cluster before joining it to the directory
  aurora.kerberos.kerberos_preflight:
    cluster_id: orders
    directory_id: d-1234567890
    iam_role_name: rds-directory-access

- name: Check a cluster that is not created yet, and only report
  aurora.kerberos.kerberos_preflight:
    engine_version: "16.4"
    instance_class: db.r6g.large
    db_security_group_ids: [sg-0123456789abcdef0]
    db_vpc_id: vpc-0123456789abcdef0
    directory_id: d-1234567890
    iam_role_name: rds-directory-access
    fail_on: []
  register: preflight

- name: Check that an RDS for PostgreSQL DB instance of this version and class can use Kerberos
  aurora.kerberos.kerberos_preflight:
    engine: postgres
    engine_version: "16.4"
    instance_class: db.m6g.large
    directory_id: d-1234567890
    iam_role_name: rds-directory-access

- name: Check an existing RDS for PostgreSQL DB instance
  aurora.kerberos.kerberos_preflight:
    db_instance_id: orders-pg
    directory_id: d-1234567890
    iam_role_name: rds-directory-access

- name: Show what would stop the join
  ansible.builtin.debug:
    msg: "{{ preflight.findings | rejectattr('status', 'equalto', 'ok') | list }}"
"""

RETURN = r"""
findings:
  description: One finding per check.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: >-
        What was checked: engine_support, directory, iam_role_trust, iam_role_policy, sts_regional_endpoint,
        db_security_group_ingress, directory_security_group_egress, vpc_connectivity or directory_controllers_ingress.
      type: str
      sample: db_security_group_ingress
    status:
      description: V(ok), V(warn) or V(fail).
      type: str
      sample: ok
    message:
      description: What was found.
      type: str
      sample: sg-0123456789abcdef0 accepts port 5432 from the directory's security group sg-0fedcba9876543210.
    fix:
      description: How to fix it (empty when there is nothing to fix).
      type: str
ok:
  description: Whether no finding is V(fail) (regardless of O(fail_on)).
  returned: always
  type: bool
  sample: true
"""

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.aurora.kerberos.plugins.module_utils import input_rules
from ansible_collections.aurora.kerberos.plugins.module_utils import preflight
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule


def validate(module):
    p = module.params
    problems = rds_domain.input_problems(cluster_id=p["cluster_id"], directory_id=p["directory_id"],
                                         iam_role_name=p["iam_role_name"], db_instance_id=p["db_instance_id"])
    if p["instance_class"] is not None:
        problems += [m for m in [input_rules.instance_class_problem(p["instance_class"], "instance_class")] if m]
    if p["port"] is not None and not 1 <= p["port"] <= 65535:
        problems.append(f"port must be 1-65535 (got {p['port']})")
    bad = [g for g in p["db_security_group_ids"] or [] if not g.startswith("sg-")]
    if bad:
        problems.append(f"db_security_group_ids {bad} are not security group ids (sg-...)")
    if p["db_vpc_id"] is not None and not p["db_vpc_id"].startswith("vpc-"):
        problems.append(f"db_vpc_id {p['db_vpc_id']!r} is not a VPC id (vpc-...)")
    if problems:
        module.fail_json(msg="; ".join(problems))


def target(module, rds):
    """What to check: read from the cluster, overridden by explicit options."""
    p = module.params
    if p["db_instance_id"]:
        instance = rds_domain.get_instance(rds, p["db_instance_id"])
        if instance is None:
            module.fail_json(msg=f"DB instance {p['db_instance_id']} does not exist (db_instance_id). Give an existing "
                                 "instance, or leave db_instance_id out and give engine postgres, engine_version, "
                                 "instance_class, db_security_group_ids and db_vpc_id.")
        problem = rds_domain.cluster_member_problem(instance)
        if problem:
            module.fail_json(msg=problem)
        result = preflight.target_from_cluster(rds, instance, [instance])
        result["port"] = (instance.get("Endpoint") or {}).get("Port") or instance.get("DbInstancePort") or result["port"]
    elif p["cluster_id"]:
        cluster = rds_domain.get_cluster(rds, p["cluster_id"])
        if cluster is None:
            module.fail_json(msg=f"DB cluster {p['cluster_id']} does not exist (cluster_id). Give an existing cluster, "
                                 "or leave cluster_id out and give engine_version, instance_class, "
                                 "db_security_group_ids and db_vpc_id.")
        result = preflight.target_from_cluster(rds, cluster, rds_domain.get_cluster_instances(rds, p["cluster_id"]))
    else:
        result = preflight.target_for_new(rds, dict(engine=p["engine"], vpc_id=p["db_vpc_id"],
                                                    db_subnet_group_name=p["db_subnet_group_name"]))
    overrides = dict(engine_version=p["engine_version"], security_group_ids=p["db_security_group_ids"],
                     port=p["port"], vpc_id=p["db_vpc_id"],
                     instance_classes=[p["instance_class"]] if p["instance_class"] else None)
    result.update({k: v for k, v in overrides.items() if v is not None})
    return result


def main():
    argument_spec = dict(
        cluster_id=dict(type="str", aliases=["db_cluster_identifier"]),
        engine_version=dict(type="str"),
        instance_class=dict(type="str"),
        db_security_group_ids=dict(type="list", elements="str"),
        db_instance_id=dict(type="str", aliases=["db_instance_identifier"]),
        engine=dict(type="str", choices=["aurora-postgresql", "postgres"], default="aurora-postgresql"),
        port=dict(type="int"),
        db_vpc_id=dict(type="str"),
        db_subnet_group_name=dict(type="str"),
        directory_id=dict(type="str"),
        iam_role_name=dict(type="str"),
        fail_on=dict(type="list", elements="str", choices=["warn", "fail"], default=["fail"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("cluster_id", "db_instance_id")])
    validate(module)
    get_client = preflight.module_clients(module)
    try:
        findings = preflight.run_checks(get_client, module.region, module.params["directory_id"],
                                        module.params["iam_role_name"], target(module, get_client("rds")))
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    ok, stopping = preflight.verdict(findings, module.params["fail_on"])
    if stopping:
        module.fail_json(msg=stopping, findings=findings, ok=ok)
    module.exit_json(changed=False, findings=findings, ok=ok)


if __name__ == "__main__":
    main()
