# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plain `pytest tests/unit` from the repo root: resolve ansible_collections.* like ansible does.

The repo root is the collection and is reached through collections/ansible_collections/aurora/
kerberos; amazon.aws and community.postgresql come from the venv's site-packages.
"""

import site
import sys
from pathlib import Path

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

REPO = Path(__file__).resolve().parents[2]


def _collection_paths():
    paths = [str(REPO / "collections")]
    for candidate in [*site.getsitepackages(), *sys.path]:
        if (Path(candidate) / "ansible_collections").is_dir() and candidate not in paths:
            paths.append(candidate)
    return paths


# ansible-test installs its own finder; only install ours under plain pytest.
if not any(type(finder).__name__ == "_AnsibleCollectionFinder" for finder in sys.meta_path):
    _AnsibleCollectionFinder(paths=_collection_paths())._install()


# ---------------------------------------------------------------------------------------------
# An in-memory Active Directory for ldap3's MOCK_SYNC strategy, shared by the ad_ldap and ad_user
# tests. ldap3's mock stores attributes and checks binds against userPassword; FakeAD adds the AD
# behaviour the module relies on: unicodePwd sets the password (and pwdLastSet) and never reads
# back, user@realm binds, AD's "data 52e/533" bind errors, objectSid on add, a password policy,
# no enabled account without a password, and no object under a missing parent.

import copy  # noqa: E402
import itertools  # noqa: E402
import struct  # noqa: E402

import pytest  # noqa: E402
from ldap3 import MOCK_SYNC  # noqa: E402
from ldap3 import OFFLINE_AD_2012_R2  # noqa: E402
from ldap3 import Connection as Ldap3Connection  # noqa: E402
from ldap3 import Server as Ldap3Server  # noqa: E402
from ldap3.operation.bind import bind_request_to_dict  # noqa: E402
from ldap3.utils.dn import safe_dn  # noqa: E402


def _result(code=0, message=""):
    return {"resultCode": code, "matchedDN": "", "diagnosticMessage": message, "referral": None, "serverSaslCreds": None}


class FakeAD:
    DOMAIN = "corp.example.com"
    REALM = "CORP.EXAMPLE.COM"
    BASE_DN = "DC=corp,DC=example,DC=com"
    USERS_OU = "OU=Users,OU=CORP,DC=corp,DC=example,DC=com"
    ADMIN_DN = "CN=Admin,OU=Users,OU=CORP,DC=corp,DC=example,DC=com"
    ADMIN_PASSWORD = "Adm1n-Secret!"
    DOMAIN_SID = "S-1-5-21-2127521184-1604012920-1887927527"
    MIN_PASSWORD_LENGTH = 7

    def __init__(self):
        self.server = Ldap3Server("dc1.corp.example.com", get_info=OFFLINE_AD_2012_R2)
        self.connections = []  # (server ldap3 was asked for, kwargs) per connection the code opened
        self.failures = {}  # operation -> (code, message) answered once instead of doing it
        self.binds = []  # identities of attempted binds
        self._rids = itertools.count(1104)
        seed = Ldap3Connection(self.server, client_strategy=MOCK_SYNC)
        self.dit = self.server.dit
        for dn in ("OU=CORP," + self.BASE_DN, self.USERS_OU):
            seed.strategy.add_entry(dn, {"objectClass": ["top", "organizationalUnit"]})
        seed.strategy.add_entry(self.BASE_DN, {"objectClass": ["top", "domain", "domainDNS"]})
        seed.strategy.add_entry(self.ADMIN_DN, {
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "sAMAccountName": "Admin",
            "userAccountControl": "512",
            "pwdLastSet": "133000000000000000",
            "userPassword": self.ADMIN_PASSWORD,
        })

    def _new_sid(self):
        """objectSid bytes of the domain SID plus the next RID (MS-DTYP 2.4.2.2)."""
        rid = next(self._rids)
        return b"\x01\x05\x00\x00\x00\x00\x00\x05" + struct.pack("<5I", 21, 2127521184, 1604012920, 1887927527, rid)

    # -- test helpers ------------------------------------------------------------------------
    def add_user(self, name, password=None, ou=None, enabled=True, **attributes):
        dn = f"CN={name},{ou or self.USERS_OU}"
        entry = {
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "sAMAccountName": name,
            "userAccountControl": str(512 | (0 if enabled else 2)),
            "objectSid": self._new_sid(),
            "pwdLastSet": "133000000000000000" if password else "0",
        }
        if password:
            entry["userPassword"] = password
        entry.update(attributes)
        Ldap3Connection(self.server, client_strategy=MOCK_SYNC).strategy.add_entry(dn, entry)
        return dn

    def entry(self, dn):
        """The stored entry as {attribute: [str]} (bytes that are not UTF-8 stay bytes)."""
        def text(value):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return value
        return {key: [text(value) for value in values] for key, values in self.dit[dn].items()}

    def value(self, dn, attribute):
        values = self.entry(dn).get(attribute)
        return values[0] if values else None

    def snapshot(self):
        return copy.deepcopy(dict(self.dit))

    def fail_next(self, operation, code, message=""):
        self.failures[operation] = (code, message)

    # -- the ldap3.Connection stand-in -------------------------------------------------------
    def connection(self, server, user=None, password=None, **kwargs):
        self.connections.append((server, dict(kwargs, user=user)))
        conn = Ldap3Connection(
            self.server,
            user=user,
            password=password,
            client_strategy=MOCK_SYNC,
            raise_exceptions=kwargs.get("raise_exceptions", False),
            auto_referrals=False,
        )
        strategy = conn.strategy
        original_add, original_modify, original_delete = strategy.mock_add, strategy.mock_modify, strategy.mock_delete

        def injected(operation):
            if operation in self.failures:
                return _result(*self.failures.pop(operation))
            return None

        def mock_bind(request_message, controls):
            request = bind_request_to_dict(request_message)
            identity = request["name"]
            self.binds.append(identity)
            failure = injected("bind")
            if failure:
                return failure
            dn = self._resolve(identity)
            if dn is None:
                return _result(49, "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 525, v4563")
            stored = self.dit[dn].get("userPassword", [b""])[0].decode("utf-8")
            if stored != request["authentication"]["simple"]:
                return _result(49, "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563")
            if int(self.dit[dn]["userAccountControl"][0]) & 2:
                return _result(49, "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 533, v4563")
            strategy.bound = dn
            return _result()

        def mock_add(request_message, controls):
            failure = injected("add")
            if failure:
                return failure
            dn = safe_dn(str(request_message["entry"]))
            parent = dn.split(",", 1)[1]
            if parent not in self.dit:
                return _result(32, f"0000208D: NameErr: DSID-0310028D, problem 2001 (NO_OBJECT), data 0, best match of: '{self.BASE_DN}'")
            answer = original_add(request_message, controls)
            if answer["resultCode"] == 0:
                self.dit[dn]["objectSid"] = [self._new_sid()]
                self.dit[dn].setdefault("pwdLastSet", [b"0"])
                refusal = self._apply_ad_rules(dn)
                if refusal:
                    del self.dit[dn]
                    return refusal
            return answer

        def mock_modify(request_message, controls):
            failure = injected("modify")
            if failure:
                return failure
            dn = safe_dn(str(request_message["object"]))
            before = copy.deepcopy(self.dit.get(dn))
            answer = original_modify(request_message, controls)
            if answer["resultCode"] == 0:
                refusal = self._apply_ad_rules(dn)
                if refusal:
                    self.dit[dn] = before
                    return refusal
            return answer

        def mock_delete(request_message, controls):
            return injected("delete") or original_delete(request_message, controls)

        strategy.mock_bind = mock_bind
        strategy.mock_add = mock_add
        strategy.mock_modify = mock_modify
        strategy.mock_delete = mock_delete
        return conn

    def _resolve(self, identity):
        if identity in self.dit:
            return identity
        if "@" in identity:
            # AD takes the userPrincipalName, or sAMAccountName@<DNS domain> in any case
            account, suffix = identity.split("@", 1)
            for dn, entry in self.dit.items():
                upn = entry.get("userPrincipalName", [b""])[0].decode("utf-8")
                sam = entry.get("sAMAccountName", [b""])[0].decode("utf-8")
                if upn.lower() == identity.lower() or (sam.lower() == account.lower() and suffix.lower() == self.DOMAIN):
                    return dn
        return None

    def _apply_ad_rules(self, dn):
        entry = self.dit[dn]
        if "unicodePwd" in entry:
            password = entry.pop("unicodePwd")[0].decode("utf-16-le")[1:-1]
            if len(password) < self.MIN_PASSWORD_LENGTH:
                return _result(19, "0000052D: Constraint violation - check_password_restrictions: the password is too short."
                                   " It should be equal or longer than 7 characters!")
            entry["userPassword"] = [password.encode("utf-8")]
            entry["pwdLastSet"] = [b"133100000000000000"]
        uac = int(entry.get("userAccountControl", [b"512"])[0])
        if not uac & 2 and entry.get("pwdLastSet", [b"0"])[0] == b"0":
            return _result(53, "0000052D: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0")
        return None


@pytest.fixture
def fake_ad(monkeypatch):
    """A FakeAD that ad_ldap.connect() talks to instead of a domain controller."""
    from ansible_collections.aurora.kerberos.plugins.module_utils import ad_ldap

    fake = FakeAD()
    monkeypatch.setattr(ad_ldap, "Connection", fake.connection)
    return fake


@pytest.fixture
def ca_file(tmp_path):
    """A file where ldap_ca_file wants one; ldap3 only reads it when it opens a real socket."""
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n")
    return str(path)
