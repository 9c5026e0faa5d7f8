# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ad_ldap against FakeAD (tests/unit/conftest.py), an in-memory AD on ldap3's MOCK_SYNC strategy."""

import ssl

import pytest
from ldap3.core.exceptions import LDAPSocketOpenError

from ansible_collections.aurora.kerberos.plugins.module_utils import ad_ldap
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import AdLdapError

PASSWORD = "Corr3ct-Horse!"


@pytest.fixture
def directory(fake_ad, ca_file):
    connection = ad_ldap.connect(
        "198.51.100.2", "Admin", fake_ad.ADMIN_PASSWORD, fake_ad.REALM,
        ca_file=ca_file, server_name="dc1.corp.example.com",
    )
    return ad_ldap.LdapUserDirectory(connection, fake_ad.BASE_DN)


def create(directory, fake_ad, name="alice", password=PASSWORD, enabled=True, check_mode=False, **attributes):
    attributes.setdefault("supported_encryption_types", ["aes128", "aes256"])
    return directory.create_user(name, fake_ad.USERS_OU, attributes, password, enabled, check_mode)


# -- pure helpers ---------------------------------------------------------------------------

@pytest.mark.parametrize("domain, base_dn", [
    ("corp.example.com", "DC=corp,DC=example,DC=com"),
    ("example.org", "DC=example,DC=org"),
])
def test_base_dn_from_domain(domain, base_dn):
    assert ad_ldap.base_dn_from_domain(domain) == base_dn


@pytest.mark.parametrize("bind_user, identity", [
    ("Admin", "Admin@CORP.EXAMPLE.COM"),
    ("admin@corp.example.com", "admin@corp.example.com"),
    ("CORP\\Admin", "CORP\\Admin"),
    ("CN=Admin,OU=Users,OU=CORP,DC=corp,DC=example,DC=com", "CN=Admin,OU=Users,OU=CORP,DC=corp,DC=example,DC=com"),
])
def test_bind_identity(bind_user, identity):
    assert ad_ldap.bind_identity(bind_user, "CORP.EXAMPLE.COM") == identity


@pytest.mark.parametrize("names, value", [
    (["aes128", "aes256"], 24),
    (["aes256"], 16),
    (["aes128", "aes256", "rc4"], 28),
    ([], 0),
])
def test_encryption_types_round_trip(names, value):
    assert ad_ldap.encryption_types_to_int(names) == value
    assert ad_ldap.encryption_types_from_int(value) == names


def test_encryption_types_from_int_ignores_bits_it_has_no_name_for():
    assert ad_ldap.encryption_types_from_int(0x1F) == ["aes128", "aes256", "rc4"]
    assert ad_ldap.encryption_types_from_int(None) == []


def test_encode_password_is_quoted_utf16le():
    assert ad_ldap.encode_password("Pä$s") == '"Pä$s"'.encode("utf-16-le")


@pytest.mark.parametrize("text, valid", [
    ("OU=Users,OU=CORP,DC=corp,DC=example,DC=com", True),
    ("Users", False),
    ("OU=a,,DC=x", False),
    ("", False),
])
def test_is_dn(text, valid):
    assert ad_ldap.is_dn(text) is valid


@pytest.mark.parametrize("data, reason", [
    ("52e", "wrong password"),
    ("525", "no such user"),
    ("533", "the account is disabled"),
    ("775", "the account is locked out"),
    ("773", "the account must change its password first"),
])
def test_explain_bind_failure_reads_ad_data_codes(data, reason):
    message = f"80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {data}, v4563\x00"
    text = ad_ldap.explain_bind_failure("dc1:636", "Admin@CORP.EXAMPLE.COM", 49, "invalidCredentials", message)
    assert text == f"Cannot bind to dc1:636 as Admin@CORP.EXAMPLE.COM: {reason} (49). Check bind_user and bind_password."


def test_explain_bind_failure_without_ad_code_keeps_server_words():
    text = ad_ldap.explain_bind_failure("dc1:636", "u@R", 49, "invalidCredentials", "bad things")
    assert "invalidCredentials (49): bad things." in text


@pytest.mark.parametrize("code, hints, expected_hint", [
    (50, None, "delegated Admin account manages only objects under OU=<short_name>"),
    (32, None, "check ou and domain"),
    (53, {53: "Give password."}, "Give password."),
    (68, None, "already exists"),
])
def test_explain_result_adds_what_to_fix(code, hints, expected_hint):
    text = ad_ldap.explain_result("do a thing", code, "someError", "00002098: SecErr\x00\n", hints)
    assert text.startswith(f"Failed to do a thing: the directory answered someError ({code}): 00002098: SecErr. ")
    assert expected_hint in text


def test_explain_result_without_hint():
    assert ad_ldap.explain_result("x", 80, "other", "", None) == "Failed to x: the directory answered other (80)."


