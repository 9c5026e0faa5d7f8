# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""RDS domain membership (Kerberos) of an Aurora cluster and its instances: reads, the change,
validation and waiters.

amazon.aws.rds_cluster sends Domain/DomainIAMRoleName but never waits for the membership and never
retries a failed join (AWS_FACTS.md section 4); this is the part it lacks.
"""

import math
import time

try:
    import botocore
except ImportError:
    pass  # Modules are responsible for handling this.

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.waiter import custom_waiter_config
from ansible_collections.aurora.kerberos.plugins.module_utils.ds import DIRECTORY_ID
from ansible_collections.aurora.kerberos.plugins.module_utils.input_rules import CLUSTER_ID
from ansible_collections.aurora.kerberos.plugins.module_utils.input_rules import MULTI_AZ_NO_KERBEROS
from ansible_collections.aurora.kerberos.plugins.module_utils.input_rules import iam_role_name_problem
from ansible_collections.aurora.kerberos.plugins.module_utils.input_rules import is_aurora
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff
from ansible_collections.aurora.kerberos.plugins.module_utils.waiter import WaiterFactory

# AWS_FACTS.md section 4: the Kerberos statuses, and the SQL Server style ones that may also appear.
STATUSES_DONE = ("kerberos-enabled", "joined")
STATUSES_JOINING = ("pending-enable-kerberos", "enabling-kerberos", "pending-join",
                    "pending-maintenance-enable-kerberos")
STATUSES_LEAVING = ("pending-disable-kerberos", "disabling-kerberos", "pending-maintenance-disable-kerberos",
                    "pending-removal")
STATUSES_FAILED = ("enable-kerberos-failed", "failed")
STATUSES_GONE = ("removed",)
STATUSES_MAINTENANCE = ("pending-maintenance-enable-kerberos", "pending-maintenance-disable-kerberos")

DEFAULT_PORT = 5432
# The rules for identifiers, the master user and password and the instance class: input_rules.


class AnsibleRDSDomainError(AnsibleAWSError):
    pass


class RDSDomainErrorHandler(AWSErrorHandler):
    """amazon.aws's RDSErrorHandler checks DBClusterNotFound, but the code AWS sends is DBClusterNotFoundFault."""

    _CUSTOM_EXCEPTION = AnsibleRDSDomainError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code(["DBClusterNotFoundFault", "DBInstanceNotFound", "DBSubnetGroupNotFoundFault"])


# --- validation (before any call) -------------------------------------------------------------

def input_problems(cluster_id=None, directory_id=None, iam_role_name=None, wait_timeout=None, db_instance_id=None):
    """Every problem with the inputs, each naming the option and the fix."""
    problems = []
    # DBInstanceIdentifier has the same rules as DBClusterIdentifier (rds model).
    if db_instance_id is not None and not CLUSTER_ID.match(db_instance_id):
        problems.append(f"db_instance_id {db_instance_id!r} is not a DB instance identifier: 1-63 letters, digits or "
                        "hyphens, starting with a letter, with no trailing or doubled hyphen: use e.g. orders-pg")
    if cluster_id is not None and not CLUSTER_ID.match(cluster_id):
        problems.append(f"cluster_id {cluster_id!r} is not a DB cluster identifier: 1-63 letters, digits or hyphens, "
                        "starting with a letter, with no trailing or doubled hyphen: use e.g. orders-prod")
    if directory_id is not None and not DIRECTORY_ID.match(directory_id):
        problems.append(f"directory_id {directory_id!r} is not a directory id: use d- and 10 hex digits "
                        "(in an account the directory is shared with, that account's shared directory id)")
    if iam_role_name is not None:
        problem = iam_role_name_problem(iam_role_name, "iam_role_name")
        if problem:
            problems.append(problem)
    if wait_timeout is not None and wait_timeout <= 0:
        problems.append(f"wait_timeout must be a positive number of seconds (got {wait_timeout})")
    return problems


# --- reads ------------------------------------------------------------------------------------

@RDSDomainErrorHandler.list_error_handler("describe DB cluster")
@jittered_backoff()
def get_cluster(client, cluster_id):
    clusters = client.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"]
    return clusters[0] if clusters else None


