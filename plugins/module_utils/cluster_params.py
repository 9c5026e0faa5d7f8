# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An Aurora cluster's custom DB cluster parameter group, as pg_ad_mapping and krb_caseins_users need it
(AWS_FACTS.md sections 5 and 6): found or created for the engine's family, the libraries added to
shared_preload_libraries (the ones already listed are kept), other parameters set, the group attached
to the cluster, and the writer rebooted when a static change waits for it.

amazon.aws.rds_cluster_param_group sets whole values (it cannot add one library to a list), reports
nothing about pending reboots, and rds_instance state=rebooted reboots every time; this is the part
they lack. The reads reuse amazon.aws's RDS helpers.
"""

import datetime
import re
import time

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule says so


from ansible_collections.amazon.aws.plugins.module_utils.rds import describe_db_cluster_parameter_groups
from ansible_collections.amazon.aws.plugins.module_utils.rds import describe_db_cluster_parameters

from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.rds_domain import STATUSES_DONE
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

ENGINE = "aurora-postgresql"
PRELOAD = "shared_preload_libraries"
PG_AD_MAPPING = "pg_ad_mapping"
# AD.Security.Groups, "Important": clusters created before April 2025 that already have Kerberos can fail AD
# logins (and crash the engine) once pg_ad_mapping is preloaded, until Kerberos is disabled and re-enabled.
REJOIN_BEFORE = datetime.datetime(2025, 4, 1, tzinfo=datetime.timezone.utc)
MAX_PER_CALL = 20  # ModifyDBClusterParameterGroup takes at most 20 parameters per request
_GROUP_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
_LIBRARY = re.compile(r"^[a-z0-9_]+$")


def input_problems(name=None, libraries=(), parameters=None):
    """Every problem with the inputs, each naming the option and the fix."""
    problems = []
    if name is not None and (not _GROUP_NAME.match(name) or name.lower().startswith("default.")):
        problems.append(f"name {name!r} is not a custom DB cluster parameter group name: 1-255 letters, digits or "
                        "hyphens, starting with a letter, no trailing or doubled hyphen, not default.* (a default "
                        "group cannot be modified)")
    for library in libraries:
        if not _LIBRARY.match(library or ""):
            problems.append(f"preload_libraries entry {library!r} is not a library name: use e.g. pg_ad_mapping")
    for key in (parameters or {}):
        if key == PRELOAD:
            problems.append(f"parameters must not set {PRELOAD}: give the libraries in preload_libraries "
                            "(the ones already listed are kept)")
    return problems


def family(engine_version):
    """aurora-postgresql<major> for an engine version such as 16.6."""
    return f"{ENGINE}{str(engine_version).split('.', maxsplit=1)[0]}"


def default_family(client):
    """The family of the engine version AWS creates by default (DescribeDBEngineVersions DefaultOnly)."""
    versions = jittered_backoff()(client.describe_db_engine_versions)(Engine=ENGINE, DefaultOnly=True)["DBEngineVersions"]
    return versions[0]["DBParameterGroupFamily"] if versions else None


def split_list(value):
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def plan_parameters(current_rows, libraries, parameters):
    """The ModifyDBClusterParameterGroup entries that make the group hold `libraries` in
    shared_preload_libraries (appended, the others kept) and `parameters` as given, from
    DescribeDBClusterParameters' rows. Returns (changes, problems)."""
    rows = dict((row["ParameterName"], row) for row in current_rows)
    changes, problems = [], []
    if libraries:
        row = rows.get(PRELOAD)
        if row is None:
            problems.append(f"the group has no {PRELOAD} parameter: it is not an Aurora PostgreSQL group")
        else:
            have = split_list(row.get("ParameterValue"))
            allowed = split_list(row.get("AllowedValues"))
            missing = [lib for lib in libraries if lib not in have]
            unknown = [lib for lib in missing if allowed and lib not in allowed]
            if unknown:
                problems.append(f"{PRELOAD} cannot hold {', '.join(unknown)} on this engine (allowed: "
                                f"{', '.join(allowed)}): check the name, or upgrade the engine version")
            elif missing:
                changes.append({"ParameterName": PRELOAD, "ParameterValue": ",".join(have + missing),
                                "ApplyMethod": "pending-reboot"})
    for name, value in sorted((parameters or {}).items()):
        row = rows.get(name)
        if row is None:
            problems.append(f"the group has no parameter {name}: check the name")
            continue
        if not row.get("IsModifiable", True):
            problems.append(f"parameter {name} cannot be modified")
            continue
        if row.get("ParameterValue") == str(value):
            continue
        method = "immediate" if row.get("ApplyType") == "dynamic" else "pending-reboot"
        changes.append({"ParameterName": name, "ParameterValue": str(value), "ApplyMethod": method})
    return changes, problems