# -- connect --------------------------------------------------------------------------------

def test_connect_uses_ldaps_with_the_ca_and_the_certificate_name(fake_ad, ca_file):
    ad_ldap.connect("198.51.100.2", "Admin", fake_ad.ADMIN_PASSWORD, fake_ad.REALM,
                    ca_file=ca_file, server_name="dc1.corp.example.com")
    server, options = fake_ad.connections[-1]
    assert (server.host, server.port, server.ssl) == ("198.51.100.2", 636, True)
    assert server.tls.validate == ssl.CERT_REQUIRED
    assert server.tls.ca_certs_file == ca_file
    assert server.tls.valid_names == ["dc1.corp.example.com"]
    assert options["user"] == "Admin@CORP.EXAMPLE.COM"
    assert fake_ad.binds == ["Admin@CORP.EXAMPLE.COM"]


def test_connect_checks_ldap_server_name_by_default(fake_ad, ca_file):
    ad_ldap.connect("dc1.corp.example.com", "Admin", fake_ad.ADMIN_PASSWORD, fake_ad.REALM, ca_file=ca_file)
    server, _options = fake_ad.connections[-1]
    assert server.tls.valid_names == ["dc1.corp.example.com"]


def test_connect_without_validation_needs_no_ca(fake_ad):
    ad_ldap.connect("198.51.100.2", "Admin", fake_ad.ADMIN_PASSWORD, fake_ad.REALM, port=10636, validate_certs=False)
    server, _options = fake_ad.connections[-1]
    assert server.port == 10636
    assert server.tls.validate == ssl.CERT_NONE
    assert server.tls.ca_certs_file is None


@pytest.mark.parametrize("bind_user, password, reason", [
    ("Admin", "not-the-password", "wrong password"),
    ("nobody", "whatever-it-is", "no such user"),
])
def test_connect_bind_failure_names_host_port_user_never_the_password(fake_ad, ca_file, bind_user, password, reason):
    with pytest.raises(AdLdapError) as error:
        ad_ldap.connect("198.51.100.2", bind_user, password, fake_ad.REALM, ca_file=ca_file)
    message = str(error.value)
    assert f"198.51.100.2:636 as {bind_user}@CORP.EXAMPLE.COM: {reason}" in message
    assert "bind_password" in message
    assert password not in message


def test_connect_bad_ca_file(fake_ad, tmp_path):
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(AdLdapError, match=f"Cannot use ldap_ca_file {missing}"):
        ad_ldap.connect("198.51.100.2", "Admin", fake_ad.ADMIN_PASSWORD, fake_ad.REALM, ca_file=missing)


@pytest.mark.parametrize("socket_error, expected", [
    ("socket ssl wrapping error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
     "did not verify against ldap_ca_file"),
    ("certificate {'subject': ...} doesn't match any name in ['198.51.100.2', 'dc9']",
     "set ldap_server_name"),
    ("socket connection error while opening: [Errno 111] Connection refused",
     "Cannot reach the LDAPS service at 198.51.100.2:636"),
])
def test_connect_network_and_tls_failures_say_what_to_fix(monkeypatch, ca_file, socket_error, expected):
    class Unreachable:
        def __init__(self, server, **kwargs):
            pass

        def open(self):
            raise LDAPSocketOpenError(socket_error)

    monkeypatch.setattr(ad_ldap, "Connection", Unreachable)
    with pytest.raises(AdLdapError, match=expected):
        ad_ldap.connect("198.51.100.2", "Admin", "s3cret-value", "CORP.EXAMPLE.COM", ca_file=ca_file, server_name="dc9")


# -- find -----------------------------------------------------------------------------------

def test_find_user_missing(directory):
    assert directory.find_user("alice") is None


def test_find_user_reads_attributes(directory, fake_ad):
    dn = fake_ad.add_user(
        "bob", password=PASSWORD, enabled=False, givenName="Bob", sn="Builder", mail="bob@example.com",
        userPrincipalName="bob@corp.example.com", **{"msDS-SupportedEncryptionTypes": "28"},
    )
    user = directory.find_user("bob")
    assert {key: user[key] for key in ad_ldap.PUBLIC_USER_KEYS} == {
        "name": "bob",
        "dn": dn,
        "sid": f"{fake_ad.DOMAIN_SID}-1104",
        "user_principal_name": "bob@corp.example.com",
        "enabled": False,
        "given_name": "Bob",
        "surname": "Builder",
        "email_address": "bob@example.com",
        "supported_encryption_types": ["aes128", "aes256", "rc4"],
    }
    assert user["has_password"] is True
    assert user["user_account_control"] == 514


def test_find_user_anywhere_under_the_base_dn(directory, fake_ad):
    dn = fake_ad.add_user("carol", password=PASSWORD, ou="OU=CORP," + fake_ad.BASE_DN)
    assert directory.find_user("carol")["dn"] == dn


