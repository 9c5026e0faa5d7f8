# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kerberos logins (rds_ad) on Aurora PostgreSQL, the whole list at once.

validate_* refuse bad input before anything is read; read_catalog reads roles, memberships and
database grants in three queries; plan_logins computes every statement (or refuses, naming each
offender) without touching the server; execute runs the statements in the caller's transaction.
Statements are (template, identifiers, parameters): the driver quotes every identifier and every
parameter when it renders them.
"""

KERBEROS_ROLE = "rds_ad"
IAM_ROLE = "rds_iam"
MAX_NAME_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names
# What an AD logon name (sAMAccountName) cannot hold, plus "@": the module adds the realm.
FORBIDDEN_IN_LOGON_NAME = '"/\\[]:;|=,+*?<>@'
BATCH = 500  # statements per round trip


class LoginsError(Exception):
    """Input or state the module refuses; the message names the offenders and the fix."""


# --- input ----------------------------------------------------------------------------------

def _name_problem(value):
    if not isinstance(value, str) or not value.strip():
        return "is empty"
    if value != value.strip():
        return "starts or ends with a space"
    for char in value:
        if ord(char) < 32 or ord(char) == 127:
            return f"contains a control character ({char!r})"
    return None


def validate_realm(realm):
    """The realm in upper case, as Kerberos names it (CORP.EXAMPLE.COM)."""
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
    if not realm or not set(realm.upper()) <= allowed or realm.startswith(".") or realm.endswith("."):
        raise LoginsError(f"realm {realm!r} is not a Kerberos realm: use the directory's DNS name in upper case, for example CORP.EXAMPLE.COM")
    return realm.upper()


def validate_object_name(value, option):
    """A role or database name we only quote: anything PostgreSQL can store, up to 63 bytes."""
    problem = _name_problem(value)
    if problem is None and len(value.encode("utf-8")) > MAX_NAME_BYTES:
        problem = f"is {len(value.encode('utf-8'))} bytes long; PostgreSQL names stop at {MAX_NAME_BYTES}"
    if problem:
        return f"{option} {value!r} {problem}"
    return None


def login_for(name, realm):
    """The login PostgreSQL matches to the Kerberos principal: lower-case name, @, upper-case realm."""
    return f"{name.lower()}@{realm}"


def realm_problem(value, realm, realms, any_realm=False):
    """What is wrong with a login's own realm: not a realm, or neither the directory's nor one it trusts (realms:
    every realm the task may make logins in; None when only the directory's is known); with any_realm (a login
    dropped) only the first. None when it passes."""
    try:
        upper = validate_realm(value)
    except LoginsError as e:
        return str(e)
    if any_realm or upper == realm or (realms is not None and upper in realms):
        return None
    if realms is None:
        return (f"realm {upper} is not the directory's ({realm}): give the realms the directory trusts "
                "(trusted_realms, or directory_id to read them from its trusts)")
    trusted = sorted(set(realms) - {realm})
    return (f"realm {upper} is neither the directory's ({realm}) nor one it trusts "
            f"({', '.join(trusted) or 'no trust'}): create the forest trust first, or fix the realm")


def validate_logins(entries, realm, default_state, option="logins", realms=None):
    """[{name, realm, state, roles, databases}] -> [{name, realm, login, state, roles, databases}], or LoginsError
    naming every bad entry at once. An entry's realm defaults to the directory's (realm); another must be in
    realms, the realms the directory trusts."""
    problems = []
    seen = {}
    wanted = []
    for index, entry in enumerate(entries):
        where = f"{option}[{index}]"
        name = entry.get("name")
        own_realm = realm
        if entry.get("realm") is not None:
            # Only a login that is made needs a realm the directory trusts: one of a forest no longer trusted (its
            # trust deleted first, as a teardown does) must still be droppable.
            dropped = (entry.get("state") or default_state) == "absent"
            problem = realm_problem(entry["realm"], realm, realms, any_realm=dropped)
            if problem:
                problems.append(f"{where}.{problem}")
                continue
            own_realm = entry["realm"].upper()
        problem = _name_problem(name)
        if problem is None:
            bad = sorted(set(c for c in name if c in FORBIDDEN_IN_LOGON_NAME))
            if bad:
                problem = f"contains {' '.join(bad)}, which an AD logon name cannot hold{' (give the name without @REALM)' if bad == ['@'] else ''}"
        if problem is None:
            login = login_for(name, own_realm)
            size = len(login.encode("utf-8"))
            if size > MAX_NAME_BYTES:
                problem = f"makes the login {login!r} of {size} bytes; PostgreSQL names stop at {MAX_NAME_BYTES}"
            elif login in seen:
                problem = f"is the same login as {seen[login][0]}.name {seen[login][1]!r} (names are compared in lower case)"
        if problem:
            problems.append(f"{where}.name {name!r} {problem}")
            continue
        seen[login] = (where, name)
        item = {"name": name, "realm": own_realm, "login": login, "state": entry.get("state") or default_state,
                "roles": entry.get("roles"), "databases": entry.get("databases")}
        for key in ("roles", "databases"):
            for value in item[key] or []:
                problem = validate_object_name(value, f"{where}.{key}")
                if problem:
                    problems.append(problem)
            if item[key] is not None:
                item[key] = sorted(set(item[key]))
        if item["roles"] and KERBEROS_ROLE in item["roles"]:
            item["roles"].remove(KERBEROS_ROLE)  # every present login gets it anyway
        if item["roles"] and IAM_ROLE in item["roles"]:
            problems.append(f"{where}.roles lists {IAM_ROLE}: a Kerberos login must never hold both {KERBEROS_ROLE} and {IAM_ROLE}")
        wanted.append(item)
    if problems:
        raise LoginsError(f"Refused before any change: {'; '.join(problems)}. Fix or remove these entries.")
    return wanted


# --- the catalogs ---------------------------------------------------------------------------

class Catalog(object):
    """Roles, direct memberships and database CONNECT grants, as read in one transaction."""

    def __init__(self, user, database, caseins, roles, memberships, databases):
        self.user = user
        self.database = database
        self.caseins = caseins
        self.roles = roles  # name -> {"oid", "login"}
        self.member_of = {}  # member -> set of roles granted to it directly
        for member, role in memberships:
            self.member_of.setdefault(member, set()).add(role)
        self.databases = databases  # name -> {"connect": grantees, "can_grant": bool, "public_connect": bool}
        self._by_lower = {}
        self._connect_of = None
        for name in roles:
            self._by_lower.setdefault(name.lower(), []).append(name)

    def find(self, login):
        """The existing role for this login: exact, or with krb_caseins_users the one that matches in
        any case. LoginsError when several do (PostgreSQL could not tell them apart)."""
        if login in self.roles and not self.caseins:
            return login
        if not self.caseins:
            return None
        matches = sorted(self._by_lower.get(login.lower(), []))
        if len(matches) > 1:
            raise LoginsError(f"krb_caseins_users is on and {', '.join(matches)} all match the login {login}: drop all but one")
        return matches[0] if matches else None

    def path_to(self, role, target, member_of=None):
        """The chain of roles from role to target through memberships ([role, ..., target]), or None."""
        member_of = self.member_of if member_of is None else member_of
        seen = {role}
        frontier = [[role]]
        while frontier:
            next_frontier = []
            for path in frontier:
                for parent in sorted(member_of.get(path[-1], ())):
                    if parent == target:
                        return path + [parent]
                    if parent not in seen:
                        seen.add(parent)
                        next_frontier.append(path + [parent])
            frontier = next_frontier
        return None

    def connect_of(self, role):
        if self._connect_of is None:  # one pass over the grants, not one per login
            self._connect_of = {}
            for name, db in self.databases.items():
                for grantee in db["connect"]:
                    self._connect_of.setdefault(grantee, set()).add(name)
        return set(self._connect_of.get(role, ()))


def truthy_setting(value):
    return str(value or "").strip().lower() in ("on", "true", "yes", "1")


def read_catalog(cursor):
    cursor.execute("SELECT current_user, current_database(), current_setting('krb_caseins_users', true)")
    user, database, caseins = cursor.fetchone()
    cursor.execute("SELECT oid, rolname, rolcanlogin FROM pg_catalog.pg_roles")
    rows = cursor.fetchall()
    roles = dict((name, {"oid": oid, "login": login}) for oid, name, login in rows)
    names = dict((oid, name) for oid, name, login in rows)
    cursor.execute("SELECT member, roleid FROM pg_catalog.pg_auth_members")
    memberships = [(names[member], names[role]) for member, role in cursor.fetchall()
                   if member in names and role in names]
    # can_grant: the master user owns the database or holds CONNECT WITH GRANT OPTION; otherwise
    # PostgreSQL answers a GRANT with a warning and grants nothing.
    cursor.execute(
        "SELECT d.datname,"
        " ARRAY(SELECT a.grantee FROM aclexplode(d.datacl) a WHERE a.privilege_type = 'CONNECT' AND a.grantee <> 0),"
        " pg_catalog.pg_has_role(d.datdba, 'USAGE')"
        " OR pg_catalog.has_database_privilege(d.oid, 'CONNECT WITH GRANT OPTION'),"
        " d.datacl IS NULL OR EXISTS (SELECT FROM aclexplode(d.datacl) a"
        "                             WHERE a.privilege_type = 'CONNECT' AND a.grantee = 0)"
        " FROM pg_catalog.pg_database d WHERE NOT d.datistemplate")
    databases = dict((name, {"connect": set(names[g] for g in grantees if g in names), "can_grant": can_grant,
                             "public_connect": public})
                     for name, grantees, can_grant, public in cursor.fetchall())
    return Catalog(user, database, truthy_setting(caseins), roles, memberships, databases)


def read_dependencies(cursor, catalog, logins):
    """{login: [{"database", "shared", "owned", "count"}]}: what DROP ROLE would trip over (pg_shdepend)."""
    oids = dict((catalog.roles[login]["oid"], login) for login in logins)
    if not oids:
        return {}
    cursor.execute(
        "SELECT d.refobjid, coalesce(db.datname, ''), d.dbid = 0, d.deptype = 'o', count(*)"
        " FROM pg_catalog.pg_shdepend d LEFT JOIN pg_catalog.pg_database db ON db.oid = d.dbid"
        " WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass AND d.refobjid = ANY(%s)"
        " GROUP BY 1, 2, 3, 4 ORDER BY 2, 3, 4", (sorted(oids),))
    found = {}
    for oid, database, shared, owned, count in cursor.fetchall():
        found.setdefault(oids[oid], []).append(
            {"database": database, "shared": shared, "owned": owned, "count": count})
    return found


# --- the plan -------------------------------------------------------------------------------

class Plan(object):
    def __init__(self):
        self.statements = []
        self.created = []
        self.dropped = []
        self.granted = []
        self.revoked = []
        self.before = {}
        self.after = {}

    def add(self, template, *identifiers, **kwargs):
        self.statements.append((template, identifiers, kwargs.get("params")))

    @property
    def changed(self):
        return bool(self.statements)


def _describe(dependencies):
    parts = []
    for dep in dependencies:
        what = f"owns {dep['count']} object(s)" if dep["owned"] else f"holds {dep['count']} privilege(s)"
        where = "shared objects such as databases" if dep["shared"] else f"database {dep['database']}"
        parts.append(f"{what} in {where}")
    return ", ".join(parts)


def drop_candidates(wanted, catalog, realms, exclusive):
    """Existing roles to drop: entries marked absent, and with exclusive every other Kerberos login
    (a direct member of rds_ad named <name>@<realm>, for each of realms: one realm or a list)."""
    drops = []
    for item in wanted:
        if item["state"] == "absent":
            existing = catalog.find(item["login"])
            if existing:
                drops.append(existing)
    if exclusive:
        keep = set()
        for item in wanted:
            if item["state"] == "present":
                keep.add(catalog.find(item["login"]) or item["login"])
        suffixes = tuple("@" + realm for realm in ([realms] if isinstance(realms, str) else realms))
        for role in sorted(catalog.roles):
            is_kerberos = (role.lower().endswith(tuple(x.lower() for x in suffixes)) if catalog.caseins
                           else role.endswith(suffixes))
            if (is_kerberos and KERBEROS_ROLE in catalog.member_of.get(role, ()) and role not in keep
                    and role not in drops and role != catalog.user):
                drops.append(role)
    return drops


def _state_of(login, member_of, connect):
    return {"member_of": sorted(member_of), "connect": sorted(connect)}


def plan_logins(wanted, catalog, realm, drops, dependencies, reassign_owned_to=None, migrate_from_iam=False):
    """Every statement that brings the catalog to `wanted`, or LoginsError naming each offender.
    Nothing is executed here."""
    if KERBEROS_ROLE not in catalog.roles:
        raise LoginsError(f"Role {KERBEROS_ROLE} does not exist in this cluster: is this Aurora PostgreSQL joined to a "
                          "directory (Kerberos authentication enabled)?")
    problems = []
    plan = Plan()
    present = [item for item in wanted if item["state"] == "present"]

    # Roles and databases the entries refer to must exist before anything is written.
    missing_roles, missing_dbs, no_grant = set(), set(), set()
    for item in present:
        missing_roles.update(r for r in item["roles"] or [] if r not in catalog.roles)
        for db in item["databases"] or []:
            if db not in catalog.databases:
                missing_dbs.add(db)
            elif not catalog.databases[db]["can_grant"]:
                no_grant.add(db)
    if missing_roles:
        problems.append(f"roles {', '.join(sorted(missing_roles))} do not exist: create them first")
    if missing_dbs:
        problems.append(f"databases {', '.join(sorted(missing_dbs))} do not exist")
    if no_grant:
        problems.append(f"{catalog.user} cannot grant CONNECT on {', '.join(sorted(no_grant))} (not the owner, no grant "
                        "option): grant it CONNECT WITH GRANT OPTION or leave these databases out")

    # The memberships every managed login will have afterwards, to check rds_ad/rds_iam on them.
    after_member_of = dict((k, set(v)) for k, v in catalog.member_of.items())
    steps = []
    for item in present:
        existing = catalog.find(item["login"])
        login = existing or item["login"]
        item["login"] = login
        current = set(catalog.member_of.get(login, ()))
        target = set(current) if item["roles"] is None else set(item["roles"]) | (current & {KERBEROS_ROLE, IAM_ROLE})
        target.add(KERBEROS_ROLE)
        if migrate_from_iam:
            target.discard(IAM_ROLE)
        current_connect = catalog.connect_of(login)
        target_connect = current_connect if item["databases"] is None else set(item["databases"])
        after_member_of[login] = target
        steps.append((item, existing, current, target, current_connect, target_connect))

    for item, existing, current, target, current_connect, target_connect in steps:
        path = catalog.path_to(item["login"], IAM_ROLE, after_member_of)
        if path:
            if len(path) == 2:
                fix = f"set migrate_from_iam to revoke it, or REVOKE {IAM_ROLE} FROM the login"
            else:
                fix = f"revoke {path[-1]} from {path[-2]}, or leave {path[1]} out of the login's roles"
            problems.append(f"{item['login']} would hold both {KERBEROS_ROLE} and {IAM_ROLE} ({' -> '.join(path)}): {fix}")

    drop_set = set(drops)
    if reassign_owned_to is not None:
        if reassign_owned_to not in catalog.roles:
            problems.append(f"reassign_owned_to {reassign_owned_to!r} does not exist: create it or name an existing role")
        elif reassign_owned_to in drop_set:
            problems.append(f"reassign_owned_to {reassign_owned_to!r} is a login this task drops: name a role that stays")
    for login in drops:
        deps = dependencies.get(login, [])
        blocking = [d for d in deps if d["owned"] or not d["shared"]]
        elsewhere = [d for d in blocking if not d["shared"] and d["database"] != catalog.database]
        if blocking and reassign_owned_to is None:
            problems.append(f"{login} cannot be dropped: it {_describe(blocking)}. Set reassign_owned_to to a role that "
                            "takes them over (REASSIGN OWNED, then DROP OWNED), or keep the login")
        elif elsewhere:
            problems.append(f"{login} cannot be dropped from {catalog.database}: it {_describe(elsewhere)}. Run this "
                            "task once per database with login_db set to each of them, or reassign there first")
    if problems:
        raise LoginsError(f"Refused before any change: {'; '.join(problems)}.")

    for item, existing, current, target, current_connect, target_connect in steps:
        login = item["login"]
        touched = False
        if IAM_ROLE in current - target:
            plan.add("REVOKE {} FROM {}", IAM_ROLE, login)
            plan.revoked.append({"role": IAM_ROLE, "login": login})
            touched = True
        if existing is None:
            plan.add("CREATE ROLE {} LOGIN", login)
            plan.created.append(login)
            touched = True
        elif not catalog.roles[existing]["login"]:
            plan.add("ALTER ROLE {} LOGIN", login)
            touched = True
        for role in sorted(target - current):
            plan.add("GRANT {} TO {}", role, login)
            plan.granted.append({"role": role, "login": login})
            touched = True
        for role in sorted(current - target - {IAM_ROLE}):
            plan.add("REVOKE {} FROM {}", role, login)
            plan.revoked.append({"role": role, "login": login})
            touched = True
        for db in sorted(target_connect - current_connect):
            plan.add("GRANT CONNECT ON DATABASE {} TO {}", db, login)
            plan.granted.append({"database": db, "login": login})
            touched = True
        for db in sorted(current_connect - target_connect):
            plan.add("REVOKE CONNECT ON DATABASE {} FROM {}", db, login)
            plan.revoked.append({"database": db, "login": login})
            touched = True
        if touched:
            plan.before[login] = _state_of(login, current, current_connect) if existing else {}
            plan.after[login] = _state_of(login, target, target_connect)

    if any(dependencies.get(login) for login in drops) and reassign_owned_to is not None:
        # REASSIGN OWNED needs the privileges of the target: borrow them for this transaction only.
        borrow = reassign_owned_to not in catalog.member_of.get(catalog.user, ())
        if borrow:
            plan.add("GRANT {} TO {}", reassign_owned_to, catalog.user)
    else:
        borrow = False
    for login in drops:
        if dependencies.get(login):
            # REASSIGN and DROP OWNED need the privileges of the login; DROP ROLE ends that membership.
            if login not in catalog.member_of.get(catalog.user, ()):
                plan.add("GRANT {} TO {}", login, catalog.user)
            if reassign_owned_to is not None:
                plan.add("REASSIGN OWNED BY {} TO {}", login, reassign_owned_to)
            plan.add("DROP OWNED BY {}", login)
        plan.add("DROP ROLE {}", login)
        plan.dropped.append(login)
        plan.before[login] = _state_of(login, catalog.member_of.get(login, ()), catalog.connect_of(login))
        plan.after[login] = {}
    if borrow:
        plan.add("REVOKE {} FROM {}", reassign_owned_to, catalog.user)
    return plan


def execute(cursor, conn, statements, render):
    """Run the statements in the open transaction, BATCH per round trip; returns them as SQL text."""
    queries = [render(statement, conn) for statement in statements]
    for start in range(0, len(queries), BATCH):
        cursor.execute(";\n".join(queries[start:start + BATCH]))
    return queries


# --- logins synced from AD groups -----------------------------------------------------------
# Ownership: a synced login is a direct member of a marker role, one per AD group, named
# MARKER_PREFIX + the group's lower-case name (NOLOGIN, no privileges). A membership sits in
# pg_auth_members, which read_catalog reads anyway (no extra query), it survives a dump and restore
# of the globals with the login, and nobody grants it by accident, unlike a free-text role comment
# that anyone with CREATEROLE edits. A login that is not a member of any marker role was made by
# hand (or by logins) and is never dropped by the sync.
MARKER_PREFIX = "aurora_kerberos_group_"


def marker_for(group):
    return MARKER_PREFIX + group.lower()


def validate_group_logins(entries, realm, group_members=None, option="group_logins"):
    """[{ad_group, members, roles, databases}] -> {login: {name, login, roles, databases, groups}},
    and the marker roles by group; LoginsError naming every bad entry at once. A user in several
    groups gets the union of their roles and databases."""
    problems = []
    merged = {}
    markers = {}
    for index, entry in enumerate(entries):
        where = f"{option}[{index}]"
        group = entry.get("ad_group")
        problem = _name_problem(group)
        if problem is None:
            marker = marker_for(group)
            if len(marker.encode("utf-8")) > MAX_NAME_BYTES:
                problem = f"makes the marker role {marker!r}, over PostgreSQL's {MAX_NAME_BYTES} bytes: use a shorter group name"
            elif marker in markers.values():
                problem = "is listed twice (group names are compared in lower case): merge the entries"
        if problem:
            problems.append(f"{where}.ad_group {group!r} {problem}")
            continue
        markers[group] = marker
        names = entry.get("members")
        if names is None:
            by_lower = dict((key.lower(), value) for key, value in (group_members or {}).items())
            names = by_lower.get(group.lower())
            if not isinstance(names, list):
                problems.append(f"{where} has no members and group_members has no list for {group!r}: read them with ad_group_members_info")
                continue
        for key in ("roles", "databases"):
            for value in entry.get(key) or []:
                problem = validate_object_name(value, f"{where}.{key}")
                if problem:
                    problems.append(problem)
        if IAM_ROLE in (entry.get("roles") or []):
            problems.append(f"{where}.roles lists {IAM_ROLE}: a Kerberos login must never hold both {KERBEROS_ROLE} and {IAM_ROLE}")
        try:
            members = validate_logins([{"name": name} for name in names], realm, "present",
                                      option=f"{where}.members")
        except LoginsError as e:
            problems.append(str(e).replace("Refused before any change: ", "").rstrip("."))
            continue
        for member in members:
            item = merged.setdefault(member["login"], {
                "name": member["name"], "login": member["login"], "state": "present",
                "roles": set(), "databases": set(), "groups": []})
            item["roles"].update(r for r in entry.get("roles") or [] if r != KERBEROS_ROLE)
            item["roles"].add(marker)
            item["databases"].update(entry.get("databases") or [])
            item["groups"].append(group)
    if problems:
        raise LoginsError(f"Refused before any change: {'; '.join(problems)}. Fix these group_logins entries.")
    for item in merged.values():
        item["roles"] = sorted(item["roles"])
        item["databases"] = sorted(item["databases"])
    return merged, markers


def plan_group_sync(synced, markers, wanted, catalog):
    """What the sync adds to a kerberos_logins run, or LoginsError naming each conflict:
    (the entries to add to `wanted`, the marker roles to create, the synced logins to drop).
    A synced login must not be a login that `logins` manages, nor an existing login without a marker
    (made by hand): both are refused, naming the login and the group."""
    problems = []
    listed = dict((catalog.find(item["login"]) or item["login"], item) for item in wanted)
    all_markers = set(role for role in catalog.roles if role.startswith(MARKER_PREFIX)) | set(markers.values())
    entries = []
    for login in sorted(synced):
        item = synced[login]
        existing = catalog.find(login)
        key = existing or login
        groups = ", ".join(item["groups"])
        if key in listed:
            problems.append(f"{key} is both in logins ({listed[key]['name']!r}) and a member of AD group {groups}: take it "
                            "out of logins, or the user out of the group")
        elif existing and not all_markers & catalog.member_of.get(existing, set()):
            problems.append(f"{existing}, a member of AD group {groups}, is an existing login that the group sync does "
                            "not manage (made by hand): drop it, or list it in logins and take the user out of the group")
        entries.append(dict(item, roles=list(item["roles"]), databases=list(item["databases"])))
    if problems:
        raise LoginsError(f"Refused before any change: {'; '.join(problems)}.")
    keep = set(catalog.find(item["login"]) or item["login"] for item in entries) | set(listed)
    drops = sorted(role for role in catalog.roles
                   if role not in keep and role != catalog.user and catalog.roles[role]["login"]
                   and all_markers & catalog.member_of.get(role, set()))
    creates = sorted(marker for marker in markers.values() if marker not in catalog.roles)
    return entries, creates, drops


def add_marker_roles(plan, creates):
    """CREATE ROLE ... NOLOGIN for each new marker role, ahead of the plan's grants."""
    plan.statements[:0] = [("CREATE ROLE {} NOLOGIN", (marker,), None) for marker in creates]
    return plan