@RDSDomainErrorHandler.list_error_handler("describe DB instance")
@jittered_backoff()
def get_instance(client, instance_id):
    instances = client.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
    return instances[0] if instances else None


def described(resource):
    """A DB cluster (DB instance) as rds_cluster_info (rds_instance_info) returns it, its TagList as the dict tags
    ({} for None): DescribeDBClusters and DescribeDBInstances return the tags, no ListTagsForResource is needed."""
    if not resource:
        return {}
    tags = boto3_tag_list_to_ansible_dict(resource.get("TagList") or [])
    found = camel_dict_to_snake_dict({key: value for key, value in resource.items() if key != "TagList"})
    return dict(found, tags=tags)


def resource_id(resource):
    """The identifier of a DB cluster or a DB instance."""
    return resource.get("DBInstanceIdentifier") or resource.get("DBClusterIdentifier")


def cluster_member_problem(instance, variable="db_instance_id"):
    """A DB instance that belongs to a cluster cannot be joined on its own: an Aurora cluster holds the membership
    for all its instances, and a Multi-AZ DB cluster has no Kerberos. The message names variable; None when the
    instance is outside any cluster."""
    owner = instance.get("DBClusterIdentifier")
    if not owner:
        return None
    name = instance.get("DBInstanceIdentifier")
    if is_aurora(instance):
        return (f"DB instance {name} ({variable}) is a member of Aurora cluster {owner}, which holds the domain "
                f"membership for all its instances: give cluster_id {owner} instead of {variable}.")
    return (f"DB instance {name} ({variable}) belongs to Multi-AZ DB cluster {owner}: {MULTI_AZ_NO_KERBEROS}. Use a "
            "single DB instance (or a Multi-AZ DB instance deployment) of RDS for PostgreSQL, or an Aurora "
            "PostgreSQL cluster.")


@RDSDomainErrorHandler.list_error_handler("describe the cluster's DB instances", [])
@jittered_backoff()
def get_cluster_instances(client, cluster_id):
    paginator = client.get_paginator("describe_db_instances")
    pages = paginator.paginate(Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])
    return pages.build_full_result()["DBInstances"]


@RDSDomainErrorHandler.list_error_handler("describe DB subnet group")
@jittered_backoff()
def get_subnet_group(client, name):
    groups = client.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"]
    return groups[0] if groups else None


@RDSDomainErrorHandler.list_error_handler("describe the cluster's events", [])
@jittered_backoff()
def describe_cluster_events(client, cluster_id, minutes=60, source_type="db-cluster"):
    """The events of a DB cluster (or, with source_type db-instance, of a DB instance)."""
    paginator = client.get_paginator("describe_events")
    pages = paginator.paginate(SourceIdentifier=cluster_id, SourceType=source_type, Duration=minutes)
    return pages.build_full_result()["Events"]


# The model's largest MaxRecords for DescribeOrderableDBInstanceOptions (its default is 100).
ORDERABLE_PAGE_SIZE = 1000


@RDSDomainErrorHandler.list_error_handler("describe orderable DB instance options", [])
@jittered_backoff()
def describe_orderable_options(client, engine, engine_version=None, instance_class=None):
    params = {"Engine": engine}
    if engine_version:
        params["EngineVersion"] = engine_version
    if instance_class:
        params["DBInstanceClass"] = instance_class
    paginator = client.get_paginator("describe_orderable_db_instance_options")
    pages = paginator.paginate(PaginationConfig={"PageSize": ORDERABLE_PAGE_SIZE}, **params)
    return pages.build_full_result()["OrderableDBInstanceOptions"]


@RDSDomainErrorHandler.list_error_handler("describe the engine's default version")
@jittered_backoff()
def default_engine_version(client, engine):
    """The version CreateDBCluster picks when none is given: DescribeDBEngineVersions DefaultOnly. None when
    the Region lists none."""
    versions = client.describe_db_engine_versions(Engine=engine, DefaultOnly=True)["DBEngineVersions"]
    return versions[0]["EngineVersion"] if versions else None


