# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What one AD user or group becomes, over LDAPS or ds-data: the logic of ad_user and ad_group, shared with
ad_users, which applies it to a whole list in one task. One engine per kind (run_user, run_group) for both
backends; where the backends' rules differ (users), LdapUsers and DataUsers say how.

Every function takes a ``task``: anything with ``params`` (one user's or group's options, defaults applied),
``check_mode`` and ``warn(message)``. For ad_user and ad_group that is the task itself.
"""

import re

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import ENCRYPTION_TYPE_BITS
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import PUBLIC_USER_KEYS
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import STRING_ATTRIBUTES
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LdapGroupDirectory

# sAMAccountName rules: at most 20 characters, none of these (MS-ADTS 3.1.1.5.2.4 and the AD docs)
SAM_ACCOUNT_NAME_FORBIDDEN = set('"/\\[]:;|=,+*?<>@\'')
NETBIOS_FORBIDDEN = set('\\/:*?"<>|. ')
# the ds-data model's pattern for a group's SAMAccountName, which AD's own rules include
GROUP_NAME = re.compile(r'^[^:;|=+"*?<>/\\,\[\]@]{1,64}$')
PUBLIC_GROUP_KEYS = ("name", "dn", "sid", "group_type", "group_scope", "description", "members")

# The options of one user (ad_user, and each entry of ad_users' users) and of one group.
USER_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    password=dict(type="str", no_log=True),
    update_password=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
    enabled=dict(type="bool", default=True),
    given_name=dict(type="str"),
    surname=dict(type="str"),
    email_address=dict(type="str"),
    user_principal_name=dict(type="str"),
    supported_encryption_types=dict(type="list", elements="str", choices=list(ENCRYPTION_TYPE_BITS),
                                    default=["aes128", "aes256"]),
)
GROUP_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    group_type=dict(type="str", choices=["Security", "Distribution"]),
    group_scope=dict(type="str", choices=["DomainLocal", "Global", "Universal"]),
    description=dict(type="str"),
    members=dict(type="list", elements="str"),
    purge_members=dict(type="bool", default=False),
)


def sam_account_name_problem(name):
    """Why name cannot be a sAMAccountName, or None."""
    if not 1 <= len(name) <= 20:
        return f"must be 1 to 20 characters long, not {len(name)}"
    forbidden = sorted(set(name) & SAM_ACCOUNT_NAME_FORBIDDEN)
    if forbidden:
        return f"must not contain {' '.join(forbidden)}"
    if any(ord(char) < 32 for char in name):
        return "must not contain control characters"
    if not name.strip(". "):
        return "must not be only periods and spaces"
    if name.endswith("."):
        return "must not end with a period"
    if name != name.strip():
        return "must not start or end with a space"
    return None


def public_user(user):
    return {key: user.get(key) for key in PUBLIC_USER_KEYS} if user else {}


def wanted_attributes(params):
    wanted = {key: params[key] for key in STRING_ATTRIBUTES}
    chosen = params["supported_encryption_types"]
    wanted["supported_encryption_types"] = [name for name in ENCRYPTION_TYPE_BITS if name in chosen]
    return wanted


def expected_user(user, wanted, enabled):
    """The user as it will be once wanted and enabled are applied (what check mode returns)."""
    after = dict(user)
    for key, value in wanted.items():
        if value is None:
            continue
        # "" clears a string attribute, which then reads back as None
        after[key] = (value or None) if key in STRING_ATTRIBUTES else value
    after["enabled"] = enabled
    return after


class LdapUsers:
    """How the users of an LdapUserDirectory follow AD's own rules, for run_user."""

    # AD enables an account with a password only; a password is checked by binding as the user.
    password_enables = False
    created_disabled = ("Creating {name} disabled because no password was given: AD refuses to enable an account "
                        "without a password. A later run that gives password enables it.")
    stays_disabled = "{name} has no password, so it stays disabled: give password to enable it."

    def __init__(self, directory):
        self.directory = directory

    def __getattr__(self, name):
        return getattr(self.directory, name)

    @staticmethod
    def can_enable(user, password_set):
        return user["has_password"] or password_set


