# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.ad_user end to end against FakeAD (tests/unit/conftest.py)."""

import json

import pytest
from ansible.module_utils import basic
from ldap3 import MOCK_SYNC
from ldap3 import Connection
from ansible.module_utils.testing import patch_module_args

from ansible_collections.aurora.kerberos.plugins.module_utils import ad_directory
from ansible_collections.aurora.kerberos.plugins.modules import ad_user

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "Batt3ry-Staple!"
USERS_OU = "OU=Users,OU=CORP,DC=corp,DC=example,DC=com"
ALICE_DN = f"CN=alice,{USERS_OU}"


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@pytest.fixture
def module_warnings(monkeypatch):
    """Warnings the module raised, and exit_json/fail_json that raise instead of exiting."""
    warnings = []

    def exit_json(self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        raise FailJson(dict(kwargs, msg=msg, failed=True))

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    return warnings


@pytest.fixture
def run(fake_ad, ca_file, module_warnings):
    """Run the module with these args (plus the connection); the result of exit_json."""

    def run_module(check_mode=False, **args):
        args = dict(
            dict(
                domain="corp.example.com",
                ldap_server="198.51.100.2",
                ldap_server_name="dc1.corp.example.com",
                ldap_ca_file=ca_file,
                bind_password=fake_ad.ADMIN_PASSWORD,
                _ansible_check_mode=check_mode,
                _ansible_diff=True,
            ),
            **args,
        )
        with patch_module_args(args):
            with pytest.raises(ExitJson) as result:
                ad_user.main()
        return result.value.args[0]

    return run_module


@pytest.fixture
def fail(fake_ad, ca_file, module_warnings):
    """Run the module with exactly these args; the result of fail_json."""

    def run_module(**args):
        args.setdefault("_ansible_check_mode", False)
        with patch_module_args(args):
            with pytest.raises(FailJson) as result:
                ad_user.main()
        return result.value.args[0]

    return run_module


# -- create ---------------------------------------------------------------------------------

def test_create(run, fake_ad):
    result = run(name="alice", password=PASSWORD, given_name="Alice", surname="Example",
                 email_address="alice@example.com")
    assert result["changed"] is True
    assert result["user"] == {
        "name": "alice",
        "dn": ALICE_DN,
        "sid": f"{fake_ad.DOMAIN_SID}-1104",
        "user_principal_name": "alice@CORP.EXAMPLE.COM",
        "enabled": True,
        "given_name": "Alice",
        "surname": "Example",
        "email_address": "alice@example.com",
        "supported_encryption_types": ["aes128", "aes256"],
    }
    assert result["diff"] == {"before": {}, "after": result["user"]}
    entry = fake_ad.entry(ALICE_DN)
    assert entry["userAccountControl"] == ["512"]
    assert entry["msDS-SupportedEncryptionTypes"] == ["24"]
    assert entry["userPrincipalName"] == ["alice@CORP.EXAMPLE.COM"]
    assert entry["userPassword"] == [PASSWORD]


def test_create_is_idempotent(run, fake_ad):
    args = dict(name="alice", password=PASSWORD, given_name="Alice", email_address="alice@example.com")
    first = run(**args)
    before = fake_ad.snapshot()
    binds = len(fake_ad.binds)
    second = run(**args)
    assert second["changed"] is False
    assert second["user"] == first["user"]
    assert second["diff"]["before"] == second["diff"]["after"]
    assert fake_ad.snapshot() == before
    assert len(fake_ad.binds) == binds + 1  # only the admin bind: on_create does not check the password
    assert run(check_mode=True, **args)["changed"] is False


def test_create_check_mode_leaves_the_directory_alone(run, fake_ad):
    before = fake_ad.snapshot()
    result = run(check_mode=True, name="alice", password=PASSWORD, given_name="Alice")
    assert result["changed"] is True
    assert result["user"]["dn"] == ALICE_DN
    assert result["user"]["sid"] is None
    assert result["user"]["enabled"] is True
    assert result["user"]["user_principal_name"] == "alice@CORP.EXAMPLE.COM"
    assert result["diff"]["before"] == {}
    assert fake_ad.snapshot() == before
    # read back: a second check-mode run still sees no user
    assert run(check_mode=True, name="alice", password=PASSWORD, given_name="Alice")["diff"]["before"] == {}


@pytest.mark.parametrize("args, dn, upn", [
    ({"ou": "OU=CORP,DC=corp,DC=example,DC=com"}, "CN=alice,OU=CORP,DC=corp,DC=example,DC=com", "alice@CORP.EXAMPLE.COM"),
    ({"user_principal_name": "alice@corp.example.com"}, ALICE_DN, "alice@corp.example.com"),
])
def test_create_where_and_as_asked(run, fake_ad, args, dn, upn):
    result = run(name="alice", password=PASSWORD, **args)
    assert result["user"]["dn"] == dn
    assert fake_ad.value(dn, "userPrincipalName") == upn


def test_create_with_a_short_name_other_than_the_first_label(run, fake_ad):
    seed = Connection(fake_ad.server, client_strategy=MOCK_SYNC)
    seed.strategy.add_entry("OU=LAB,DC=corp,DC=example,DC=com", {"objectClass": ["organizationalUnit"]})
    seed.strategy.add_entry("OU=Users,OU=LAB,DC=corp,DC=example,DC=com", {"objectClass": ["organizationalUnit"]})
    result = run(name="alice", password=PASSWORD, short_name="LAB")
    assert result["user"]["dn"] == "CN=alice,OU=Users,OU=LAB,DC=corp,DC=example,DC=com"


@pytest.mark.parametrize("types, value", [
    (["aes256", "rc4"], "20"),
    (["aes256", "aes128", "aes256"], "24"),
])
def test_create_with_encryption_types(run, fake_ad, types, value):
    result = run(name="alice", password=PASSWORD, supported_encryption_types=types)
    assert fake_ad.value(ALICE_DN, "msDS-SupportedEncryptionTypes") == value
    assert result["user"]["supported_encryption_types"] == [t for t in ("aes128", "aes256", "rc4") if t in types]


def test_create_disabled(run, fake_ad):
    result = run(name="alice", password=PASSWORD, enabled=False)
    assert result["user"]["enabled"] is False
    assert fake_ad.value(ALICE_DN, "userAccountControl") == "514"
    assert run(name="alice", password=PASSWORD, enabled=False)["changed"] is False


# -- without a password ---------------------------------------------------------------------

def test_without_password_the_user_is_created_disabled_and_stays_so(run, fake_ad, module_warnings):
    result = run(name="alice")
    assert result["changed"] is True
    assert result["user"]["enabled"] is False
    assert fake_ad.value(ALICE_DN, "userAccountControl") == "514"
    assert "userPassword" not in fake_ad.entry(ALICE_DN)
    assert "disabled because no password was given" in module_warnings[-1]

    again = run(name="alice")
    assert again["changed"] is False
    assert again["user"]["enabled"] is False
    assert "stays disabled" in module_warnings[-1]


def test_without_password_and_enabled_false_there_is_no_warning(run, module_warnings):
    assert run(name="alice", enabled=False)["user"]["enabled"] is False
    assert module_warnings == []


def test_a_user_without_password_gets_one_later_and_is_enabled(run, fake_ad):
    run(name="alice")
    result = run(name="alice", password=PASSWORD)
    assert result["changed"] is True
    assert result["user"]["enabled"] is True
    assert result["diff"]["before"]["enabled"] is False
    assert fake_ad.value(ALICE_DN, "userPassword") == PASSWORD
    assert fake_ad.value(ALICE_DN, "userAccountControl") == "512"
    assert run(name="alice", password=PASSWORD)["changed"] is False


def test_a_user_without_password_in_check_mode(run, fake_ad):
    run(name="alice")
    before = fake_ad.snapshot()
    result = run(check_mode=True, name="alice", password=PASSWORD)
    assert result["changed"] is True
    assert result["user"]["enabled"] is True
    assert fake_ad.snapshot() == before


# -- update ---------------------------------------------------------------------------------

@pytest.mark.parametrize("change, key, attribute, stored", [
    ({"given_name": "Alicia"}, "given_name", "givenName", "Alicia"),
    ({"given_name": ""}, "given_name", "givenName", None),
    ({"surname": "Smith"}, "surname", "sn", "Smith"),
    ({"email_address": "alicia@example.com"}, "email_address", "mail", "alicia@example.com"),
    ({"user_principal_name": "alicia@corp.example.com"}, "user_principal_name", "userPrincipalName",
     "alicia@corp.example.com"),
])
def test_update_an_attribute(run, fake_ad, change, key, attribute, stored):
    run(name="alice", password=PASSWORD, given_name="Alice", email_address="alice@example.com")
    result = run(name="alice", **change)
    assert result["changed"] is True
    assert result["diff"]["after"][key] == stored
    assert result["diff"]["before"][key] != stored
    assert result["user"][key] == stored
    assert fake_ad.value(ALICE_DN, attribute) == stored
    assert run(name="alice", **change)["changed"] is False


def test_update_check_mode_leaves_the_directory_alone(run, fake_ad):
    run(name="alice", password=PASSWORD, given_name="Alice")
    before = fake_ad.snapshot()
    result = run(check_mode=True, name="alice", given_name="Alicia", enabled=False,
                 supported_encryption_types=["aes256"])
    assert result["changed"] is True
    assert result["diff"]["before"]["given_name"] == "Alice"
    assert result["diff"]["after"]["given_name"] == "Alicia"
    assert result["diff"]["after"]["enabled"] is False
    assert result["diff"]["after"]["supported_encryption_types"] == ["aes256"]
    assert fake_ad.snapshot() == before


def test_unset_options_leave_attributes_alone(run, fake_ad):
    run(name="alice", password=PASSWORD, given_name="Alice", surname="Example", email_address="a@example.com")
    result = run(name="alice")
    assert result["changed"] is False
    assert (result["user"]["given_name"], result["user"]["surname"]) == ("Alice", "Example")


def test_existing_user_keeps_its_upn_unless_asked(run, fake_ad):
    fake_ad.add_user("bob", password=PASSWORD, userPrincipalName="bob@corp.example.com",
                     **{"msDS-SupportedEncryptionTypes": "24"})
    result = run(name="bob")
    assert result["changed"] is False
    assert result["user"]["user_principal_name"] == "bob@corp.example.com"


def test_existing_user_elsewhere_is_updated_in_place(run, fake_ad):
    dn = fake_ad.add_user("bob", password=PASSWORD, ou="OU=CORP,DC=corp,DC=example,DC=com")
    result = run(name="bob", given_name="Bob")
    assert result["user"]["dn"] == dn
    assert fake_ad.value(dn, "givenName") == "Bob"
    assert f"CN=bob,{USERS_OU}" not in fake_ad.dit


def test_existing_user_gets_aes_by_default(run, fake_ad):
    dn = fake_ad.add_user("bob", password=PASSWORD)
    result = run(name="bob")
    assert result["changed"] is True
    assert result["diff"]["before"]["supported_encryption_types"] == []
    assert result["diff"]["after"]["supported_encryption_types"] == ["aes128", "aes256"]
    assert fake_ad.value(dn, "msDS-SupportedEncryptionTypes") == "24"


def test_empty_encryption_types_clear_the_attribute(run, fake_ad):
    run(name="alice", password=PASSWORD)
    assert run(name="alice", supported_encryption_types=[])["changed"] is True
    assert fake_ad.value(ALICE_DN, "msDS-SupportedEncryptionTypes") is None
    assert run(name="alice", supported_encryption_types=[])["changed"] is False


# -- enabled --------------------------------------------------------------------------------

def test_disable_and_enable(run, fake_ad):
    run(name="alice", password=PASSWORD)
    disabled = run(name="alice", enabled=False)
    assert disabled["changed"] is True
    assert (disabled["diff"]["before"]["enabled"], disabled["diff"]["after"]["enabled"]) == (True, False)
    assert fake_ad.value(ALICE_DN, "userAccountControl") == "514"
    assert run(name="alice", enabled=False)["changed"] is False
    enabled = run(name="alice")
    assert enabled["changed"] is True
    assert fake_ad.value(ALICE_DN, "userAccountControl") == "512"


def test_disable_keeps_other_account_flags(run, fake_ad):
    dn = fake_ad.add_user("bob", password=PASSWORD, userAccountControl="66048",
                          **{"msDS-SupportedEncryptionTypes": "24"})
    assert run(name="bob", enabled=False)["changed"] is True
    assert fake_ad.value(dn, "userAccountControl") == "66050"


# -- update_password ------------------------------------------------------------------------

@pytest.mark.parametrize("update_password, password, changed, stored", [
    ("on_create", NEW_PASSWORD, False, PASSWORD),
    ("on_create", PASSWORD, False, PASSWORD),
    ("always", PASSWORD, False, PASSWORD),
    ("always", NEW_PASSWORD, True, NEW_PASSWORD),
])
def test_update_password(run, fake_ad, update_password, password, changed, stored):
    run(name="alice", password=PASSWORD)
    result = run(name="alice", password=password, update_password=update_password)
    assert result["changed"] is changed
    assert fake_ad.value(ALICE_DN, "userPassword") == stored
    assert run(name="alice", password=password, update_password=update_password)["changed"] is False


def test_update_password_always_check_mode(run, fake_ad):
    run(name="alice", password=PASSWORD)
    before = fake_ad.snapshot()
    assert run(check_mode=True, name="alice", password=NEW_PASSWORD, update_password="always")["changed"] is True
    assert fake_ad.snapshot() == before


def test_update_password_always_sets_it_for_a_disabled_user_every_time(run, fake_ad):
    run(name="alice", password=PASSWORD, enabled=False)
    args = dict(name="alice", password=PASSWORD, update_password="always", enabled=False)
    assert run(**args)["changed"] is True
    assert run(**args)["changed"] is True


def test_update_password_always_then_enable(run, fake_ad):
    run(name="alice", password=PASSWORD, enabled=False)
    result = run(name="alice", password=NEW_PASSWORD, update_password="always")
    assert result["changed"] is True
    assert result["user"]["enabled"] is True
    assert fake_ad.value(ALICE_DN, "userPassword") == NEW_PASSWORD


def test_refused_password_fails_with_what_to_fix(run, fail, fake_ad, ca_file):
    run(name="alice", password=PASSWORD)
    result = fail(name="alice", password="Sh0rt", update_password="always", domain="corp.example.com",
                  ldap_server="dc1", ldap_ca_file=ca_file, bind_password=fake_ad.ADMIN_PASSWORD)
    assert "password policy" in result["msg"]
    assert "Sh0rt" not in result["msg"]
    assert fake_ad.value(ALICE_DN, "userPassword") == PASSWORD


# -- absent ---------------------------------------------------------------------------------

def test_absent_deletes(run, fake_ad):
    run(name="alice", password=PASSWORD)
    result = run(name="alice", state="absent")
    assert result["changed"] is True
    assert result["user"] == {}
    assert result["diff"]["before"]["dn"] == ALICE_DN
    assert result["diff"]["after"] == {}
    assert ALICE_DN not in fake_ad.dit


def test_absent_on_a_missing_user_is_no_change(run, fake_ad):
    before = fake_ad.snapshot()
    result = run(name="alice", state="absent")
    assert result["changed"] is False
    assert result["diff"] == {"before": {}, "after": {}}
    assert fake_ad.snapshot() == before


def test_absent_check_mode(run, fake_ad):
    run(name="alice", password=PASSWORD)
    before = fake_ad.snapshot()
    assert run(check_mode=True, name="alice", state="absent")["changed"] is True
    assert fake_ad.snapshot() == before


# -- secrets --------------------------------------------------------------------------------

def test_no_password_in_results(run, fake_ad):
    results = [
        run(name="alice", password=PASSWORD),
        run(name="alice", password=NEW_PASSWORD, update_password="always"),
        run(name="alice", state="absent"),
    ]
    text = json.dumps(results)
    for secret in (PASSWORD, NEW_PASSWORD, fake_ad.ADMIN_PASSWORD):
        assert secret not in text


def test_password_options_are_no_log():
    assert ad_user.ARGUMENT_SPEC["password"]["no_log"] is True
    assert ad_user.ARGUMENT_SPEC["bind_password"]["no_log"] is True


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, problem", [
    ("a" * 21, "1 to 20 characters long, not 21"),
    ("", "1 to 20 characters long, not 0"),
    ("alice@corp", "must not contain @"),
    ("al/ice", "must not contain /"),
    ('al"ice', 'must not contain "'),
    ("o'brien", "must not contain '"),
    ("a,b=c", "must not contain , ="),
    ("a\tb", "control characters"),
    ("...", "only periods and spaces"),
    ("alice.", "end with a period"),
    (" alice", "start or end with a space"),
])
def test_bad_name(fail, fake_ad, ca_file, name, problem):
    result = fail(name=name, domain="corp.example.com", ldap_server="dc1", ldap_ca_file=ca_file, bind_password="x")
    assert result["msg"].startswith(f"name {name!r} is not a valid sAMAccountName")
    assert problem in result["msg"]
    assert fake_ad.connections == []