def active_membership(resource):
    """The cluster's or instance's membership that still counts (an Aurora cluster has at most one)."""
    for membership in (resource or {}).get("DomainMemberships") or []:
        if membership.get("Status") not in STATUSES_GONE:
            return membership
    return None


def membership_status(resource, domain):
    for membership in (resource or {}).get("DomainMemberships") or []:
        if membership.get("Domain") == domain:
            return membership.get("Status")
    return None


def normalize(cluster, instances):
    """The result: the cluster's membership, and each instance's status in that domain ({} when none)."""
    membership = active_membership(cluster)
    if not membership:
        return {}
    domain = membership.get("Domain")
    return dict(
        domain=domain,
        status=membership.get("Status"),
        fqdn=membership.get("FQDN"),
        iam_role_name=membership.get("IAMRoleName"),
        ou=membership.get("OU"),
        dns_ips=membership.get("DnsIps") or [],
        instances=[dict(id=i["DBInstanceIdentifier"], status=membership_status(i, domain)) for i in instances],
    )


def diff_view(membership):
    """What a human wants to see change."""
    if not membership:
        return {}
    return {key: membership.get(key) for key in ("domain", "status", "iam_role_name")}


def is_done(cluster, instances, domain):
    """The cluster and every instance are joined to this domain."""
    return all(membership_status(r, domain) in STATUSES_DONE for r in [cluster, *instances])


def failed_statuses(cluster, instances, domain):
    """{resource id: status} for the cluster and instances whose join to this domain failed."""
    failed = {}
    if membership_status(cluster, domain) in STATUSES_FAILED:
        failed[resource_id(cluster)] = membership_status(cluster, domain)
    for instance in instances:
        if membership_status(instance, domain) in STATUSES_FAILED:
            failed[instance["DBInstanceIdentifier"]] = membership_status(instance, domain)
    return failed


# --- the change (returns before the API call in check mode) -----------------------------------

# What ModifyDBCluster answers for a role RDS cannot use, or cannot see yet (AWS_FACTS.md section 3).
INVALID_ROLE_MESSAGE = "IAM role provided is not valid"


def is_invalid_role(exception):
    """An InvalidParameterCombination about the IAM role (a botocore ClientError)."""
    error = getattr(exception, "response", {}).get("Error", {})
    return error.get("Code") == "InvalidParameterCombination" and INVALID_ROLE_MESSAGE in (error.get("Message") or "")


@RDSDomainErrorHandler.common_error_handler("modify the DB cluster's domain membership")
# The cluster refuses a modification while it is busy (creating, modifying, backing up): try again.
@jittered_backoff(catch_extra_error_codes=["InvalidDBClusterStateFault"])
def modify_domain(client, cluster_id, domain, iam_role_name=None, apply_immediately=True):
    """Join (domain = a directory id; the same id again retries a failed join), move, or leave (domain "none").

    apply_immediately false lets RDS put the change off to the maintenance window
    (pending-maintenance-enable-kerberos / pending-maintenance-disable-kerberos). The caller decides check mode."""
    params = {"DBClusterIdentifier": cluster_id, "Domain": domain, "ApplyImmediately": bool(apply_immediately)}
    if domain != "none":
        params["DomainIAMRoleName"] = iam_role_name
    client.modify_db_cluster(**params)
    return True


@RDSDomainErrorHandler.common_error_handler("modify the DB instance's domain membership")
# The instance refuses a modification while it is busy (creating, modifying, backing up): try again.
@jittered_backoff(catch_extra_error_codes=["InvalidDBInstanceState"])
def modify_instance_domain(client, instance_id, domain, iam_role_name=None, apply_immediately=True):
    """The same for a DB instance outside a cluster (ModifyDBInstance). The leave is DisableDomain, which the rds
    model documents for ModifyDBInstance ("remove the DB instance from the Active Directory domain")."""
    params = {"DBInstanceIdentifier": instance_id, "ApplyImmediately": bool(apply_immediately)}
    if domain == "none":
        params["DisableDomain"] = True
    else:
        params.update(Domain=domain, DomainIAMRoleName=iam_role_name)
    client.modify_db_instance(**params)
    return True