class DataUsers:
    """The Directory Service Data API behind the same calls as LdapUsers, for run_user. Its rules differ where the API
    does: CreateUser makes a disabled user without a password, ResetUserPassword sets the password and enables the
    user (the only way the API enables one), a password cannot be checked (so update_password always sets it) and
    the user principal name is read-only."""

    password_enables = True
    created_disabled = ("Created {name} disabled because no password was given: the directory enables a user only "
                        "when its password is set. A later run that gives password enables it.")
    stays_disabled = ("{name} is disabled and stays so: the Directory Service Data API enables a user only by "
                      "setting its password, so give password to enable it.")

    def __init__(self, data):
        self.data = data

    def find_user(self, name):
        return self.data.describe_user(name)

    def create_user(self, name, ou, wanted, password, enabled, check_mode):
        self.data.create_user(name, dict(wanted, user_principal_name=None), check_mode)
        if password is not None:
            self.data.set_password(name, password, check_mode)
            if not enabled:
                self.data.disable_user(name, check_mode)
        return f"CN={name},{ou}"

    def update_attributes(self, user, wanted, check_mode):
        return self.data.update_user(user, dict(wanted, user_principal_name=None), check_mode)

    @staticmethod
    def password_works(user, password):
        return False

    def set_password(self, user, password, check_mode):
        return self.data.set_password(user["name"], password, check_mode)

    @staticmethod
    def can_enable(user, password_set):
        return False

    def set_enabled(self, user, enabled, check_mode):
        """Only disabling is a call of its own; enabling is setting the password."""
        return bool(user["enabled"] and not enabled and self.data.disable_user(user["name"], check_mode))

    def delete_user(self, user, check_mode):
        return self.data.delete_user(user["name"], check_mode)


def create_user(task, users, settings, wanted):
    params = task.params
    wanted["user_principal_name"] = wanted["user_principal_name"] or f"{params['name']}@{settings['realm']}"
    enabled = params["enabled"]
    if enabled and params["password"] is None:
        task.warn(users.created_disabled.format(name=params["name"]))
        enabled = False
    dn = users.create_user(params["name"], settings["ou"], wanted, params["password"], enabled, task.check_mode)
    if task.check_mode:
        return expected_user(dict(name=params["name"], dn=dn, sid=None), wanted, enabled)
    return users.find_user(params["name"])


def update_user(task, users, user, wanted):
    """Attributes, then the password, then enabled: AD enables only a user with a password."""
    params = task.params
    check_mode = task.check_mode
    changed = bool(users.update_attributes(user, wanted, check_mode))

    password, enabled = params["password"], params["enabled"]
    password_set = False
    if password is not None and (
        not user["has_password"]
        or (params["update_password"] == "always" and not users.password_works(user, password))
        or (users.password_enables and enabled and not user["enabled"])
    ):
        password_set = users.set_password(user, password, check_mode)

    is_enabled = user["enabled"] or (password_set and users.password_enables)
    if enabled and not is_enabled and not users.can_enable(user, password_set):
        task.warn(users.stays_disabled.format(name=params["name"]))
        enabled = False
    changed = users.set_enabled(dict(user, enabled=is_enabled), enabled, check_mode) or password_set or changed

    if changed and not check_mode:
        return changed, users.find_user(params["name"])
    return changed, expected_user(user, wanted, enabled)