@pytest.mark.parametrize("args, option", [
    ({"domain": "corp"}, "domain"),
    ({"domain": "corp..com"}, "domain"),
    ({"domain": "corp_x.example.com"}, "domain"),
    ({"short_name": "TOO-LONG-NETBIOS-NAME"}, "short_name"),
    ({"short_name": "CO.RP"}, "short_name"),
    ({"ou": "Users"}, "ou"),
    ({"ou": "OU=Users,DC=other,DC=com"}, "ou"),
    ({"password": ""}, "password"),
    ({"user_principal_name": "alice"}, "user_principal_name"),
    ({"ldap_port": 0}, "ldap_port"),
    ({"ldap_ca_file": None}, "ldap_ca_file"),
    ({"ldap_ca_file": "/nonexistent/ca.pem"}, "ldap_ca_file"),
    ({"ldap_server": None}, "ldap_server"),
    ({"bind_password": None}, "bind_password"),
    ({"state": "gone"}, "state"),
    ({"update_password": "sometimes"}, "update_password"),
    ({"supported_encryption_types": ["des"]}, "supported_encryption_types"),
    ({"backend": "ds_data"}, "backend"),
])
def test_bad_option_names_the_option(fail, fake_ad, ca_file, args, option):
    base = dict(name="alice", domain="corp.example.com", ldap_server="dc1", ldap_ca_file=ca_file, bind_password="x")
    base.update(args)
    result = fail(**{key: value for key, value in base.items() if value is not None})
    assert option in result["msg"]
    assert fake_ad.connections == []


