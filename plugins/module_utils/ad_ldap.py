# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Active Directory users over LDAPS with ldap3: the ``ldap`` backend of aurora.kerberos.ad_user.

ldap3 is pure Python (community.general's ldap modules need the python-ldap C build) and lets us
write ``unicodePwd``, which is how AD takes a password from an administrator.
"""

import contextlib
import re
import ssl
import traceback

try:
    from ldap3 import BASE
    from ldap3 import MODIFY_ADD
    from ldap3 import MODIFY_DELETE
    from ldap3 import MODIFY_REPLACE
    from ldap3 import NONE
    from ldap3 import SIMPLE
    from ldap3 import SUBTREE
    from ldap3 import Connection
    from ldap3 import Server
    from ldap3 import Tls
    from ldap3.core.exceptions import LDAPCertificateError
    from ldap3.core.exceptions import LDAPException
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.core.exceptions import LDAPOperationResult
    from ldap3.core.exceptions import LDAPSSLConfigurationError
    from ldap3.protocol.formatters.formatters import format_sid
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn
    from ldap3.utils.dn import parse_dn
except ImportError:
    HAS_LDAP3 = False
    LDAP3_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_LDAP3 = True
    LDAP3_IMPORT_ERROR = None


# userAccountControl flags (MS-ADTS 2.2.16)
UF_ACCOUNTDISABLE = 0x0002
UF_NORMAL_ACCOUNT = 0x0200

# msDS-SupportedEncryptionTypes bits (MS-KILE 2.2.7), in the order the module documents them
ENCRYPTION_TYPE_BITS = {"aes128": 0x08, "aes256": 0x10, "rc4": 0x04}

# The user's plain string attributes, one table for both ways to the directory:
# module option -> (LDAP attribute, ds-data request parameter; None where ds-data cannot write it).
USER_ATTRIBUTES = {
    "given_name": ("givenName", "GivenName"),
    "surname": ("sn", "Surname"),
    "email_address": ("mail", "EmailAddress"),
    "user_principal_name": ("userPrincipalName", None),  # read-only over ds-data: always <name>@<REALM>
}
STRING_ATTRIBUTES = {key: ldap for key, (ldap, dummy) in USER_ATTRIBUTES.items()}

# what ad_user returns and diffs; has_password and user_account_control stay internal
PUBLIC_USER_KEYS = (
    "name",
    "dn",
    "sid",
    "user_principal_name",
    "enabled",
    "given_name",
    "surname",
    "email_address",
    "supported_encryption_types",
)

_SEARCH_ATTRIBUTES = [
    "sAMAccountName",
    "objectClass",
    "objectSid",
    "userAccountControl",
    "pwdLastSet",
    "msDS-SupportedEncryptionTypes",
    *STRING_ATTRIBUTES.values(),
]

# The "data" code of AD's invalidCredentials (49) answer says why a bind failed.
_AD_BIND_REASONS = {
    "525": "no such user",
    "52e": "wrong password",
    "530": "the account may not log on at this time",
    "531": "the account may not log on from this workstation",
    "532": "the account's password has expired",
    "533": "the account is disabled",
    "701": "the account has expired",
    "773": "the account must change its password first",
    "775": "the account is locked out",
}

_RESULT_HINTS = {
    1: "The directory could not do it as asked; if it says a bind must be completed first, the connection was not bound.",
    8: "The directory wants an encrypted connection: use LDAPS (ldap_port 636).",
    10: "The DN is outside the directory that ldap_server serves: check domain and ou.",
    17: "The directory's schema lacks an attribute the module writes.",
    19: "A value breaks a directory constraint.",
    21: "A value has the wrong syntax: check the option values.",
    32: "The object, or the OU it should live in, does not exist: check ou and domain.",
    34: "A DN is malformed: check ou (a DN such as OU=Users,OU=CORP,DC=corp,DC=example,DC=com).",
    50: (
        "bind_user may not do this here. In AWS Managed Microsoft AD the delegated Admin account "
        "manages only objects under OU=<short_name>,<base DN>: check ou and bind_user."
    ),
    53: "The directory refused the request.",
    68: "An object with that DN already exists: another object in ou already has the CN name.",
}

PASSWORD_POLICY_HINT = (
    "The domain refused the password: it must satisfy the domain's password policy "
    "(minimum length, complexity, history); choose another password."
)


class AdLdapError(Exception):
    """A failure worded for the person running the playbook: what happened and what to fix."""


def explain_result(description, code, name, message, hints=None):
    """One sentence for an LDAP result code, the directory's own words, and what to fix."""
    text = f"Failed to {description}: the directory answered {name} ({code})"
    message = _clean(message)
    if message:
        text += f": {message}"
    if text[-1] not in ".!?":
        text += "."
    hint = (hints or {}).get(code) or _RESULT_HINTS.get(code)
    return f"{text} {hint}" if hint else text


def _clean(message):
    """AD's diagnostic messages often end in NUL and newlines."""
    return (message or "").replace("\x00", "").strip()


def explain_bind_failure(where, identity, code, name, message):
    """Why a bind failed, naming host, port and user (never the password)."""
    match = re.search(r"data ([0-9a-f]{3,8})", message or "", re.IGNORECASE)
    reason = _AD_BIND_REASONS.get(match.group(1).lower()) if match else None
    text = f"Cannot bind to {where} as {identity}: {reason or name} ({code})"
    if _clean(message) and not reason:
        text += f": {_clean(message)}"
    if text[-1] not in ".!?":
        text += "."
    return f"{text} Check bind_user and bind_password."


class AdLdapErrorHandler:
    """Turns ldap3 exceptions into AdLdapError; hints maps result codes to what to fix."""

    @classmethod
    @contextlib.contextmanager
    def guard(cls, description, hints=None):
        try:
            yield
        except LDAPOperationResult as e:
            raise AdLdapError(explain_result(description, e.result, e.description, e.message, hints)) from e
        except LDAPException as e:
            raise AdLdapError(f"Failed to {description}: {e}") from e


def base_dn_from_domain(domain):
    """corp.example.com -> DC=corp,DC=example,DC=com"""
    return ",".join(f"DC={label}" for label in domain.split("."))


def bind_identity(bind_user, realm):
    """A DN or user@realm is used as given; a bare account name gets @REALM, as AD accepts."""
    if "=" in bind_user or "@" in bind_user or "\\" in bind_user:
        return bind_user
    return f"{bind_user}@{realm}"


def encryption_types_to_int(names):
    value = 0
    for name in names:
        value |= ENCRYPTION_TYPE_BITS[name]
    return value


def encryption_types_from_int(value):
    return [name for name, bit in ENCRYPTION_TYPE_BITS.items() if value and value & bit]


def is_dn(text):
    """Whether text parses as a DN."""
    try:
        parse_dn(text)
    except LDAPInvalidDnError:
        return False
    return bool(text)


def encode_password(password):
    """unicodePwd takes the password in double quotes, UTF-16-LE (MS-ADTS 3.1.1.3.1.5)."""
    return f'"{password}"'.encode("utf-16-le")


def _describe_tls_failure(error, where, ca_file, server_name):
    text = str(error)
    if isinstance(error, LDAPCertificateError) or "doesn't match any name" in text:
        return (
            f"The LDAPS certificate of {where} does not name {server_name}: set ldap_server_name "
            "to a name in the certificate (the DC's host name when ldap_server is an IP address)."
        )
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            f"The LDAPS certificate of {where} did not verify against ldap_ca_file {ca_file}: "
            "use the CA that signed the domain controller's certificate."
        )
    return None