# --- waiters (no botocore waiter watches domain memberships) ----------------------------------

class DomainWaiterFactory(WaiterFactory):
    """Waiters on the cluster's and its instances' memberships of one domain.

    The domain id is part of each path, so the factory is made per domain; it is validated
    (d- and 10 hex digits) before it gets here, so it is safe inside a JMESPath literal.
    """

    def __init__(self, domain=None):
        if domain is not None and not DIRECTORY_ID.match(domain):
            raise ValueError(f"not a directory id: {domain!r}")
        self._domain = domain or "d-0000000000"
        super().__init__()

    @property
    def _waiter_model_data(self):
        domain = self._domain
        done = " || ".join(f"Status=='{s}'" for s in STATUSES_DONE)
        failed = " || ".join(f"Status=='{s}'" for s in STATUSES_FAILED)
        cluster_statuses = f"DBClusters[].DomainMemberships[?Domain=='{domain}'][].Status"
        instance_statuses = f"DBInstances[].DomainMemberships[?Domain=='{domain}'][].Status"
        failures = [dict(state="failure", matcher="pathAny", argument=cluster_statuses, expected=s)
                    for s in STATUSES_FAILED]
        instance_failures = [dict(state="failure", matcher="pathAny", argument=instance_statuses, expected=s)
                             for s in STATUSES_FAILED]
        enabled = dict(state="success", matcher="path", expected=True,
                       argument=f"length(DBClusters[].DomainMemberships[?Domain=='{domain}' && ({done})][]) > `0`")
        left = dict(state="success", matcher="path", expected=True,
                    argument="length(DBClusters[].DomainMemberships[?Status!='removed'][]) == `0`")
        # apply_immediately false: a change RDS holds for the maintenance window is accepted, not waited out.
        held_join = dict(state="success", matcher="pathAny", argument=cluster_statuses,
                         expected="pending-maintenance-enable-kerberos")
        held_leave = dict(state="success", matcher="pathAny", argument="DBClusters[].DomainMemberships[].Status",
                          expected="pending-maintenance-disable-kerberos")
        # A DB instance outside a cluster: its own membership, read with DescribeDBInstances DBInstanceIdentifier.
        instance_enabled = dict(state="success", matcher="path", expected=True,
                                argument=f"length(DBInstances[?DomainMemberships[?Domain=='{domain}' && ({done})]]) "
                                         "== length(DBInstances)")
        instance_left = dict(state="success", matcher="path", expected=True,
                             argument="length(DBInstances[].DomainMemberships[?Status!='removed'][]) == `0`")
        return dict(
            cluster_kerberos_enabled=dict(operation="DescribeDBClusters", delay=15, maxAttempts=240,
                                          acceptors=[enabled] + failures),
            cluster_kerberos_enabled_or_deferred=dict(operation="DescribeDBClusters", delay=15, maxAttempts=240,
                                                      acceptors=[enabled, held_join] + failures),
            instances_kerberos_enabled=dict(
                operation="DescribeDBInstances",
                delay=15,
                maxAttempts=240,
                acceptors=[
                    # Every instance (and so also none at all) has a done membership of this domain.
                    dict(state="success", matcher="path", expected=True,
                         argument=f"length(DBInstances[?DomainMemberships[?Domain=='{domain}' && ({done})]]) "
                                  "== length(DBInstances)"),
                ] + instance_failures,
            ),
            # A join is refused while the cluster or an instance is being created or changed.
            cluster_available=dict(
                operation="DescribeDBClusters",
                delay=15,
                maxAttempts=240,
                acceptors=[
                    dict(state="success", matcher="pathAll", argument="DBClusters[].Status", expected="available"),
                ] + [dict(state="failure", matcher="pathAny", argument="DBClusters[].Status", expected=s)
                     for s in ("failed", "deleting", "inaccessible-encryption-credentials", "incompatible-parameters")],
            ),
            instances_available=dict(
                operation="DescribeDBInstances",
                delay=15,
                maxAttempts=240,
                acceptors=[
                    dict(state="success", matcher="path", expected=True,
                         argument="length(DBInstances[?DBInstanceStatus!='available']) == `0`"),
                ] + [dict(state="failure", matcher="pathAny", argument="DBInstances[].DBInstanceStatus", expected=s)
                     for s in ("failed", "deleting", "incompatible-parameters", "incompatible-restore")],
            ),
            cluster_retry_accepted=dict(
                operation="DescribeDBClusters",
                delay=5,
                maxAttempts=24,
                acceptors=[
                    dict(state="success", matcher="path", expected=True,
                         argument=f"length(DBClusters[].DomainMemberships[?Domain=='{domain}' && ({failed})][]) "
                                  "== `0`"),
                ],
            ),
            instance_kerberos_enabled_or_deferred=dict(
                operation="DescribeDBInstances", delay=15, maxAttempts=240,
                acceptors=[instance_enabled, dict(state="success", matcher="pathAny", argument=instance_statuses,
                                                  expected="pending-maintenance-enable-kerberos")]
                + instance_failures),
            instance_retry_accepted=dict(
                operation="DescribeDBInstances", delay=5, maxAttempts=24,
                acceptors=[dict(state="success", matcher="path", expected=True,
                                argument=f"length(DBInstances[].DomainMemberships[?Domain=='{domain}' && ({failed})][]) "
                                         "== `0`")]),
            instance_domain_left_or_deferred=dict(
                operation="DescribeDBInstances", delay=15, maxAttempts=240,
                acceptors=[instance_left, dict(state="success", matcher="pathAny",
                                               argument="DBInstances[].DomainMemberships[].Status",
                                               expected="pending-maintenance-disable-kerberos")]),
            cluster_domain_left=dict(operation="DescribeDBClusters", delay=15, maxAttempts=240, acceptors=[left]),
            cluster_domain_left_or_deferred=dict(operation="DescribeDBClusters", delay=15, maxAttempts=240,
                                                 acceptors=[left, held_leave]),
            instances_domain_left=dict(
                operation="DescribeDBInstances",
                delay=15,
                maxAttempts=240,
                acceptors=[
                    dict(state="success", matcher="path", expected=True,
                         argument="length(DBInstances[].DomainMemberships[?Status!='removed'][]) == `0`"),
                ],
            ),
        )


