# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.ad_group_mappings against FakeServer (fake_pg.py): set, reset-then-set, exclusive,
absent, the mapped role's LOGIN and CONNECT, and the refusals."""

import pytest

from aws_stubs import raise_on_exit
from aws_stubs import run as run_module
from fake_pg import FakeServer, quote

from ansible_collections.aurora.kerberos.plugins.module_utils import pg
from ansible_collections.aurora.kerberos.plugins.modules import ad_group_mappings

SID = "S-1-5-21-2127521184-1604012920-1887927527-1110"
OTHER_SID = "S-1-5-21-2127521184-1604012920-1887927527-1111"


@pytest.fixture
def server(monkeypatch):
    raise_on_exit(monkeypatch)
    fake = FakeServer()
    monkeypatch.setattr(pg, "connect_to_db", lambda module, params, **kw: (fake.connection(**params), None))
    monkeypatch.setattr(pg, "quote_ident", quote)
    return fake


def run(check_mode=False, **args):
    base = {"login_host": "db.example", "login_password": "x", "ssl_mode": "prefer"}
    return run_module(ad_group_mappings.main, check_mode, **dict(base, **args))


def mapping(role="readers", weight=10, sid=SID, group="db-readers", **extra):
    return dict({"ad_group": group, "sid": sid, "role": role, "weight": weight}, **extra)


def test_sets_a_mapping_with_a_new_login_role_then_changes_nothing(server):
    result = run(mappings=[mapping()])
    assert result["changed"] and result["created"] == ["readers"]
    assert result["queries"] == ['CREATE ROLE "readers" LOGIN',
                                 "SELECT pgadmap_set_mapping('db-readers', 'readers', '%s', 10)" % SID]
    assert server.state["mappings"] == [{"sid": SID, "role": "readers", "weight": 10, "ad_group": "db-readers"}]
    assert server.state["roles"]["readers"]["login"] and "readers" not in server.roles_in("rds_ad")
    again = run(mappings=[mapping()])
    assert not again["changed"] and again["mappings"] == [mapping()]


def test_check_mode_writes_nothing(server):
    result = run(check_mode=True, mappings=[mapping()])
    assert result["changed"] and result["mappings"] == [mapping()]
    assert result["diff"] == {"before": {"mappings": []}, "after": {"mappings": [mapping()]}}
    assert server.writes == [] and server.state["mappings"] == []


def test_a_changed_mapping_is_reset_then_set(server):
    run(mappings=[mapping()])
    result = run(mappings=[mapping(weight=20, group="db-readers-2")])
    assert result["queries"] == ["SELECT pgadmap_reset_mapping('%s', 'readers', 10)" % SID,
                                 "SELECT pgadmap_set_mapping('db-readers-2', 'readers', '%s', 20)" % SID]
    assert result["mappings"] == [mapping(weight=20, group="db-readers-2")]
    assert server.state["mappings"] == [{"sid": SID, "role": "readers", "weight": 20, "ad_group": "db-readers-2"}]


def test_exclusive_and_absent_reset(server):
    run(mappings=[mapping(), mapping(role="writers", sid=OTHER_SID, group="db-writers")])
    result = run(mappings=[mapping()], exclusive=True)
    assert result["reset"] == [mapping(role="writers", sid=OTHER_SID, group="db-writers")]
    assert run(mappings=[mapping()], state="absent")["reset"] == [mapping()]
    assert server.state["mappings"] == [] and "readers" in server.state["roles"]
    assert not run(mappings=[mapping()], state="absent")["changed"]


def test_login_and_connect_for_an_existing_role(server):
    server.add_role("readers", login=False)
    server.add_database("reports", public=False)
    result = run(mappings=[mapping(databases=["reports", "postgres"])])
    assert result["queries"][:2] == ['ALTER ROLE "readers" LOGIN', 'GRANT CONNECT ON DATABASE "reports" TO "readers"']
    assert result["granted"] == [{"database": "reports", "role": "readers"}]  # PUBLIC may connect to postgres


