# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An in-memory PostgreSQL for the SQL modules' unit tests: it answers the catalog queries of
module_utils/logins.py and ad_mapping.py from a small model, applies the statements they plan
(parsing the quoted identifiers back), and keeps writes in a transaction until commit.
Integration tests run the same modules against the lab's real PostgreSQL."""

import copy
import re

IDENT = r'"((?:[^"]|"")*)"'
LITERAL = r"'((?:[^']|'')*)'"


def quote(name, conn=None):
    return '"' + name.replace('"', '""') + '"'


def literal(value):
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _names(text, pattern=IDENT):
    return [m.replace('""', '"') if pattern == IDENT else m.replace("''", "'") for m in re.findall(pattern, text)]


class FakeServer:
    def __init__(self, user="postgres", database="postgres", caseins="off"):
        self.state = {
            "roles": {},  # name -> {"oid", "login"}
            "members": set(),  # (member, role)
            "databases": {},  # name -> {"connect": set, "can_grant": bool, "public": bool}
            "mappings": [],
        }
        self.user, self.database, self.caseins = user, database, caseins
        self.shdepend = {}  # role -> [(database, shared, owned, count)]
        self.pgadmap = True  # CREATE EXTENSION pg_ad_mapping was run
        self.preload = "pg_ad_mapping"  # SHOW shared_preload_libraries
        self.available = True  # pg_available_extensions lists pg_ad_mapping
        self.fail_on = None  # a statement prefix that raises, like a server error
        self.writes = []  # every write statement executed, committed or not
        self.commits = 0
        self._oid = 16384
        for role in ("rdsadmin", "rds_superuser", "rds_ad", "rds_iam"):
            self.add_role(role, login=role == "rdsadmin")
        self.add_role(user)
        self.grant("rds_superuser", user)
        self.add_database(database)

    # -- setup helpers -----------------------------------------------------------------------
    def add_role(self, name, login=True):
        self._oid += 1
        self.state["roles"][name] = {"oid": self._oid, "login": login}

    def grant(self, role, member):
        self.state["members"].add((member, role))

    def add_database(self, name, can_grant=True, public=True, connect=()):
        self.state["databases"][name] = {"connect": set(connect), "can_grant": can_grant, "public": public}

    def roles_in(self, role):
        return sorted(member for member, granted in self.state["members"] if granted == role)

    def connection(self, **params):
        self.params = params
        return FakeConnection(self)


class FakeConnection:
    def __init__(self, server):
        self.server = server
        self.pending = copy.deepcopy(server.state)
        self.closed = False
        self.committed = False

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        self.server.state = self.pending
        self.server.commits += 1
        self.committed = True

    def rollback(self):
        self.pending = copy.deepcopy(self.server.state)

    def close(self):
        self.closed = True


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self.rows = []

    def mogrify(self, text, params):
        return (text % tuple(literal(p) for p in params)).encode()

    def fetchone(self):
        return self.rows[0]

    def fetchall(self):
        return self.rows

    def execute(self, query, params=None):
        server, state = self.conn.server, self.conn.pending
        oids = dict((r["oid"], n) for n, r in state["roles"].items())
        by_name = dict((n, r["oid"]) for n, r in state["roles"].items())
        if query.startswith("SELECT current_user"):
            self.rows = [(server.user, server.database, server.caseins)]
        elif query.startswith("SELECT oid, rolname"):
            self.rows = [(r["oid"], n, r["login"]) for n, r in state["roles"].items()]
        elif query.startswith("SELECT member, roleid"):
            self.rows = [(by_name[m], by_name[r]) for m, r in sorted(state["members"])]
        elif query.startswith("SELECT d.datname"):
            self.rows = [(n, [by_name[g] for g in sorted(d["connect"])], d["can_grant"], d["public"])
                         for n, d in state["databases"].items()]
        elif query.startswith("SELECT d.refobjid"):
            self.rows = [(by_name[role], *dep) for role, deps in sorted(server.shdepend.items())
                         if by_name.get(role) in params[0] for dep in deps]
        elif query.startswith("SHOW shared_preload_libraries"):
            self.rows = [(server.preload,)]
        elif query.startswith("SELECT extversion FROM pg_extension"):
            self.rows = [("1.0",)] if server.pgadmap or state.get("extension") else []
        elif query.startswith("SELECT count(*) FROM pg_available_extensions"):
            self.rows = [(int(server.available),)]
        elif query.startswith("SELECT ad_sid"):
            assert server.pgadmap or state.get("extension"), "function pgadmap_read_mapping() does not exist"
            self.rows = [(m["sid"], m["role"], m["weight"], m["ad_group"]) for m in state["mappings"]]
        else:
            for statement in query.split(";\n"):
                self._write(statement, state, oids)

    def _write(self, statement, state, oids):
        server = self.conn.server
        server.writes.append(statement)
        if server.fail_on and statement.startswith(server.fail_on):
            raise RuntimeError("ERROR:  injected failure at %s" % statement)
        names = _names(statement)
        roles, members = state["roles"], state["members"]
        if statement.startswith("CREATE ROLE"):
            assert names[0] not in roles, statement
            server._oid += 1
            roles[names[0]] = {"oid": server._oid, "login": not statement.endswith("NOLOGIN")}
        elif statement.startswith("ALTER ROLE"):
            roles[names[0]]["login"] = True
        elif statement.startswith("GRANT CONNECT"):
            state["databases"][names[0]]["connect"].add(names[1])
        elif statement.startswith("REVOKE CONNECT"):
            state["databases"][names[0]]["connect"].discard(names[1])
        elif statement.startswith("GRANT"):
            assert names[0] in roles and names[1] in roles, statement
            members.add((names[1], names[0]))
        elif statement.startswith("REVOKE"):
            members.discard((names[1], names[0]))
        elif statement.startswith(("REASSIGN OWNED", "DROP OWNED")):
            assert (server.user, names[0]) in members, "needs the privileges of %s" % names[0]
            if statement.startswith("REASSIGN"):
                assert (server.user, names[1]) in members, "needs the privileges of %s" % names[1]
            server.shdepend.pop(names[0], None)
        elif statement.startswith("DROP ROLE"):
            assert not server.shdepend.get(names[0]), "%s has dependent objects" % names[0]
            del roles[names[0]]
            state["members"] = set(m for m in members if names[0] not in m)
            for db in state["databases"].values():
                db["connect"].discard(names[0])
        elif statement == "CREATE EXTENSION IF NOT EXISTS pg_ad_mapping":
            assert "pg_ad_mapping" in server.preload, "pg_ad_mapping must be loaded via shared_preload_libraries"
            state["extension"] = True
        elif statement.startswith("SELECT pgadmap_set_mapping"):
            assert server.pgadmap or state.get("extension"), "function pgadmap_set_mapping() does not exist"
            group, role, sid = _names(statement, LITERAL)
            weight = int(statement.rsplit(",", 1)[1].strip(" )"))
            assert not [m for m in state["mappings"] if (m["sid"], m["role"]) == (sid, role)], "cannot be edited"
            state["mappings"].append({"sid": sid, "role": role, "weight": weight, "ad_group": group})
        elif statement.startswith("SELECT pgadmap_reset_mapping"):
            sid, role = _names(statement, LITERAL)
            weight = int(statement.rsplit(",", 1)[1].strip(" )"))
            state["mappings"] = [m for m in state["mappings"] if (m["sid"], m["role"], m["weight"]) != (sid, role, weight)]
        else:
            raise AssertionError("statement the fake does not know: %s" % statement)