DONE = "done"
FAILED = "failed"
TIMED_OUT = "timed out"
# apply_immediately false: RDS accepted the change and holds it for the maintenance window.
DEFERRED = "deferred to the maintenance window"


def _wait(client, factory, waiter_name, cluster_id, deadline, pause, instance=False):
    """instance: cluster_id names a DB instance outside a cluster, and the waiters read that instance."""
    if instance:
        params = {"DBInstanceIdentifier": cluster_id}
    elif waiter_name.startswith("cluster_"):
        params = {"DBClusterIdentifier": cluster_id}
    else:
        params = {"Filters": [{"Name": "db-cluster-id", "Values": [cluster_id]}]}
    remaining = max(1, math.ceil(deadline - time.monotonic()))
    factory.get_waiter(client, waiter_name).wait(
        WaiterConfig=custom_waiter_config(timeout=remaining, default_pause=pause), **params)


# Seconds between polls. A join takes AWS minutes; 5 s keeps the wait close to AWS's own time.
POLL_SECONDS = 5


def wait_for_join(client, cluster_id, domain, timeout, pause=None, deferred_ok=False, instance=False):
    """Wait until the cluster, then every instance, is joined to domain, within timeout seconds in all.
    Returns DONE, FAILED (a status says the join failed) or TIMED_OUT; with deferred_ok also DEFERRED, when the
    cluster shows pending-maintenance-enable-kerberos (then the instances are not waited for).
    instance: cluster_id is a DB instance outside a cluster; only its own membership is waited for."""
    factory = DomainWaiterFactory(domain)
    if instance:
        name = "instance_kerberos_enabled_or_deferred" if deferred_ok else "instances_kerberos_enabled"
        outcome = _wait_for(client, cluster_id, factory, (name,), timeout, pause, instance=True)
        if outcome == DONE and deferred_ok \
                and membership_status(get_instance(client, cluster_id), domain) in STATUSES_MAINTENANCE:
            return DEFERRED
        return outcome
    if not deferred_ok:
        return _wait_for(client, cluster_id, factory, ("cluster_kerberos_enabled", "instances_kerberos_enabled"),
                         timeout, pause)
    deadline = time.monotonic() + timeout
    outcome = _wait_for(client, cluster_id, factory, ("cluster_kerberos_enabled_or_deferred",), timeout, pause)
    if outcome != DONE:
        return outcome
    if membership_status(get_cluster(client, cluster_id), domain) in STATUSES_MAINTENANCE:
        return DEFERRED
    return _wait_for(client, cluster_id, factory, ("instances_kerberos_enabled",),
                     max(1, deadline - time.monotonic()), pause)


