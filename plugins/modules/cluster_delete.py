#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_delete
short_description: Delete an Aurora DB cluster with its instances and an atomic final snapshot
version_added: 0.2.0
description:
  - Deletes an Aurora DB cluster and its DB instances, in an order that cannot leave a cluster without instances
    behind.
  - Everything that would make AWS refuse C(DeleteDBCluster) is checked before the first write. AWS lets the
    instances of a cluster with deletion protection be deleted, then refuses the cluster ("Cannot delete protected
    Cluster, please disable deletion protection and try again."), which would leave a billed cluster with no
    instance; so a protected cluster is refused before any instance is touched, unless
    O(disable_deletion_protection=true). A final snapshot name that is already taken is refused the same way.
  - The final snapshot is taken by C(DeleteDBCluster) itself (C(FinalDBSnapshotIdentifier)), after the instances
    are gone, so no write can land after it. M(amazon.aws.rds_cluster) sends that parameter under a name the RDS
    API does not know (C(FinalSnapshotIdentifier)), which is why this module exists.
  - A cluster that does not exist, or is already being deleted, is no change.
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
    details: Runs every check and returns what a real run would delete, without writing.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  cluster_id:
    description: The DB cluster identifier.
    type: str
    required: true
  final_snapshot_identifier:
    description:
      - The DB cluster snapshot C(DeleteDBCluster) takes before it deletes the cluster. It must not exist yet.
      - Required unless O(skip_final_snapshot=true).
    type: str
  skip_final_snapshot:
    description: Delete the cluster without a final snapshot. Its data is then gone for good.
    type: bool
    default: false
  disable_deletion_protection:
    description:
      - Turn the cluster's deletion protection off first (C(ModifyDBCluster DeletionProtection=false)).
      - Without it a protected cluster is refused before anything is written.
    type: bool
    default: false
  wait:
    description: Wait until the cluster is gone.
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between status reads while waiting.
    type: int
    default: 15
"""

EXAMPLES = r"""
- name: Delete a cluster with a final snapshot
  aurora.kerberos.cluster_delete:
    cluster_id: orders-prod
    final_snapshot_identifier: orders-prod-final-2026-12-04

- name: Delete a cluster that has deletion protection, without a snapshot
  aurora.kerberos.cluster_delete:
    cluster_id: orders-test
    disable_deletion_protection: true
    skip_final_snapshot: true
"""

RETURN = r"""
cluster_id:
  description: The cluster.
  returned: always
  type: str
  sample: orders-prod
deleted_instances:
  description: The DB instances deleted (or, in check mode, that a real run deletes), in order.
  returned: always
  type: list
  elements: str
  sample: [orders-prod-1, orders-prod-2]
final_snapshot_identifier:
  description: The final snapshot taken (or to be taken); null when there is none.
  returned: always
  type: str
  sample: orders-prod-final-2026-12-04
deletion_protection_disabled:
  description: Whether deletion protection was (or would be) turned off.
  returned: always
  type: bool
"""

import re

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.waiter import custom_waiter_config

from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.rds_domain import AnsibleRDSDomainError
from ansible_collections.aurora.kerberos.plugins.module_utils.rds_domain import get_cluster
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

# The RDS API: DBClusterSnapshotIdentifier, 1-255 letters, digits or hyphens; a letter first; no trailing or
# doubled hyphen.
SNAPSHOT_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
# AWS's own wording when DeleteDBCluster meets a protected cluster (InvalidParameterCombination).
PROTECTED = "Cannot delete protected Cluster, please disable deletion protection and try again."
# A cluster or instance that is already going.
DELETING = ("deleting",)


@jittered_backoff()
def _snapshot_exists(client, name):
    try:
        client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name)
    except is_boto3_error_code("DBClusterSnapshotNotFoundFault"):
        return False
    return True


# A cluster that is still being modified (the protection change) refuses the next call for a moment.
@jittered_backoff(catch_extra_error_codes=["InvalidDBClusterStateFault"])
def _disable_protection(client, cluster_id):
    client.modify_db_cluster(DBClusterIdentifier=cluster_id, DeletionProtection=False, ApplyImmediately=True)


@jittered_backoff(catch_extra_error_codes=["InvalidDBInstanceState"])
def _delete_instance(client, instance_id):
    try:
        # Aurora keeps the data in the cluster volume: an instance has no snapshot of its own.
        client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
    except is_boto3_error_code("DBInstanceNotFound"):
        pass


# AWS refuses DeleteDBCluster while an instance is not yet in the deleting state.
@jittered_backoff(catch_extra_error_codes=["InvalidDBClusterStateFault"])
def _delete_cluster(client, cluster_id, final_snapshot):
    params = {"DBClusterIdentifier": cluster_id, "SkipFinalSnapshot": final_snapshot is None}
    if final_snapshot is not None:
        params["FinalDBSnapshotIdentifier"] = final_snapshot
    client.delete_db_cluster(**params)


@jittered_backoff()
def _instance_statuses(client, cluster_id):
    pages = client.get_paginator("describe_db_instances").paginate(
        Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])
    return {i["DBInstanceIdentifier"]: i.get("DBInstanceStatus") for i in pages.build_full_result()["DBInstances"]}


def input_problems(params):
    problems = []
    snapshot = params["final_snapshot_identifier"]
    if params["skip_final_snapshot"]:
        if snapshot:
            problems.append("final_snapshot_identifier and skip_final_snapshot=true exclude each other "
                            "(DeleteDBCluster refuses both): give one")
    elif not snapshot:
        problems.append("final_snapshot_identifier is required unless skip_final_snapshot=true")
    elif not SNAPSHOT_ID.match(snapshot):
        problems.append(f"final_snapshot_identifier {snapshot!r} is not a DB cluster snapshot identifier: 1-255 "
                        "letters, digits or hyphens, starting with a letter, with no trailing or doubled hyphen")
    if params["wait_timeout"] <= 0 or params["poll_interval"] <= 0:
        problems.append("wait_timeout and poll_interval must be positive numbers of seconds")
    return problems


def refusal(module, client, cluster):
    """Why AWS would refuse this deletion, checked before any write; None when it is certain to be allowed."""
    p = module.params
    cluster_id = cluster["DBClusterIdentifier"]
    if cluster.get("DeletionProtection") and not p["disable_deletion_protection"]:
        return (f"Cluster {cluster_id} has deletion protection, so nothing was deleted (AWS would delete its "
                f"instances and then refuse the cluster: \"{PROTECTED}\"). If it really is to go, set "
                "disable_deletion_protection=true, or turn it off yourself: aws rds modify-db-cluster "
                f"--db-cluster-identifier {cluster_id} --no-deletion-protection --apply-immediately")
    snapshot = p["final_snapshot_identifier"]
    if not p["skip_final_snapshot"] and _snapshot_exists(client, snapshot):
        return (f"A DB cluster snapshot named {snapshot} already exists, so cluster {cluster_id} was left as it is "
                "(DeleteDBCluster would refuse it after its instances were gone): choose a new "
                "final_snapshot_identifier, or skip_final_snapshot=true to delete without one")
    return None


def wait_until_gone(module, client, cluster_id):
    p = module.params
    try:
        client.get_waiter("db_cluster_deleted").wait(
            DBClusterIdentifier=cluster_id,
            WaiterConfig=custom_waiter_config(timeout=p["wait_timeout"], default_pause=p["poll_interval"]))
    except botocore.exceptions.WaiterError as e:
        module.fail_json(msg=f"Cluster {cluster_id} was still not deleted after {p['wait_timeout']} seconds: {e}",
                         cluster_id=cluster_id)


def main():
    module = AuroraKerberosAWSModule(
        argument_spec=dict(
            cluster_id=dict(type="str", required=True),
            final_snapshot_identifier=dict(type="str"),
            skip_final_snapshot=dict(type="bool", default=False),
            disable_deletion_protection=dict(type="bool", default=False),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=3600),
            poll_interval=dict(type="int", default=15),
        ),
        supports_check_mode=True,
    )
    p = module.params
    problems = input_problems(p)
    if problems:
        module.fail_json(msg="; ".join(problems))
    cluster_id = p["cluster_id"]
    result = dict(changed=False, cluster_id=cluster_id, deleted_instances=[], final_snapshot_identifier=None,
                  deletion_protection_disabled=False)
    client = module.client("rds", retry_decorator=jittered_backoff())
    try:
        cluster = get_cluster(client, cluster_id)
        if cluster is None or cluster.get("Status") in DELETING:
            if cluster is not None and p["wait"] and not module.check_mode:
                wait_until_gone(module, client, cluster_id)
            module.exit_json(**result)
        reason = refusal(module, client, cluster)
        if reason:
            module.fail_json(msg=reason, **result)
        instances = [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers") or []]
        # The writer last: a reader that goes first never triggers a failover.
        writers = {m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers") or [] if m.get("IsClusterWriter")}
        instances.sort(key=lambda name: name in writers)
        result.update(changed=True, deleted_instances=instances,
                      final_snapshot_identifier=None if p["skip_final_snapshot"] else p["final_snapshot_identifier"],
                      deletion_protection_disabled=bool(cluster.get("DeletionProtection")))
        if module.check_mode:
            module.exit_json(**result)
        if cluster.get("DeletionProtection"):
            _disable_protection(client, cluster_id)
        statuses = _instance_statuses(client, cluster_id) if instances else {}
        for instance_id in instances:
            if statuses.get(instance_id) not in DELETING:
                _delete_instance(client, instance_id)
        _delete_cluster(client, cluster_id, result["final_snapshot_identifier"])
        if p["wait"]:
            wait_until_gone(module, client, cluster_id)
    except AnsibleRDSDomainError as e:
        module.fail_json_aws_error(e)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not delete cluster {cluster_id}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