def connect(
    server,
    bind_user,
    bind_password,
    realm,
    port=636,
    ca_file=None,
    server_name=None,
    validate_certs=True,
    timeout=10,
):
    """An ldap3 Connection over LDAPS, bound as bind_user; AdLdapError says what to fix."""
    identity = bind_identity(bind_user, realm)
    where = f"{server}:{port}"
    server_name = server_name or server
    try:
        tls = Tls(
            validate=ssl.CERT_REQUIRED if validate_certs else ssl.CERT_NONE,
            ca_certs_file=ca_file if validate_certs else None,
            valid_names=[server_name],
        )
    except LDAPSSLConfigurationError as e:
        raise AdLdapError(f"Cannot use ldap_ca_file {ca_file}: {e}. Give a readable PEM CA file.") from e
    ldap_server = Server(server, port=port, use_ssl=True, tls=tls, get_info=NONE, connect_timeout=timeout)
    connection = Connection(
        ldap_server,
        user=identity,
        password=bind_password,
        authentication=SIMPLE,
        raise_exceptions=True,
        auto_referrals=False,
        receive_timeout=timeout * 3,
    )
    try:
        connection.open()
        connection.bind()
    except LDAPOperationResult as e:
        raise AdLdapError(explain_bind_failure(where, identity, e.result, e.description, e.message)) from e
    except LDAPException as e:
        tls_failure = _describe_tls_failure(e, where, ca_file, server_name) if validate_certs else None
        if tls_failure:
            raise AdLdapError(tls_failure) from e
        context = f"user {identity}, ldap_ca_file {ca_file}" if validate_certs else f"user {identity}"
        raise AdLdapError(
            f"Cannot reach the LDAPS service at {where} ({context}): {e}. "
            "Check ldap_server and ldap_port, and that the domain controller answers LDAPS there."
        ) from e
    return connection