def run_user(task, directory, settings, readable=True):
    """One user, over LDAPS (an LdapUserDirectory) or ds-data (a DirectoryData): one engine, the backend's rules in
    LdapUsers or DataUsers."""
    # A ds_data DirectoryData reads a user with describe_user (the API's DescribeUser); an LdapUserDirectory, or
    # ad_users' prefetching wrapper of one, with find_user.
    users = DataUsers(directory) if hasattr(directory, "describe_user") else LdapUsers(directory)
    params = task.params
    before = users.find_user(params["name"]) if readable else None
    if params["state"] == "absent":
        if before is None:
            return dict(changed=False, user={}, diff=dict(before={}, after={}))
        users.delete_user(before, task.check_mode)
        return dict(changed=True, user={}, diff=dict(before=public_user(before), after={}))

    wanted = wanted_attributes(params)
    if before is None:
        changed, after = True, create_user(task, users, settings, wanted)
    else:
        changed, after = update_user(task, users, before, wanted)
    return dict(changed=changed, user=public_user(after), diff=dict(before=public_user(before), after=public_user(after)))


# --- groups -------------------------------------------------------------------------------------

def public_group(group):
    return {key: group.get(key) for key in PUBLIC_GROUP_KEYS} if group else {}


def member_changes(current, wanted, purge):
    """(to_add, to_remove) by sAMAccountName, case-insensitively as AD compares them."""
    if wanted is None:
        return [], []
    have = {name.lower() for name in current}
    want = {name.lower() for name in wanted}
    to_add = sorted({name for name in wanted if name.lower() not in have}, key=str.lower)
    to_remove = sorted(name for name in current if name.lower() not in want) if purge else []
    return to_add, to_remove


def expected_group(group, params, to_add, to_remove):
    after = dict(group)
    for key in ("group_type", "group_scope"):
        after[key] = params[key] or group.get(key)
    if params["description"] is not None:
        after["description"] = params["description"] or None
    removed = {name.lower() for name in to_remove}
    after["members"] = sorted([name for name in group.get("members", []) if name.lower() not in removed] + to_add,
                              key=str.lower)
    return after


def run_group(task, directory, settings, readable=True):
    """directory is an LdapGroupDirectory or a ds_data DirectoryData; both read and change groups alike."""
    params = task.params
    check_mode = task.check_mode
    name = params["name"]
    find = directory.find_group if isinstance(directory, LdapGroupDirectory) else directory.describe_group
    before = find(name) if readable else None
    if params["state"] == "absent":
        if before is None:
            return dict(changed=False, group={}, diff=dict(before={}, after={}))
        directory.delete_group(before, check_mode)
        return dict(changed=True, group={}, diff=dict(before=public_group(before), after={}))

    if before is None:
        group_type = params["group_type"] or "Security"
        group_scope = params["group_scope"] or "Global"
        if isinstance(directory, LdapGroupDirectory):
            directory.create_group(name, settings["ou"], group_type, group_scope, params["description"], check_mode)
        else:
            directory.create_group(name, group_type, group_scope, params["description"], check_mode)
        template = dict(name=name, dn=f"CN={name},{settings['ou']}", sid=None, group_type=group_type,
                        group_scope=group_scope, description=params["description"] or None, members=[],
                        member_dns={})
        to_add = member_changes([], params["members"], False)[0]
        if check_mode:
            return dict(changed=True, group=public_group(expected_group(template, params, to_add, [])),
                        diff=dict(before={}, after=public_group(expected_group(template, params, to_add, []))))
        group = find(name)
        directory.change_members(group, to_add, [], check_mode)
        after = find(name) if to_add else group
        return dict(changed=True, group=public_group(after), diff=dict(before={}, after=public_group(after)))

    changed = bool(directory.update_group(before, params["group_type"], params["group_scope"], params["description"],
                                          check_mode))
    to_add, to_remove = member_changes(before["members"], params["members"], params["purge_members"])
    changed = directory.change_members(before, to_add, to_remove, check_mode) or changed
    after = find(name) if changed and not check_mode else expected_group(before, params, to_add, to_remove)
    return dict(changed=changed, group=public_group(after), diff=dict(before=public_group(before), after=public_group(after)))
