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

from ansible_collections.amazon.aws.plugins.module_utils.rds import describe_db_cluster_parameter_groups
from ansible_collections.amazon.aws.plugins.module_utils.rds import describe_db_cluster_parameters

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
