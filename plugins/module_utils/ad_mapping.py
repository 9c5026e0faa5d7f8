# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AD security group -> database role mappings with Aurora's pg_ad_mapping extension.

A mapping cannot be edited: a changed one is reset (pgadmap_reset_mapping(sid, role, weight)),
then set again (pgadmap_set_mapping(group, role, sid, weight)). Mapped roles get LOGIN and CONNECT,
and must never be in rds_ad (AWS_FACTS: users of a mapped group log in as the role).

Before any mapping, AWS's set-up (AWS_FACTS.md section 6): pg_ad_mapping must be in
shared_preload_libraries (a custom DB cluster parameter group, then a reboot of the writer), and
CREATE EXTENSION pg_ad_mapping runs in the same transaction as the first mappings."""

import re

from ansible_collections.aurora.kerberos.plugins.module_utils.logins import KERBEROS_ROLE
from ansible_collections.aurora.kerberos.plugins.module_utils.logins import LoginsError
from ansible_collections.aurora.kerberos.plugins.module_utils.logins import Plan
from ansible_collections.aurora.kerberos.plugins.module_utils.logins import validate_object_name

SID_PATTERN = re.compile(r"^S-1-[0-9]+(-[0-9]+){1,14}$")
EXTENSION = "pg_ad_mapping"
CREATE_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_ad_mapping"
# What to do when the library is not preloaded: the collection's roles, then any other way (AWS_FACTS 6).
PRELOAD_FIX = ("with the aurora.kerberos roles, run the cluster role with db_users_group_mappings set (or "
               "cluster_pg_ad_mapping: true, optionally with cluster_parameter_group_name): it puts pg_ad_mapping in "
               "shared_preload_libraries of the cluster's custom DB cluster parameter group and reboots the writer; "
               "otherwise add pg_ad_mapping to shared_preload_libraries of a custom DB cluster parameter group "
               "attached to the cluster and reboot the writer instance")


def validate_mappings(entries, default_databases):
    """[{ad_group, sid, role, weight, databases}] normalised, or LoginsError naming each bad entry."""
    problems = []
    seen = {}
    wanted = []
    for index, entry in enumerate(entries):
        where = f"mappings[{index}]"
        sid = entry.get("sid") or ""
        if not SID_PATTERN.match(sid):
            problems.append(f"{where}.sid {sid!r} is not a SID: use the group's SID from aurora.kerberos.ad_group (group.sid, S-1-5-21-...)")
        group = entry.get("ad_group")
        if not isinstance(group, str) or not group.strip():
            problems.append(f"{where}.ad_group is empty: give the group's name (group.name of aurora.kerberos.ad_group)")
        problem = validate_object_name(entry.get("role"), f"{where}.role")
        if problem:
            problems.append(problem)
        if entry.get("role") == KERBEROS_ROLE:
            problems.append(f"{where}.role is {KERBEROS_ROLE}: map groups to a role of their own")
        databases = entry.get("databases")
        databases = sorted(set(default_databases if databases is None else databases))
        for db in databases:
            problem = validate_object_name(db, f"{where}.databases")
            if problem:
                problems.append(problem)
        key = (sid, entry.get("role"))
        if key in seen:
            problems.append(f"{where} maps {sid} to {entry.get('role')} again ({seen[key]} already does): give each pair once")
        seen[key] = where
        wanted.append({"ad_group": entry.get("ad_group"), "sid": sid, "role": entry.get("role"),
                       "weight": entry.get("weight"), "databases": databases})
    if problems:
        raise LoginsError(f"Refused before any change: {'; '.join(problems)}.")
    return wanted


def preloaded_libraries(cursor):
    """shared_preload_libraries as the server runs with it (the master user may read it on Aurora)."""
    cursor.execute("SHOW shared_preload_libraries")
    return [name.strip().strip('"') for name in (cursor.fetchone()[0] or "").split(",") if name.strip()]


def extension_state(cursor, needed):
    """Whether CREATE EXTENSION pg_ad_mapping is still to run (True) or was run (False), read before any
    write; when `needed` (mappings to set), LoginsError naming the fix if the library is not preloaded,
    whether or not the extension was created (a library taken out of the group leaves the extension)."""
    if needed:
        libraries = preloaded_libraries(cursor)
        if EXTENSION not in libraries:
            has = ", ".join(libraries) or "nothing"
            raise LoginsError("Refused before any change: pg_ad_mapping is not in shared_preload_libraries of this "
                              f"cluster (it has: {has}), so CREATE EXTENSION pg_ad_mapping and the mappings cannot work: "
                              f"{PRELOAD_FIX}.")
    cursor.execute("SELECT extversion FROM pg_extension WHERE extname = %s", (EXTENSION,))
    if cursor.fetchall():
        return False
    if not needed:
        return True  # nothing to reset or set: no extension, no mappings
    cursor.execute("SELECT count(*) FROM pg_available_extensions WHERE name = %s", (EXTENSION,))
    if not cursor.fetchone()[0]:
        raise LoginsError("Refused before any change: this engine has no pg_ad_mapping extension: AD group mappings "
                          "need Aurora PostgreSQL 14.10+ or 15.5+ (upgrade the cluster's engine version)")
    return True


def read_mappings(cursor, missing_extension=False):
    """The current mappings (none when the extension is still to be created)."""
    if missing_extension:
        return []
    cursor.execute("SELECT ad_sid, pg_role, weight, ad_grp FROM pgadmap_read_mapping()")
    return [{"sid": sid, "role": role, "weight": weight, "ad_group": group}
            for sid, role, weight, group in cursor.fetchall()]


def _needs_connect(catalog, role, db):
    """Whether role needs its own CONNECT grant: it has none, and PUBLIC may not connect either."""
    return not catalog.databases[db]["public_connect"] and role not in catalog.databases[db]["connect"]


def _reset(plan, mapping):
    plan.add("SELECT pgadmap_reset_mapping(%s, %s, %s)", params=(mapping["sid"], mapping["role"], mapping["weight"]))
    plan.reset.append(mapping)


def plan_mappings(wanted, state, existing, catalog, exclusive=False, create_extension=False):
    """Statements that make the mappings (and their roles) match, or LoginsError naming each offender.
    With create_extension, CREATE EXTENSION pg_ad_mapping comes first (when there is a mapping to set)."""
    plan = Plan()
    plan.set, plan.reset = [], []
    plan.extension_created = False
    current = dict(((m["sid"], m["role"]), m) for m in existing)
    problems = []
    if state == "present":
        for item in wanted:
            role = item["role"]
            if role in catalog.roles:
                path = catalog.path_to(role, KERBEROS_ROLE)
                if path:
                    problems.append(f"{role} is in {KERBEROS_ROLE} ({' -> '.join(path)}): a mapped role must never be; revoke it")
            for db in item["databases"]:
                if db not in catalog.databases:
                    problems.append(f"database {db} of {role} does not exist")
                elif _needs_connect(catalog, role, db) and not catalog.databases[db]["can_grant"]:
                    problems.append(f"{catalog.user} cannot grant CONNECT on {db} (not the owner, no grant option)")
    if problems:
        raise LoginsError(f"Refused before any change: {'; '.join(problems)}.")

    keys = set((item["sid"], item["role"]) for item in wanted)
    if state == "present":
        for item in wanted:
            role = item["role"]
            if role not in catalog.roles:
                plan.add("CREATE ROLE {} LOGIN", role)
                plan.created.append(role)
            elif not catalog.roles[role]["login"]:
                plan.add("ALTER ROLE {} LOGIN", role)
            for db in item["databases"]:
                if _needs_connect(catalog, role, db):
                    plan.add("GRANT CONNECT ON DATABASE {} TO {}", db, role)
                    plan.granted.append({"database": db, "role": role})
            mapping = dict((k, item[k]) for k in ("sid", "role", "weight", "ad_group"))
            old = current.get((item["sid"], role))
            if old == mapping:
                continue
            if old:
                _reset(plan, old)
            plan.add("SELECT pgadmap_set_mapping(%s, %s, %s, %s)",
                     params=(item["ad_group"], role, item["sid"], item["weight"]))
            plan.set.append(mapping)
        if create_extension and wanted:
            plan.statements.insert(0, (CREATE_EXTENSION, (), None))
            plan.extension_created = True
    else:
        for key in sorted(keys):
            if key in current:
                _reset(plan, current[key])
    if exclusive:
        for key in sorted(current):
            if key not in keys:
                _reset(plan, current[key])
    return plan


def after(existing, plan):
    """The mappings once the plan has run."""
    gone = set((m["sid"], m["role"], m["weight"]) for m in plan.reset)
    result = [m for m in existing if (m["sid"], m["role"], m["weight"]) not in gone] + plan.set
    return sorted(result, key=lambda m: (m["sid"], m["role"]))