def test_validate_certs_false_needs_no_ca_file(run, fake_ad):
    result = run(name="alice", password=PASSWORD, validate_certs=False, ldap_ca_file=None)
    assert result["changed"] is True
    server, _options = fake_ad.connections[0]
    assert server.tls.ca_certs_file is None


# -- directory errors -----------------------------------------------------------------------

def test_wrong_bind_password(fail, fake_ad, ca_file):
    result = fail(name="alice", domain="corp.example.com", ldap_server="198.51.100.2", ldap_ca_file=ca_file,
                  bind_password="Not-the-admin-password")
    assert result["msg"] == (
        "Cannot bind to 198.51.100.2:636 as Admin@CORP.EXAMPLE.COM: wrong password (49). "
        "Check bind_user and bind_password."
    )


def test_bind_as_a_dn(run, fake_ad):
    assert run(name="alice", state="absent", bind_user=fake_ad.ADMIN_DN)["changed"] is False
    assert fake_ad.binds[-1] == fake_ad.ADMIN_DN


def test_name_of_a_computer(run, fail, fake_ad, ca_file):
    fake_ad.add_user("ws01", objectClass=["top", "person", "organizationalPerson", "user", "computer"])
    result = fail(name="ws01", domain="corp.example.com", ldap_server="dc1", ldap_ca_file=ca_file,
                  bind_password=fake_ad.ADMIN_PASSWORD)
    assert "belongs to a computer" in result["msg"]
    assert "choose another name" in result["msg"]


def test_directory_refusal_is_reported(fail, fake_ad, ca_file):
    fake_ad.fail_next("add", 50, "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0")
    result = fail(name="alice", password=PASSWORD, domain="corp.example.com", ldap_server="dc1",
                  ldap_ca_file=ca_file, bind_password=fake_ad.ADMIN_PASSWORD)
    assert result["msg"].startswith(f"Failed to create user {ALICE_DN}: the directory answered insufficientAccessRights (50)")
    assert "check ou and bind_user" in result["msg"]


def test_missing_ldap3(fail, monkeypatch, ca_file):
    monkeypatch.setattr(ad_directory, "HAS_LDAP3", False)
    result = fail(name="alice", domain="corp.example.com", ldap_server="dc1", ldap_ca_file=ca_file, bind_password="x")
    assert "ldap3" in result["msg"]