@pytest.mark.parametrize("classes, kind", [
    (["top", "person", "organizationalPerson", "user", "computer"], "computer"),
    (["top", "group"], "group"),
])
def test_find_user_refuses_other_objects(directory, fake_ad, classes, kind):
    fake_ad.add_user("taken", objectClass=classes)
    with pytest.raises(AdLdapError, match=f"sAMAccountName taken belongs to a {kind} .*not a user: choose another name"):
        directory.find_user("taken")


def test_find_user_escapes_the_filter(directory, fake_ad):
    fake_ad.add_user("bob", password=PASSWORD)
    assert directory.find_user("b*") is None


# -- create ---------------------------------------------------------------------------------

@pytest.mark.parametrize("password, enabled, uac", [
    (PASSWORD, True, "512"),
    (PASSWORD, False, "514"),
    (None, False, "514"),
])
def test_create_user_writes_everything_in_one_add(directory, fake_ad, password, enabled, uac):
    dn = create(directory, fake_ad, password=password, enabled=enabled, given_name="Alice", surname="",
                email_address="alice@example.com", user_principal_name="alice@CORP.EXAMPLE.COM")
    assert dn == f"CN=alice,{fake_ad.USERS_OU}"
    entry = fake_ad.entry(dn)
    assert entry["sAMAccountName"] == ["alice"]
    assert entry["userAccountControl"] == [uac]
    assert entry["msDS-SupportedEncryptionTypes"] == ["24"]
    assert entry["givenName"] == ["Alice"]
    assert "sn" not in entry
    assert entry["mail"] == ["alice@example.com"]
    assert entry["userPrincipalName"] == ["alice@CORP.EXAMPLE.COM"]
    assert set(entry["objectClass"]) == {"top", "person", "organizationalPerson", "user"}
    assert entry.get("userPassword") == ([password] if password else None)


def test_create_user_check_mode_leaves_the_directory_alone(directory, fake_ad):
    before = fake_ad.snapshot()
    assert create(directory, fake_ad, check_mode=True) == f"CN=alice,{fake_ad.USERS_OU}"
    assert fake_ad.snapshot() == before


def test_create_user_refused_password_leaves_nothing(directory, fake_ad):
    with pytest.raises(AdLdapError, match="password policy"):
        create(directory, fake_ad, password="short")
    assert directory.find_user("alice") is None


def test_create_user_enabled_without_password_is_refused_by_ad(directory, fake_ad):
    with pytest.raises(AdLdapError, match="unwillingToPerform"):
        create(directory, fake_ad, password=None, enabled=True)


def test_create_user_in_a_missing_ou(directory, fake_ad):
    ou = "OU=Nope," + fake_ad.BASE_DN
    with pytest.raises(AdLdapError, match=f"The OU {ou} does not exist: check ou"):
        directory.create_user("alice", ou, {}, PASSWORD, True, False)


def test_create_user_whose_cn_is_taken(directory, fake_ad):
    fake_ad.add_user("alice", password=PASSWORD, sAMAccountName="alice2")
    with pytest.raises(AdLdapError, match="already exists .*check name and ou"):
        create(directory, fake_ad)


def test_create_user_escapes_the_cn(directory, fake_ad):
    dn = create(directory, fake_ad, name="#hash")
    assert dn == f"CN=\\#hash,{fake_ad.USERS_OU}"


def test_create_user_without_rights(directory, fake_ad):
    fake_ad.fail_next("add", 50, "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0")
    with pytest.raises(AdLdapError) as error:
        create(directory, fake_ad)
    assert "insufficientAccessRights (50)" in str(error.value)
    assert "OU=<short_name>" in str(error.value)


# -- update ---------------------------------------------------------------------------------

@pytest.mark.parametrize("wanted, changed, attribute, stored", [
    ({"given_name": "Alicia"}, ["given_name"], "givenName", ["Alicia"]),
    ({"given_name": ""}, ["given_name"], "givenName", None),
    ({"surname": "Smith"}, ["surname"], "sn", ["Smith"]),
    ({"email_address": "a@example.org"}, ["email_address"], "mail", ["a@example.org"]),
    ({"user_principal_name": "alice@corp.example.com"}, ["user_principal_name"], "userPrincipalName",
     ["alice@corp.example.com"]),
    ({"supported_encryption_types": ["aes256"]}, ["supported_encryption_types"], "msDS-SupportedEncryptionTypes", ["16"]),
    ({"supported_encryption_types": []}, ["supported_encryption_types"], "msDS-SupportedEncryptionTypes", None),
])
def test_update_attributes(directory, fake_ad, wanted, changed, attribute, stored):
    dn = create(directory, fake_ad, given_name="Alice", user_principal_name="alice@CORP.EXAMPLE.COM")
    assert directory.update_attributes(directory.find_user("alice"), wanted, False) == changed
    assert fake_ad.entry(dn).get(attribute) == stored
    assert directory.update_attributes(directory.find_user("alice"), wanted, False) == []