def is_static(change, current_rows):
    row = next((r for r in current_rows if r["ParameterName"] == change["ParameterName"]), {})
    return row.get("ApplyType", "static") != "dynamic"


def find_group(module, client, name):
    groups = describe_db_cluster_parameter_groups(module, client, name)
    return groups[0] if groups else None


def read_parameters(module, client, name):
    return describe_db_cluster_parameters(module, client, name)


def members_writer_first(cluster, status=None):
    """The cluster's instances (those in DBClusterParameterGroupStatus `status`, if given), the writer first."""
    members = [m for m in cluster.get("DBClusterMembers", []) if status is None or m.get("DBClusterParameterGroupStatus") == status]
    return [m["DBInstanceIdentifier"] for m in sorted(members, key=lambda m: not m.get("IsClusterWriter"))]


def pending_members(cluster):
    """The members that wait for a reboot to take the group's static parameters, the writer first."""
    return members_writer_first(cluster, "pending-reboot")


def rejoin_advised(cluster):
    """AWS's trap: Kerberos already enabled on a cluster created before 2025-04-01 (ClusterCreateTime)."""
    created = cluster.get("ClusterCreateTime")
    if created is None:
        return False
    if isinstance(created, str):
        created = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=datetime.timezone.utc)
    kerberos = any(m.get("Status") in STATUSES_DONE for m in cluster.get("DomainMemberships", []))
    return kerberos and created < REJOIN_BEFORE


def chunks(changes):
    return [changes[i:i + MAX_PER_CALL] for i in range(0, len(changes), MAX_PER_CALL)]


# --- the whole group (cluster_parameter_group and cluster_create) --------------------------------

def read_cluster(module, client, cluster_id):
    """The cluster in AWS's keys, None when there is none (rds_domain's reader); fails the module on an error."""
    try:
        return rds_domain.get_cluster(client, cluster_id)
    except rds_domain.AnsibleRDSDomainError as e:
        module.fail_json_aws_error(e)


def from_described(cluster):
    """The keys this module uses of a cluster given as cluster_info returns it (snake_case), in AWS's names."""
    return {
        "EngineVersion": cluster.get("engine_version"),
        "DBClusterParameterGroup": cluster.get("db_cluster_parameter_group"),
        "ClusterCreateTime": cluster.get("cluster_create_time"),
        "DBClusterMembers": [{"DBInstanceIdentifier": m.get("db_instance_identifier"),
                              "IsClusterWriter": m.get("is_cluster_writer"),
                              "DBClusterParameterGroupStatus": m.get("db_cluster_parameter_group_status")}
                             for m in cluster.get("db_cluster_members") or []],
        "DomainMemberships": [{"Domain": m.get("domain"), "Status": m.get("status")}
                              for m in cluster.get("domain_memberships") or []],
    }


def wait_available(module, client, params, deadline):
    outcome = rds_domain.wait_for_available(client, params["cluster_id"], max(1, deadline - time.monotonic()),
                                            pause=params["poll_interval"])
    if outcome != rds_domain.DONE:
        module.fail_json(msg=f"Cluster {params['cluster_id']} or an instance of it is not available "
                             f"({outcome}) within wait_timeout {params['wait_timeout']} s: raise wait_timeout, "
                             "or look at the cluster's events")