def test_refusals_name_each_offender(server):
    server.add_role("kerb", login=False)
    server.add_role("team", login=False)
    server.grant("team", "kerb")
    server.grant("rds_ad", "team")
    server.add_database("locked", can_grant=False, public=False)
    result = run(mappings=[mapping(role="kerb"), mapping(role="fresh", databases=["locked", "ghost"])])
    assert result["failed"] and server.writes == []
    for part in ("kerb is in rds_ad (kerb -> team -> rds_ad)", "postgres cannot grant CONNECT on locked",
                 "database ghost of fresh does not exist"):
        assert part in result["msg"]


@pytest.mark.parametrize("entry, message", [
    (mapping(sid="S-1-5-21-x"), "mappings[0].sid 'S-1-5-21-x' is not a SID"),
    (mapping(sid="S-1-5-21-1'; DROP TABLE x; --"), "is not a SID"),
    (mapping(role="rds_ad"), "mappings[0].role is rds_ad"),
    (mapping(role="r" * 64), "is 64 bytes long"),
    (mapping(group=" "), "mappings[0].ad_group is empty"),
    (mapping(databases=["bad\x00db"]), "control character"),
])
def test_bad_input_is_refused_before_connecting(server, entry, message):
    result = run(mappings=[entry])
    assert result["failed"] and message in result["msg"] and not hasattr(server, "params")


def test_a_pair_twice_is_refused(server):
    result = run(mappings=[mapping(), mapping(weight=3)])
    assert result["failed"] and "mappings[1] maps %s to readers again (mappings[0] already does)" % SID in result["msg"]


def test_the_extension_is_created_first_in_the_same_transaction_then_left_alone(server):
    server.pgadmap = False
    result = run(mappings=[mapping()])
    assert result["changed"] and result["extension_created"]
    assert result["queries"][0] == "CREATE EXTENSION IF NOT EXISTS pg_ad_mapping"
    assert result["queries"][1:] == ['CREATE ROLE "readers" LOGIN',
                                     "SELECT pgadmap_set_mapping('db-readers', 'readers', '%s', 10)" % SID]
    assert server.commits == 1 and server.state["extension"] and server.state["mappings"] == [mapping()]
    again = run(mappings=[mapping()])
    assert not again["changed"] and not again["extension_created"] and again["queries"] == []


def test_check_mode_predicts_the_extension_and_writes_nothing(server):
    server.pgadmap = False
    result = run(check_mode=True, mappings=[mapping()])
    assert result["changed"] and result["extension_created"]
    assert result["queries"][0] == "CREATE EXTENSION IF NOT EXISTS pg_ad_mapping"
    assert server.writes == [] and "extension" not in server.state


def test_a_failure_after_create_extension_rolls_it_back(server):
    server.pgadmap = False
    server.fail_on = "SELECT pgadmap_set_mapping"
    result = run(mappings=[mapping()])
    assert result["failed"] and "rolled back" in result["msg"]
    assert server.commits == 0 and "extension" not in server.state


@pytest.mark.parametrize("preload", ["", "pg_stat_statements", "pg_stat_statements,pgaudit"])
def test_without_the_preloaded_library_nothing_is_written_and_the_fix_is_named(server, preload):
    server.pgadmap = False
    server.preload = preload
    result = run(mappings=[mapping()])
    assert result["failed"] and server.writes == []
    assert "pg_ad_mapping is not in shared_preload_libraries" in result["msg"]
    assert "(it has: %s)" % (preload.replace(",", ", ") or "nothing") in result["msg"]
    for fix in ("db_users_group_mappings", "cluster_pg_ad_mapping", "cluster_parameter_group_name", "reboots the writer"):
        assert fix in result["msg"]


def test_a_library_taken_out_of_the_group_is_refused_even_with_the_extension_there(server):
    server.preload = "pg_stat_statements"  # the extension was created before; the writer restarted without it
    result = run(mappings=[mapping()])
    assert result["failed"] and server.writes == [] and "pg_ad_mapping is not in shared_preload_libraries" in result["msg"]


def test_an_engine_without_the_extension_names_the_versions(server):
    server.pgadmap = False
    server.available = False
    result = run(mappings=[mapping()])
    assert result["failed"] and server.writes == [] and "14.10+ or 15.5+" in result["msg"]


def test_absent_without_the_extension_is_no_change(server):
    server.pgadmap = False
    server.preload = ""
    result = run(mappings=[mapping()], state="absent")
    assert not result["changed"] and result["queries"] == [] and server.writes == []
