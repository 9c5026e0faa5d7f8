#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_create
short_description: Create an Aurora PostgreSQL DB cluster and its missing DB instances, never modifying what exists
version_added: 0.2.0
description:
  - Creates the DB cluster O(cluster_id) when it does not exist (C(CreateDBCluster), without a domain, since the join is
    M(aurora.kerberos.domain_membership)'s), then the DB instances it lacks to have O(instance_count) members
    (C(CreateDBInstance)), in one module process. An existing cluster and existing instances are never modified;
    instances are counted, not named, so an adopted cluster's own instances count towards O(instance_count).
  - New instances are named C(<cluster_id>-N), the lowest N not taken. They are created while the cluster is still
    being created; RDS answers C(InvalidDBClusterStateFault) when the cluster cannot take one yet, which
    M(amazon.aws.rds_instance) does not retry (terraform-provider-aws issue 50115). This module retries it every
    O(poll_interval) seconds until O(wait_timeout).
  - With O(manage_master_user_password) the cluster keeps its master password in AWS Secrets Manager
    (C(ManageMasterUserPassword); the rds model's CreateDBCluster refuses it together with C(MasterUserPassword)).
    M(amazon.aws.rds_cluster) cannot send it, which is why the cluster role creates with this module.
  - It does not wait for the cluster to be available (M(aurora.kerberos.domain_membership) waits for that before the
    join).
  - With O(preflight), the checks of M(aurora.kerberos.kerberos_preflight) run first, in the same process, and a
    failing one stops the module before anything is written (the parameter group included).
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  cluster_id:
    description: The DB cluster identifier.
    type: str
    required: true
  cluster:
    description:
      - The cluster as read just before (M(aurora.kerberos.cluster_info)'s RV(aurora.kerberos.cluster_info#module:cluster),
        an empty dict when it does not exist), so it is not read again. Without it the module reads it.
    type: dict
  engine:
    description: The engine.
    type: str
    choices: [aurora-postgresql]
    default: aurora-postgresql
  engine_version:
    description: The engine version, for example V(16.6). Without it RDS picks the engine's default in the Region.
    type: str
  master_username:
    description: The master user name. Required to create the cluster.
    type: str
  master_user_password:
    description:
      - The master user password, sent only when the cluster is created (an existing cluster's password is never
        changed). Give this or O(manage_master_user_password=true) to create the cluster.
    type: str
  manage_master_user_password:
    description: Create the cluster with its master password kept in AWS Secrets Manager (C(ManageMasterUserPassword)).
    type: bool
    default: false
  db_subnet_group_name:
    description: The DB subnet group of a new cluster.
    type: str
  vpc_security_group_ids:
    description: The VPC security groups of a new cluster.
    type: list
    elements: str
  port:
    description: The port of a new cluster.
    type: int
  db_cluster_parameter_group_name:
    description: The DB cluster parameter group of a new cluster, as it is. Not with O(parameter_group).
    type: str
  parameter_group:
    description:
      - For a cluster to be created, its custom DB cluster parameter group as M(aurora.kerberos.cluster_parameter_group)
        makes it (the same code) - found or created for the engine version's family, the libraries added to
        C(shared_preload_libraries), the parameters set - before C(CreateDBCluster) names it, so the cluster starts
        with it and needs no reboot. Ignored for a cluster that exists (M(aurora.kerberos.cluster_parameter_group)
        attaches a group to it and reboots what a static change waits for).
    type: dict
    suboptions:
      name:
        description: The group's name. Default C(<cluster_id>-params).
        type: str
      description:
        description: The description of a group it creates.
        type: str
      preload_libraries:
        description: Libraries C(shared_preload_libraries) must list, for example V(pg_ad_mapping).
        type: list
        elements: str
        default: []
      parameters:
        description: Other parameters and their values, for example C(krb_caseins_users=1).
        type: dict
        default: {}
      tags_on_create:
        description: The tags of a group it creates.
        type: dict
  storage_encrypted:
    description: Encrypt a new cluster's storage.
    type: bool
    default: true
  backup_retention_period:
    description: Days of automated backups of a new cluster (1-35). Without it RDS's default.
    type: int
  deletion_protection:
    description: Deletion protection of a new cluster.
    type: bool
    default: false
  tags:
    description: The tags of a new cluster, copied to its snapshots.
    type: dict
    default: {}
  instance_count:
    description: How many DB instances the cluster has at least; the missing ones are created.
    type: int
    default: 1
  instance_class:
    description: The DB instance class of new instances, for example V(db.r6g.large). Required when one is created.
    type: str
  publicly_accessible:
    description: Whether new instances are publicly accessible (explicit, since AWS's default depends on the subnet group).
    type: bool
    default: false
  instance_tags:
    description: The tags of new instances.
    type: dict
    default: {}
  preflight:
    description:
      - Run the checks of M(aurora.kerberos.kerberos_preflight) before the first write, on what the cluster will be
        (this module's O(engine_version), O(instance_class), O(vpc_security_group_ids), O(port), and the VPC of
        O(db_subnet_group_name)) or, when it exists, on what it is. One module process instead of two for a cluster the
        chain creates.
    type: dict
    version_added: 0.2.0
    suboptions:
      directory_id:
        description: The directory the cluster is to join. Without it the directory and network checks are not run.
        type: str
      iam_role_name:
        description: The IAM role RDS is to use. Without it the IAM role and STS checks are not run.
        type: str
      fail_on:
        description: The finding statuses that stop the module before any write. V([]) only reports.
        type: list
        elements: str
        choices: [warn, fail]
        default: [fail]
  wait_timeout:
    description: Seconds to keep retrying an instance the cluster cannot take yet.
    type: int
    default: 1800
  poll_interval:
    description: Seconds between those retries.
    type: int
    default: 15
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    details: Reads (unless O(cluster) is given) and says what it would create.
  diff_mode:
    support: full
    details: The cluster's existence and its instances, before and after.
  platform:
    platforms: posix
seealso:
  - module: aurora.kerberos.cluster_info
  - module: aurora.kerberos.domain_membership
  - module: aurora.kerberos.kerberos_preflight
  - module: amazon.aws.rds_cluster
"""

EXAMPLES = r"""
- name: An Aurora PostgreSQL cluster with two instances, its password in Secrets Manager
  aurora.kerberos.cluster_create:
    cluster_id: orders-prod
    engine_version: "16.6"
    master_username: postgres
    manage_master_user_password: true
    db_subnet_group_name: orders-db
    vpc_security_group_ids: [sg-0123456789abcdef0]
    instance_count: 2
    instance_class: db.r6g.large
    tags:
      team: orders
    # Checked first, in the same module process: nothing is created when a check fails.
    preflight:
      directory_id: d-1234567890
      iam_role_name: rds-directory-access
"""

RETURN = r"""
cluster_created:
  description: Whether this run created the cluster (or would, in check mode).
  returned: always
  type: bool
  sample: true
instances_created:
  description: The DB instances this run created (or would, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [orders-prod-1, orders-prod-2]
parameter_group:
  description:
    - With O(parameter_group), when the cluster was (or would be) created, what M(aurora.kerberos.cluster_parameter_group)
      returns for the group (its C(parameter_group) name, family and whether it was created, the C(changes) made);
      null otherwise.
  returned: always
  type: dict
  sample: {"parameter_group": {"name": "orders-prod-params", "family": "aurora-postgresql16", "created": true},
           "changes": [{"ParameterName": "shared_preload_libraries", "ParameterValue": "pg_ad_mapping",
                        "ApplyMethod": "pending-reboot"}]}
preflight:
  description:
    - With O(preflight), what M(aurora.kerberos.kerberos_preflight) returns - its
      RV(aurora.kerberos.kerberos_preflight#module:findings) and RV(aurora.kerberos.kerberos_preflight#module:ok);
      null otherwise. Also returned when a check in O(preflight.fail_on) stopped the module.
  returned: always
  type: dict
  sample: {"ok": true, "findings": [{"check": "engine_support", "status": "ok", "fix": "",
                                     "message": "aurora-postgresql 16.6 supports Kerberos on db.r6g.large."}]}
"""

import time

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule says so

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.aurora.kerberos.plugins.module_utils import cluster_params
from ansible_collections.aurora.kerberos.plugins.module_utils import preflight
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


def new_instance_names(cluster_id, members, count):
    """The instances to create: <cluster_id>-N, the lowest N not taken, until the cluster has count members."""
    missing = max(count - len(members), 0)
    names = [f"{cluster_id}-{n}" for n in range(1, count + len(members) + 1)]
    return [name for name in names if name not in members][:missing]


def create_params(p):
    params = dict(DBClusterIdentifier=p["cluster_id"], Engine=p["engine"], MasterUsername=p["master_username"],
                  StorageEncrypted=p["storage_encrypted"], DeletionProtection=p["deletion_protection"],
                  CopyTagsToSnapshot=True, Tags=[{"Key": k, "Value": str(v)} for k, v in p["tags"].items()])
    if p["manage_master_user_password"]:
        params["ManageMasterUserPassword"] = True
    else:
        params["MasterUserPassword"] = p["master_user_password"]
    optional = dict(EngineVersion=p["engine_version"], DBSubnetGroupName=p["db_subnet_group_name"],
                    VpcSecurityGroupIds=p["vpc_security_group_ids"], Port=p["port"],
                    DBClusterParameterGroupName=p["db_cluster_parameter_group_name"],
                    BackupRetentionPeriod=p["backup_retention_period"])
    params.update({k: v for k, v in optional.items() if v is not None})
    return params


def create_instance(module, client, name, deadline):
    """CreateDBInstance, retried while the cluster answers InvalidDBClusterStateFault (still being created)."""
    p = module.params
    params = dict(DBInstanceIdentifier=name, DBClusterIdentifier=p["cluster_id"], Engine=p["engine"],
                  DBInstanceClass=p["instance_class"], PubliclyAccessible=p["publicly_accessible"],
                  Tags=[{"Key": k, "Value": str(v)} for k, v in p["instance_tags"].items()])
    while True:
        try:
            return jittered_backoff()(client.create_db_instance)(**params)
        except is_boto3_error_code("InvalidDBClusterStateFault") as e:
            if time.monotonic() + p["poll_interval"] > deadline:
                raise e
            time.sleep(p["poll_interval"])


def check_first(module, get_client, cluster, new_instances):
    """The preflight, before any write: its findings and ok, or the module fails (nothing changed) on fail_on."""
    p = module.params
    rds = get_client("rds")
    try:
        if cluster:
            # What the cluster is (AWS's shape, which kerberos_preflight reads), with the class of new instances.
            target = preflight.target_from_cluster(rds, rds_domain.get_cluster(rds, p["cluster_id"]) or {},
                                                   rds_domain.get_cluster_instances(rds, p["cluster_id"]))
            if new_instances and p["instance_class"] not in target["instance_classes"]:
                target["instance_classes"].append(p["instance_class"])
        else:
            target = preflight.target_for_new(rds, dict(
                engine=p["engine"], engine_version=p["engine_version"], instance_class=p["instance_class"],
                security_group_ids=p["vpc_security_group_ids"], port=p["port"],
                db_subnet_group_name=p["db_subnet_group_name"]))
        findings = preflight.run_checks(get_client, module.region, p["preflight"]["directory_id"],
                                        p["preflight"]["iam_role_name"], target)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    ok, stopping = preflight.verdict(findings, p["preflight"]["fail_on"])
    if stopping:
        module.fail_json(msg=f"{stopping} Nothing was created.", changed=False, cluster_created=False,
                         instances_created=[], parameter_group=None, preflight=dict(findings=findings, ok=ok))
    return dict(findings=findings, ok=ok)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster_id=dict(type="str", required=True),
            cluster=dict(type="dict"),
            engine=dict(type="str", choices=["aurora-postgresql"], default="aurora-postgresql"),
            engine_version=dict(type="str"),
            master_username=dict(type="str"),
            master_user_password=dict(type="str", no_log=True),
            manage_master_user_password=dict(type="bool", default=False),
            db_subnet_group_name=dict(type="str"),
            vpc_security_group_ids=dict(type="list", elements="str"),
            port=dict(type="int"),
            db_cluster_parameter_group_name=dict(type="str"),
            parameter_group=dict(type="dict", options=dict(
                name=dict(type="str"),
                description=dict(type="str"),
                preload_libraries=dict(type="list", elements="str", default=[]),
                parameters=dict(type="dict", default={}),
                tags_on_create=dict(type="dict"))),
            storage_encrypted=dict(type="bool", default=True),
            backup_retention_period=dict(type="int"),
            deletion_protection=dict(type="bool", default=False),
            tags=dict(type="dict", default={}),
            instance_count=dict(type="int", default=1),
            instance_class=dict(type="str"),
            publicly_accessible=dict(type="bool", default=False),
            instance_tags=dict(type="dict", default={}),
            preflight=dict(type="dict", options=dict(
                directory_id=dict(type="str"),
                iam_role_name=dict(type="str"),
                fail_on=dict(type="list", elements="str", choices=["warn", "fail"], default=["fail"]))),
            wait_timeout=dict(type="int", default=1800),
            poll_interval=dict(type="int", default=15),
        ),
        mutually_exclusive=[("db_cluster_parameter_group_name", "parameter_group")],
        supports_check_mode=True,
    )
    p = module.params
    problems = rds_domain.input_problems(cluster_id=p["cluster_id"], wait_timeout=p["wait_timeout"])
    if p["instance_count"] < 1:
        problems.append(f"instance_count must be at least 1 (got {p['instance_count']}): a cluster needs a writer")
    if p["master_user_password"] and p["manage_master_user_password"]:
        problems.append("give master_user_password or manage_master_user_password=true, not both (CreateDBCluster "
                        "refuses MasterUserPassword with ManageMasterUserPassword)")
    group = p["parameter_group"]
    if group:
        problems += cluster_params.input_problems(group["name"], group["preload_libraries"], group["parameters"])
    if p["poll_interval"] < 1:
        problems.append(f"poll_interval must be at least 1 second (got {p['poll_interval']})")
    if p["preflight"]:
        problems += rds_domain.input_problems(directory_id=p["preflight"]["directory_id"],
                                              iam_role_name=p["preflight"]["iam_role_name"])
    if problems:
        module.fail_json(msg=f"Refused before any change: {'; '.join(problems)}.")
    get_client = preflight.module_clients(module)  # the preflight's clients too: one RDS client in all
    client = get_client("rds")

    # One shape for both: the cluster as given (cluster_info's keys) or as read here, through the same function.
    cluster = p["cluster"]
    if cluster is None:
        try:
            cluster = rds_domain.described(rds_domain.get_cluster(client, p["cluster_id"]))
        except rds_domain.AnsibleRDSDomainError as e:
            module.fail_json_aws_error(e)
    members = [m["db_instance_identifier"] for m in cluster.get("db_cluster_members") or []]
    new_instances = new_instance_names(p["cluster_id"], members, p["instance_count"])

    # Everything a creation needs is checked before the first call that writes.
    problems = []
    if not cluster:
        if not p["master_username"]:
            problems.append("master_username is required to create the cluster")
        if not p["manage_master_user_password"] and not p["master_user_password"]:
            problems.append("creating the cluster needs master_user_password or manage_master_user_password=true")
    if new_instances and not p["instance_class"]:
        problems.append(f"instance_class is required to create {', '.join(new_instances)}")
    if problems:
        module.fail_json(msg=f"Refused before any change: cluster {p['cluster_id']} "
                             f"{'does not exist' if not cluster else 'lacks instances'}: {'; '.join(problems)}.")

    result = dict(changed=not cluster or bool(new_instances), cluster_created=not cluster, instances_created=[],
                  parameter_group=None, preflight=None)
    if p["preflight"]:
        result["preflight"] = check_first(module, get_client, cluster, new_instances)
    if group and not cluster:
        # The group first (check mode: predicted), so that CreateDBCluster names it.
        settings = dict(group, cluster_id=p["cluster_id"], engine_version=p["engine_version"], reboot=False, wait=False,
                        wait_timeout=p["wait_timeout"], poll_interval=p["poll_interval"])
        made = cluster_params.ensure(module, client, settings, None)
        result["parameter_group"] = {k: v for k, v in made.items() if k in ("parameter_group", "changes")}
    if module._diff:
        result["diff"] = dict(before=dict(cluster=p["cluster_id"] if cluster else None, instances=members),
                              after=dict(cluster=p["cluster_id"], instances=members + new_instances))
        if result["parameter_group"]:
            result["diff"]["after"]["parameter_group"] = result["parameter_group"]["parameter_group"]["name"]
    if module.check_mode:
        result["instances_created"] = new_instances
        module.exit_json(**result)

    errors = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
    if not cluster:
        try:
            params = create_params(p)
            if result["parameter_group"]:
                params["DBClusterParameterGroupName"] = result["parameter_group"]["parameter_group"]["name"]
            jittered_backoff()(client.create_db_cluster)(**params)
        except is_boto3_error_code("DBClusterAlreadyExistsFault") as e:
            module.fail_json_aws(e, msg=f"Cluster {p['cluster_id']} was created by someone else after this run read it "
                                        f"({'only its parameter group' if result['parameter_group'] else 'nothing'} "
                                        "was created): run again, and the role adopts it")
        except errors as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"Creating cluster {p['cluster_id']} failed")
    deadline = time.monotonic() + p["wait_timeout"]
    for name in new_instances:
        try:
            create_instance(module, client, name, deadline)
        except errors as e:
            result["changed"] = bool(result["instances_created"]) or not cluster
            module.fail_json_aws(e, msg=f"Creating DB instance {name} of cluster {p['cluster_id']} failed"
                                        f"{' (the cluster was created; run again to add its instances)' if not cluster else ''}",
                                 **result)
        result["instances_created"].append(name)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