def ensure(module, client, params, cluster):
    """The cluster's parameter group as params ask (cluster_parameter_group's options), cluster as read (AWS's
    keys; None when it does not exist yet: only the group is made, for the create to name). Returns the module
    result; fails the module on an error. cluster_parameter_group and cluster_create both run it."""
    cluster_id = params["cluster_id"]
    deadline = time.monotonic() + params["wait_timeout"]
    errors = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)

    try:
        group_family = family(cluster["EngineVersion"] if cluster else params["engine_version"]) \
            if (cluster or params["engine_version"]) else default_family(client)
    except errors as e:
        module.fail_json_aws(e, msg="Cannot read the default engine version of aurora-postgresql")
    current_name = (cluster or {}).get("DBClusterParameterGroup") or ""
    name = params["name"] or (current_name if current_name and not current_name.startswith("default.")
                              else f"{cluster_id}-params")

    # The cluster's own group exists and is of its family (AWS allows no other): no read needed on a converged run.
    group = {"DBParameterGroupFamily": group_family} if cluster and name == current_name else find_group(module, client, name)
    if group is not None and group["DBParameterGroupFamily"] != group_family:
        module.fail_json(msg=f"Refused before any change: parameter group {name} is of family "
                             f"{group['DBParameterGroupFamily']}, but cluster {cluster_id} needs {group_family}: name a "
                             f"group of that family, or a new name for the module to create")
    created = group is None
    if created and not module.check_mode:
        try:
            jittered_backoff()(client.create_db_cluster_parameter_group)(
                DBClusterParameterGroupName=name, DBParameterGroupFamily=group_family,
                Description=params["description"] or f"aurora.kerberos: {cluster_id} ({group_family})",
                **({"Tags": [{"Key": k, "Value": v} for k, v in params["tags_on_create"].items()]}
                   if params["tags_on_create"] else {}))
        except errors as e:
            module.fail_json_aws(e, msg=f"Cannot create DB cluster parameter group {name}")

    if created and module.check_mode:
        rows = []
        changes = ([{"ParameterName": PRELOAD, "ParameterValue": ",".join(params["preload_libraries"]),
                     "ApplyMethod": "pending-reboot"}] if params["preload_libraries"] else [])
        changes += [{"ParameterName": k, "ParameterValue": str(v), "ApplyMethod": "pending-reboot"}
                    for k, v in sorted(params["parameters"].items())]
    else:
        rows = read_parameters(module, client, name)
        changes, problems = plan_parameters(rows, params["preload_libraries"], params["parameters"])
        if problems:
            module.fail_json(msg=f"Refused before any change to {name}: {'; '.join(problems)}.")
    if changes and not module.check_mode:
        for chunk in chunks(changes):
            try:
                jittered_backoff()(client.modify_db_cluster_parameter_group)(DBClusterParameterGroupName=name,
                                                                             Parameters=chunk)
            except errors as e:
                module.fail_json_aws(e, msg=f"Cannot set {', '.join(c['ParameterName'] for c in chunk)} in {name}")

    attached = bool(cluster) and current_name != name
    if attached and not module.check_mode:
        if params["wait"]:
            wait_available(module, client, params, deadline)
        try:
            jittered_backoff()(client.modify_db_cluster)(DBClusterIdentifier=cluster_id, DBClusterParameterGroupName=name,
                                                         ApplyImmediately=True)
        except errors as e:
            module.fail_json_aws(e, msg=f"Cannot attach parameter group {name} to cluster {cluster_id}")

    rebooted, pending = [], []
    if cluster:
        if module.check_mode:
            static = attached or any(created or is_static(c, rows) for c in changes)
            pending = members_writer_first(cluster) if static else pending_members(cluster)
        elif created or changes or attached:
            pending = pending_members(read_cluster(module, client, cluster_id) or {})
        else:  # nothing written: the statuses read first still hold
            pending = pending_members(cluster)
        if params["reboot"] and pending:
            rebooted, pending = pending, []
            for instance_id in ([] if module.check_mode else rebooted):
                wait_available(module, client, params, deadline)
                try:
                    jittered_backoff()(client.reboot_db_instance)(DBInstanceIdentifier=instance_id)
                except errors as e:
                    module.fail_json_aws(e, msg=f"Cannot reboot {instance_id} to apply parameter group {name}")
            if rebooted and params["wait"] and not module.check_mode:
                wait_available(module, client, params, deadline)

    loads_pg_ad_mapping = PG_AD_MAPPING in params["preload_libraries"] and (
        attached or rebooted or any(c["ParameterName"] == PRELOAD for c in changes))
    rejoin = bool(cluster) and loads_pg_ad_mapping and rejoin_advised(cluster)
    if rejoin:
        module.warn(f"Cluster {cluster_id} has Kerberos enabled and was created before April 2025: with pg_ad_mapping "
                    "preloaded, AD logins of users who are not rds_ad members can fail and the engine can crash "
                    "(AWS AD.Security.Groups, Important). Disable and re-enable Kerberos on the cluster.")
    result = dict(
        changed=bool(created or changes or attached or rebooted),
        parameter_group=dict(name=name, family=group_family, created=created),
        changes=changes, attached=attached, rebooted=rebooted, pending_reboot=pending,
        cluster_exists=bool(cluster), rejoin_advised=rejoin,
    )
    if module._diff:
        result["diff"] = dict(
            before={"parameter_group": current_name or None,
                    "parameters": dict((c["ParameterName"], next((r.get("ParameterValue") for r in rows
                                                                  if r["ParameterName"] == c["ParameterName"]), None))
                                       for c in changes)},
            after={"parameter_group": name if cluster else None,
                   "parameters": dict((c["ParameterName"], c["ParameterValue"]) for c in changes)})
    return result