def _first(raw, attribute):
    values = raw.get(attribute) or []
    return values[0] if values else None


def _text(raw, attribute):
    value = _first(raw, attribute)
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _integer(raw, attribute):
    value = _text(raw, attribute)
    return int(value) if value not in (None, "") else None


class LdapUserDirectory:
    """The users of one AD domain, reached over a bound ldap3 Connection.

    Users are dicts: PUBLIC_USER_KEYS plus has_password and user_account_control.
    Change methods take check_mode and return before writing when it is set.
    """

    def __init__(self, connection, base_dn):
        self.connection = connection
        self.base_dn = base_dn

    def find_user(self, name):
        """The user whose sAMAccountName is name, anywhere under the base DN, or None."""
        search_filter = f"(sAMAccountName={escape_filter_chars(name)})"
        hints = {
            10: f"{self.base_dn} is not served by this domain controller: check domain.",
            32: f"{self.base_dn} does not exist on this domain controller: check domain.",
        }
        with AdLdapErrorHandler.guard(f"look up {name} under {self.base_dn}", hints):
            self.connection.search(self.base_dn, search_filter, SUBTREE, attributes=_SEARCH_ATTRIBUTES)
        entries = [entry for entry in self.connection.response or [] if entry.get("type") == "searchResEntry"]
        if not entries:
            return None
        if len(entries) > 1:
            raise AdLdapError(f"More than one object under {self.base_dn} has the sAMAccountName {name}.")
        entry = entries[0]
        raw = entry["raw_attributes"]
        classes = [value.decode("utf-8").lower() for value in raw.get("objectClass", [])]
        if "user" not in classes or "computer" in classes:
            # objectClass lists the class chain; name the familiar one rather than rely on order
            kind = next((known for known in ("computer", "group", "contact") if known in classes), "non-user object")
            raise AdLdapError(
                f"The sAMAccountName {name} belongs to a {kind} ({entry['dn']}), not a user: choose another name."
            )
        return self._user_from_raw(entry["dn"], raw)

    @staticmethod
    def _user_from_raw(dn, raw):
        uac = _integer(raw, "userAccountControl") or UF_NORMAL_ACCOUNT
        sid = _first(raw, "objectSid")
        user = {
            "name": _text(raw, "sAMAccountName"),
            "dn": dn,
            "sid": format_sid(sid) if sid else None,
            "enabled": not uac & UF_ACCOUNTDISABLE,
            "supported_encryption_types": encryption_types_from_int(_integer(raw, "msDS-SupportedEncryptionTypes")),
            "user_account_control": uac,
            # AD keeps pwdLastSet at 0 until a password is set (or a change is forced)
            "has_password": bool(_integer(raw, "pwdLastSet")),
            "encryption_types_value": _integer(raw, "msDS-SupportedEncryptionTypes"),
        }
        for key, attribute in STRING_ATTRIBUTES.items():
            user[key] = _text(raw, attribute)
        return user

    def user_dn(self, name, ou):
        return f"CN={escape_rdn(name)},{ou}"

    def create_user(self, name, ou, attributes, password, enabled, check_mode):
        """Add the user in one request, password included, so a refused password leaves nothing behind.

        attributes holds STRING_ATTRIBUTES keys and supported_encryption_types; None or "" skips one.
        Returns the new DN.
        """
        dn = self.user_dn(name, ou)
        if check_mode:
            return dn
        ldap_attributes = {
            "sAMAccountName": name,
            "userAccountControl": UF_NORMAL_ACCOUNT | (0 if enabled else UF_ACCOUNTDISABLE),
        }
        for key, attribute in STRING_ATTRIBUTES.items():
            if attributes.get(key):
                ldap_attributes[attribute] = attributes[key]
        if attributes.get("supported_encryption_types"):
            ldap_attributes["msDS-SupportedEncryptionTypes"] = encryption_types_to_int(
                attributes["supported_encryption_types"]
            )
        if password is not None:
            ldap_attributes["unicodePwd"] = encode_password(password)
        hints = {
            32: f"The OU {ou} does not exist: check ou.",
            68: f"{dn} already exists (an object with the CN {name} but another sAMAccountName): check name and ou.",
        }
        if password is not None:
            hints.update({19: PASSWORD_POLICY_HINT, 53: PASSWORD_POLICY_HINT})
        with AdLdapErrorHandler.guard(f"create user {dn}", hints):
            self.connection.add(dn, ["top", "person", "organizationalPerson", "user"], ldap_attributes)
        return dn

    def update_attributes(self, user, attributes, check_mode):
        """Replace the attributes that differ; None leaves one alone, "" (or []) clears it.

        Returns the option names that changed.
        """
        changes = {}
        changed = []
        for key, attribute in STRING_ATTRIBUTES.items():
            wanted = attributes.get(key)
            if wanted is None:
                continue
            if (user.get(key) or "") != wanted:
                changes[attribute] = [(MODIFY_REPLACE, [wanted] if wanted else [])]
                changed.append(key)
        wanted_types = attributes.get("supported_encryption_types")
        if wanted_types is not None:
            wanted_value = encryption_types_to_int(wanted_types)
            if (user.get("encryption_types_value") or 0) != wanted_value:
                changes["msDS-SupportedEncryptionTypes"] = [(MODIFY_REPLACE, [wanted_value] if wanted_value else [])]
                changed.append("supported_encryption_types")
        if not changes or check_mode:
            return changed
        with AdLdapErrorHandler.guard(f"update {', '.join(sorted(changes))} of {user['dn']}"):
            self.connection.modify(user["dn"], changes)
        return changed

    def password_works(self, user, password):
        """Whether a simple bind as the user with password succeeds.

        A disabled user cannot bind, so for one the answer is False without trying. A failed
        bind counts as a bad logon attempt towards the domain's lockout threshold.
        """
        if not user["enabled"]:
            return False
        probe = Connection(
            self.connection.server,
            user=user["dn"],
            password=password,
            authentication=SIMPLE,
            raise_exceptions=False,
            auto_referrals=False,
        )
        try:
            return bool(probe.bind())
        except LDAPException as e:
            raise AdLdapError(f"Failed to check the password of {user['dn']} by binding as it: {e}") from e
        finally:
            with contextlib.suppress(LDAPException):
                probe.unbind()

    def set_password(self, user, password, check_mode):
        """Reset the password as an administrator (no old password): AD wants unicodePwd over TLS."""
        if check_mode:
            return True
        hints = {19: PASSWORD_POLICY_HINT, 53: PASSWORD_POLICY_HINT}
        with AdLdapErrorHandler.guard(f"set the password of {user['dn']}", hints):
            self.connection.extend.microsoft.modify_password(user["dn"], password)
        return True

    def set_enabled(self, user, enabled, check_mode):
        """Flip ACCOUNTDISABLE in userAccountControl, keeping the other flags."""
        if user["enabled"] == enabled:
            return False
        if check_mode:
            return True
        uac = user["user_account_control"]
        uac = (uac & ~UF_ACCOUNTDISABLE) if enabled else (uac | UF_ACCOUNTDISABLE)
        hints = {
            53: (
                "AD refuses to enable an account whose password is missing or does not meet the "
                "domain's password policy: give password."
            ),
        }
        action = "enable" if enabled else "disable"
        with AdLdapErrorHandler.guard(f"{action} {user['dn']}", hints):
            self.connection.modify(user["dn"], {"userAccountControl": [(MODIFY_REPLACE, [uac])]})
        return True

    def delete_user(self, user, check_mode):
        if check_mode:
            return True
        with AdLdapErrorHandler.guard(f"delete {user['dn']}"):
            self.connection.delete(user["dn"])
        return True

    def close(self):
        with contextlib.suppress(LDAPException):
            self.connection.unbind()