def test_update_attributes_leaves_unmanaged_alone(directory, fake_ad):
    dn = create(directory, fake_ad, given_name="Alice", surname="Smith")
    before = fake_ad.snapshot()
    unmanaged = {"given_name": None, "surname": None, "email_address": None, "user_principal_name": None,
                 "supported_encryption_types": None}
    assert directory.update_attributes(directory.find_user("alice"), unmanaged, False) == []
    assert fake_ad.snapshot() == before
    assert fake_ad.value(dn, "sn") == "Smith"


def test_update_attributes_check_mode(directory, fake_ad):
    create(directory, fake_ad, given_name="Alice")
    before = fake_ad.snapshot()
    user = directory.find_user("alice")
    assert directory.update_attributes(user, {"given_name": "Bob", "supported_encryption_types": ["rc4"]}, True) == [
        "given_name", "supported_encryption_types"]
    assert fake_ad.snapshot() == before


# -- password -------------------------------------------------------------------------------

def test_password_works(directory, fake_ad):
    create(directory, fake_ad)
    user = directory.find_user("alice")
    assert directory.password_works(user, PASSWORD) is True
    assert directory.password_works(user, "Wr0ng-password") is False


def test_password_works_does_not_try_a_disabled_user(directory, fake_ad):
    create(directory, fake_ad, enabled=False)
    fake_ad.binds.clear()
    assert directory.password_works(directory.find_user("alice"), PASSWORD) is False
    assert fake_ad.binds == []


def test_set_password(directory, fake_ad):
    dn = create(directory, fake_ad)
    assert directory.set_password(directory.find_user("alice"), "N3w-password!", False) is True
    assert fake_ad.value(dn, "userPassword") == "N3w-password!"
    assert "unicodePwd" not in fake_ad.entry(dn)


def test_set_password_check_mode(directory, fake_ad):
    create(directory, fake_ad)
    before = fake_ad.snapshot()
    assert directory.set_password(directory.find_user("alice"), "N3w-password!", True) is True
    assert fake_ad.snapshot() == before


def test_set_password_refused(directory, fake_ad):
    dn = create(directory, fake_ad)
    with pytest.raises(AdLdapError, match="constraintViolation .*password policy"):
        directory.set_password(directory.find_user("alice"), "short", False)
    assert fake_ad.value(dn, "userPassword") == PASSWORD


# -- enable / disable -----------------------------------------------------------------------

@pytest.mark.parametrize("start, enabled, changed, uac", [
    ("512", False, True, "514"),
    ("514", True, True, "512"),
    ("512", True, False, "512"),
    ("514", False, False, "514"),
    ("66048", False, True, "66050"),  # DONT_EXPIRE_PASSWORD survives
    ("66050", True, True, "66048"),
])
def test_set_enabled_flips_only_accountdisable(directory, fake_ad, start, enabled, changed, uac):
    dn = fake_ad.add_user("bob", password=PASSWORD, userAccountControl=start)
    assert directory.set_enabled(directory.find_user("bob"), enabled, False) is changed
    assert fake_ad.value(dn, "userAccountControl") == uac


def test_set_enabled_check_mode(directory, fake_ad):
    fake_ad.add_user("bob", password=PASSWORD)
    before = fake_ad.snapshot()
    assert directory.set_enabled(directory.find_user("bob"), False, True) is True
    assert fake_ad.snapshot() == before


def test_enable_without_password_says_give_password(directory, fake_ad):
    fake_ad.add_user("bob", enabled=False)
    with pytest.raises(AdLdapError, match="unwillingToPerform .*give password"):
        directory.set_enabled(directory.find_user("bob"), True, False)


# -- delete ---------------------------------------------------------------------------------

def test_delete_user(directory, fake_ad):
    dn = fake_ad.add_user("bob", password=PASSWORD)
    assert directory.delete_user(directory.find_user("bob"), False) is True
    assert dn not in fake_ad.dit


def test_delete_user_check_mode(directory, fake_ad):
    dn = fake_ad.add_user("bob", password=PASSWORD)
    assert directory.delete_user(directory.find_user("bob"), True) is True
    assert dn in fake_ad.dit


def test_delete_user_failure(directory, fake_ad):
    fake_ad.add_user("bob", password=PASSWORD)
    fake_ad.fail_next("delete", 50, "00002098: SecErr")
    with pytest.raises(AdLdapError, match="Failed to delete CN=bob,.*insufficientAccessRights"):
        directory.delete_user(directory.find_user("bob"), False)