def wait_for_available(client, cluster_id, timeout, pause=None, instance=False):
    """Wait until the cluster and every instance (or the DB instance) are available. Returns DONE, FAILED or
    TIMED_OUT."""
    names = ("instances_available",) if instance else ("cluster_available", "instances_available")
    return _wait_for(client, cluster_id, DomainWaiterFactory(), names, timeout, pause, instance=instance)


def is_available(cluster, instances):
    if "DBInstanceIdentifier" in cluster:  # a DB instance outside a cluster
        return cluster.get("DBInstanceStatus") == "available"
    return cluster.get("Status") == "available" and all(i.get("DBInstanceStatus") == "available" for i in instances)


def wait_for_retry_accepted(client, cluster_id, domain, timeout=120, pause=5, instance=False):
    """After a retry of a failed join, wait (briefly) until the cluster (or DB instance) no longer reads back as
    failed. Returns DONE or TIMED_OUT; on TIMED_OUT the join waiter that follows reports the failure."""
    name = "instance_retry_accepted" if instance else "cluster_retry_accepted"
    return _wait_for(client, cluster_id, DomainWaiterFactory(domain), (name,), timeout, pause, instance=instance)


def wait_for_leave(client, cluster_id, timeout, pause=None, deferred_ok=False, instance=False):
    """Wait until neither the cluster nor any instance is a member of any domain. Returns DONE or TIMED_OUT; with
    deferred_ok also DEFERRED, when the cluster shows pending-maintenance-disable-kerberos.
    instance: cluster_id is a DB instance outside a cluster."""
    factory = DomainWaiterFactory()
    if instance:
        name = "instance_domain_left_or_deferred" if deferred_ok else "instances_domain_left"
        outcome = _wait_for(client, cluster_id, factory, (name,), timeout, pause, instance=True)
        if outcome == DONE and deferred_ok and (active_membership(get_instance(client, cluster_id)) or {}).get(
                "Status") in STATUSES_MAINTENANCE:
            return DEFERRED
        return outcome
    if not deferred_ok:
        return _wait_for(client, cluster_id, factory, ("cluster_domain_left", "instances_domain_left"), timeout, pause)
    deadline = time.monotonic() + timeout
    outcome = _wait_for(client, cluster_id, factory, ("cluster_domain_left_or_deferred",), timeout, pause)
    if outcome != DONE:
        return outcome
    if (active_membership(get_cluster(client, cluster_id)) or {}).get("Status") in STATUSES_MAINTENANCE:
        return DEFERRED
    return _wait_for(client, cluster_id, factory, ("instances_domain_left",), max(1, deadline - time.monotonic()),
                     pause)


def _wait_for(client, cluster_id, factory, waiter_names, timeout, pause, instance=False):
    pause = pause or POLL_SECONDS
    deadline = time.monotonic() + timeout
    for waiter_name in waiter_names:
        try:
            _wait(client, factory, waiter_name, cluster_id, deadline, pause, instance=instance)
        except botocore.exceptions.WaiterError as e:
            reason = str(e)
            if "terminal failure state" in reason:
                return FAILED
            if "Max attempts exceeded" in reason:
                return TIMED_OUT
            raise AnsibleRDSDomainError(message=f"Failed while waiting for the domain membership of {cluster_id}",
                                        exception=e) from e
    return DONE