# groupType bits (MS-ADTS 2.2.12); AD stores the value as a signed 32-bit integer
GROUP_SCOPE_BITS = {"Global": 0x2, "DomainLocal": 0x4, "Universal": 0x8}
GROUP_TYPE_SECURITY = 0x80000000

_GROUP_ATTRIBUTES = ["sAMAccountName", "objectClass", "objectSid", "groupType", "description", "member"]


def group_type_to_int(group_type, group_scope):
    value = GROUP_SCOPE_BITS[group_scope] | (GROUP_TYPE_SECURITY if group_type == "Security" else 0)
    return value - (1 << 32) if value & GROUP_TYPE_SECURITY else value


def group_type_from_int(value):
    """(group_type, group_scope) of a groupType value; scope None for a builtin local group."""
    value = (value or 0) & 0xFFFFFFFF
    scope = next((name for name, bit in GROUP_SCOPE_BITS.items() if value & bit), None)
    return ("Security" if value & GROUP_TYPE_SECURITY else "Distribution"), scope


class LdapGroupDirectory:
    """The groups of one AD domain, reached over a bound ldap3 Connection.

    Groups are dicts: name, dn, sid, group_type, group_scope, description and members (the
    sAMAccountNames of the members). Change methods take check_mode and return before writing.
    """

    def __init__(self, connection, base_dn):
        self.connection = connection
        self.base_dn = base_dn

    def _find(self, name, attributes):
        search_filter = f"(sAMAccountName={escape_filter_chars(name)})"
        with AdLdapErrorHandler.guard(f"look up {name} under {self.base_dn}"):
            self.connection.search(self.base_dn, search_filter, SUBTREE, attributes=attributes)
        entries = [entry for entry in self.connection.response or [] if entry.get("type") == "searchResEntry"]
        if len(entries) > 1:
            raise AdLdapError(f"More than one object under {self.base_dn} has the sAMAccountName {name}.")
        return entries[0] if entries else None

    def find_group(self, name):
        """The group whose sAMAccountName is name, anywhere under the base DN, or None."""
        entry = self._find(name, _GROUP_ATTRIBUTES)
        if entry is None:
            return None
        raw = entry["raw_attributes"]
        classes = [value.decode("utf-8").lower() for value in raw.get("objectClass", [])]
        if "group" not in classes:
            raise AdLdapError(
                f"The sAMAccountName {name} belongs to {entry['dn']}, which is not a group: choose another name."
            )
        sid = _first(raw, "objectSid")
        group_type, group_scope = group_type_from_int(_integer(raw, "groupType"))
        member_dns = {self._member_name(value.decode("utf-8")): value.decode("utf-8") for value in raw.get("member", [])}
        return {
            "name": _text(raw, "sAMAccountName"),
            "dn": entry["dn"],
            "sid": format_sid(sid) if sid else None,
            "group_type": group_type,
            "group_scope": group_scope,
            "description": _text(raw, "description"),
            "members": sorted(member_dns, key=str.lower),
            "member_dns": member_dns,
        }

    def _member_name(self, dn):
        with AdLdapErrorHandler.guard(f"read member {dn}"):
            self.connection.search(dn, "(objectClass=*)", BASE, attributes=["sAMAccountName"])
        entries = [entry for entry in self.connection.response or [] if entry.get("type") == "searchResEntry"]
        name = _text(entries[0]["raw_attributes"], "sAMAccountName") if entries else None
        return name or dn

    def member_dn(self, name):
        """The DN of the user, group or computer whose sAMAccountName is name."""
        entry = self._find(name, ["sAMAccountName"])
        if entry is None:
            raise AdLdapError(f"Member {name} does not exist under {self.base_dn}: check members.")
        return entry["dn"]

    def create_group(self, name, ou, group_type, group_scope, description, check_mode):
        dn = f"CN={escape_rdn(name)},{ou}"
        if check_mode:
            return dn
        attributes = {"sAMAccountName": name, "groupType": group_type_to_int(group_type, group_scope)}
        if description:
            attributes["description"] = description
        hints = {
            32: f"The OU {ou} does not exist: check ou.",
            68: f"{dn} already exists (an object with the CN {name} but another sAMAccountName): check name and ou.",
        }
        with AdLdapErrorHandler.guard(f"create group {dn}", hints):
            self.connection.add(dn, ["top", "group"], attributes)
        return dn

    def update_group(self, group, group_type, group_scope, description, check_mode):
        """Change groupType and description where they differ; returns the option names that changed."""
        changes, changed = {}, []
        new_type = group_type or group["group_type"]
        new_scope = group_scope or group["group_scope"]
        if (new_type, new_scope) != (group["group_type"], group["group_scope"]):
            changes["groupType"] = [(MODIFY_REPLACE, [group_type_to_int(new_type, new_scope)])]
            pairs = (("group_type", group["group_type"], new_type), ("group_scope", group["group_scope"], new_scope))
            changed.extend(key for key, old, new in pairs if old != new)
        if description is not None and (group["description"] or "") != description:
            changes["description"] = [(MODIFY_REPLACE, [description] if description else [])]
            changed.append("description")
        if not changes or check_mode:
            return changed
        hints = {53: "AD refuses this scope change; a Global and a DomainLocal group convert only through Universal."}
        with AdLdapErrorHandler.guard(f"update {', '.join(sorted(changes))} of {group['dn']}", hints):
            self.connection.modify(group["dn"], changes)
        return changed

    def change_members(self, group, to_add, to_remove, check_mode):
        """Add and remove members by sAMAccountName; returns whether anything changed."""
        if not (to_add or to_remove):
            return False
        dns = {name.lower(): dn for name, dn in group["member_dns"].items()}
        add_dns = [self.member_dn(name) for name in to_add]
        remove_dns = [dns.get(name.lower()) or self.member_dn(name) for name in to_remove]
        if check_mode:
            return True
        changes = {}
        if add_dns:
            changes.setdefault("member", []).append((MODIFY_ADD, add_dns))
        if remove_dns:
            changes.setdefault("member", []).append((MODIFY_DELETE, remove_dns))
        with AdLdapErrorHandler.guard(f"change the members of {group['dn']}"):
            self.connection.modify(group["dn"], changes)
        return True

    def delete_group(self, group, check_mode):
        if check_mode:
            return True
        with AdLdapErrorHandler.guard(f"delete {group['dn']}"):
            self.connection.delete(group["dn"])
        return True

    def close(self):
        with contextlib.suppress(LDAPException):
            self.connection.unbind()
