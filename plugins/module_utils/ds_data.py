# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS Directory Service Data (ds-data): users and groups of Managed Microsoft AD without LDAP.

The ``ds_data`` backend of aurora.kerberos.ad_user and ad_group (AWS_FACTS.md section 7). The
directory's documented rate (Standard 4 write / 8 read TPS, Enterprise 8 / 16) is kept on the
client, and ThrottlingException is retried with jittered backoff on every call.
"""

import threading
import time
import uuid

try:
    import botocore
except ImportError:
    pass  # Modules are responsible for handling this.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import USER_ATTRIBUTES
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import encryption_types_from_int
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import encryption_types_to_int
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff
from ansible_collections.aurora.kerberos.plugins.module_utils.waiter import WaiterFactory

# (write TPS, read TPS) per edition; Hybrid is sized like Enterprise.
TPS = {"Standard": (4, 8), "Enterprise": (8, 16), "Hybrid": (8, 16)}

# msDS-SupportedEncryptionTypes bits (MS-KILE 2.2.7), as in ad_ldap
ENCRYPTION_TYPES_ATTRIBUTE = "msDS-SupportedEncryptionTypes"

# What OtherAttributes may name (AWS_FACTS.md section 7): AWS's "Directory Service Data attributes" page
# (https://docs.aws.amazon.com/directoryservice/latest/admin-guide/ad_data_attributes.html) lists them;
# anything else is refused with ValidationException INVALID_ATTRIBUTE_NAME. That page's "Other
# Attributes" table could not be read here, so this list holds only the names AWS itself uses in the
# ds-data API examples (DescribeUser, CreateUser, UpdateUser, DescribeGroup, UpdateGroup in the SDK
# references), plus msDS-SupportedEncryptionTypes, which no AWS page read here shows: it is kept because
# ad_user's supported_encryption_types writes it, and is the one name to confirm on a real directory.
DOCUMENTED_OTHER_ATTRIBUTES = (
    # users
    "co", "department", "homePhone", "ipPhone", "manager", "physicalDeliveryOfficeName", "postalCode",
    "pwdLastSet", "st", "streetAddress", "telephoneNumber",
    # groups
    "description", "displayName", "objectGUID", "preferredLanguage",
    # not verified (see above)
    ENCRYPTION_TYPES_ATTRIBUTE,
)
_DOCUMENTED = {name.lower() for name in DOCUMENTED_OTHER_ATTRIBUTES}

# ds and ds-data are eventually consistent with each other (AWS_FACTS.md section 7): right after
# EnableDirectoryDataAccess, ds-data may still answer AccessDeniedException with Reason DATA_DISABLED,
# and right after CreateUser, ds ResetUserPassword UserDoesNotExistException and ds-data
# ResourceNotFoundException. These are retried, for at most consistency_timeout seconds.
DATA_DISABLED = "DATA_DISABLED"
CONSISTENCY_TIMEOUT = 60

retry = jittered_backoff(retries=10)


class AnsibleDSDataError(AnsibleAWSError):
    pass


class DSDataErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AnsibleDSDataError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("ResourceNotFoundException")


class RateLimiter:
    """Spaces calls at least 1/rate seconds apart: one bucket for writes, one for reads. Thread-safe: callers
    that send side by side (ad_users) still start their calls one interval apart."""

    def __init__(self, write_tps, read_tps, clock=time.monotonic, sleep=time.sleep):
        self.intervals = {True: 1.0 / write_tps, False: 1.0 / read_tps}
        self.last = {True: None, False: None}
        self.clock = clock
        self.sleep = sleep
        self._locks = {True: threading.Lock(), False: threading.Lock()}

    @classmethod
    def for_edition(cls, edition):
        write_tps, read_tps = TPS.get(edition, TPS["Standard"])
        return cls(write_tps, read_tps)

    def wait(self, writes):
        with self._locks[writes]:
            self._wait(writes)

    def _wait(self, writes):
        now = self.clock()
        last = self.last[writes]
        if last is not None and now - last < self.intervals[writes]:
            self.sleep(self.intervals[writes] - (now - last))
            now = self.clock()
        self.last[writes] = now


def undocumented_attributes(names):
    """The names OtherAttributes would carry that AWS's attribute list (as far as verified) lacks."""
    return [name for name in names if name.lower() not in _DOCUMENTED]


def check_other_attributes(names):
    """Refuse, before sending, what ds-data refuses with INVALID_ATTRIBUTE_NAME."""
    unknown = undocumented_attributes(names)
    if unknown:
        raise AnsibleDSDataError(message=f"OtherAttributes {unknown} are not on AWS's Directory Service Data "
                                         f"attribute list (known here: {', '.join(DOCUMENTED_OTHER_ATTRIBUTES)}); "
                                         "ds-data would refuse them with INVALID_ATTRIBUTE_NAME")


def _error_of(exc):
    """(Code, Reason) of a ClientError, or of the one an AnsibleDSDataError wraps."""
    exc = getattr(exc, "exception", None) or exc
    response = getattr(exc, "response", None) or {}
    return (response.get("Error") or {}).get("Code"), response.get("Reason")


def _plain(attribute_value):
    if not attribute_value:
        return None
    return next(iter(attribute_value.values()))


# --- ds: data access, edition and passwords -----------------------------------------------------

class DSDataAccessWaiterFactory(WaiterFactory):
    """DataAccessStatus is Disabled | Disabling | Enabled | Enabling | Failed (ds model, AWS_FACTS.md section 7)."""

    @property
    def _waiter_model_data(self):
        status = "DataAccessStatus"
        return dict(
            data_access_enabled=dict(
                operation="DescribeDirectoryDataAccess",
                delay=15,
                maxAttempts=40,
                acceptors=[
                    dict(state="success", matcher="path", argument=status, expected="Enabled"),
                    dict(state="failure", matcher="path", argument=status, expected="Failed"),
                    dict(state="retry", matcher="path", argument=status, expected="Enabling"),
                ],
            ),
            # A directory still Disabling cannot be enabled yet: wait until it is Disabled.
            data_access_disabled=dict(
                operation="DescribeDirectoryDataAccess",
                delay=15,
                maxAttempts=40,
                acceptors=[
                    dict(state="success", matcher="path", argument=status, expected="Disabled"),
                    dict(state="failure", matcher="path", argument=status, expected="Failed"),
                    dict(state="retry", matcher="path", argument=status, expected="Disabling"),
                ],
            ),
        )


def _wait_data_access(ds_client, directory_id, waiter_name, timeout, poll_interval):
    from ansible_collections.amazon.aws.plugins.module_utils.waiter import custom_waiter_config

    waiter = DSDataAccessWaiterFactory().get_waiter(ds_client, waiter_name)
    try:
        waiter.wait(DirectoryId=directory_id,
                    WaiterConfig=custom_waiter_config(timeout=timeout, default_pause=poll_interval))
    except botocore.exceptions.WaiterError as e:
        wanted = "Enabled" if waiter_name == "data_access_enabled" else "Disabled"
        raise AnsibleDSDataError(message=f"Directory data access of {directory_id} did not become {wanted} within "
                                         f"{timeout}s: {e}. Check the directory is Active and Microsoft AD.",
                                 exception=e) from e


@DSDataErrorHandler.common_error_handler("describe the directory")
@retry
def describe_edition(ds_client, directory_id):
    found = ds_client.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"]
    if not found:
        raise AnsibleDSDataError(message=f"Directory {directory_id} does not exist in this account and Region: "
                                         "check directory_id and region.")
    return found[0].get("Edition") or "Standard"


@DSDataErrorHandler.common_error_handler("describe directory data access")
@retry
def describe_data_access(ds_client, directory_id):
    return ds_client.describe_directory_data_access(DirectoryId=directory_id)["DataAccessStatus"]


@DSDataErrorHandler.common_error_handler("enable directory data access")
@retry
def _enable_data_access(ds_client, directory_id):
    ds_client.enable_directory_data_access(DirectoryId=directory_id)


def ensure_data_access(ds_client, directory_id, enable, check_mode, timeout=600, poll_interval=15):
    """Whether data access is (or, in check mode, would be) Enabled, and whether that was a change.

    Returns (changed, readable): readable is False only in check mode on a directory whose data
    access is still off, where ds-data cannot be read yet.
    """
    status = describe_data_access(ds_client, directory_id)
    if status == "Enabled":
        return False, True
    if not enable:
        raise AnsibleDSDataError(message=f"Directory data access of {directory_id} is {status}: set "
                                         "enable_data_access=true, or enable it in the console or with "
                                         "EnableDirectoryDataAccess.")
    if check_mode:
        return True, False
    if status == "Disabling":
        _wait_data_access(ds_client, directory_id, "data_access_disabled", timeout, poll_interval)
        status = "Disabled"
    if status in ("Disabled", "Failed"):
        _enable_data_access(ds_client, directory_id)
    _wait_data_access(ds_client, directory_id, "data_access_enabled", timeout, poll_interval)
    return True, True


@DSDataErrorHandler.common_error_handler("disable directory data access")
@retry
def _disable_data_access(ds_client, directory_id):
    ds_client.disable_directory_data_access(DirectoryId=directory_id)


def set_data_access(ds_client, directory_id, enable, check_mode, timeout=600, poll_interval=15):
    """Turn directory data access on (and wait until Enabled) or off. Returns whether it changed."""
    if enable:
        return ensure_data_access(ds_client, directory_id, True, check_mode, timeout, poll_interval)[0]
    if describe_data_access(ds_client, directory_id) in ("Disabled", "Disabling"):
        return False
    if not check_mode:
        _disable_data_access(ds_client, directory_id)
    return True


@DSDataErrorHandler.common_error_handler("set the user's password")
@retry
def _reset_password(ds_client, directory_id, name, password):
    ds_client.reset_user_password(DirectoryId=directory_id, UserName=name, NewPassword=password)


# --- ds-data ------------------------------------------------------------------------------------

class DirectoryData:
    """Users and groups of one directory through ds-data, at the directory's documented rate.

    Change methods take check_mode and return before the API call when it is set.
    """

    def __init__(self, client, ds_client, directory_id, limiter, consistency_timeout=CONSISTENCY_TIMEOUT,
                 clock=None, sleep=None):
        self.client = client
        self.ds_client = ds_client
        self.directory_id = directory_id
        self.limiter = limiter
        self.consistency_timeout = consistency_timeout
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.created = set()  # lower-case names this run created: ds-data may not see them yet

    def settled(self, call, codes=()):
        """call(), retried while ds/ds-data still show an earlier change as not made: AccessDeniedException
        DATA_DISABLED always, and the error codes given; at most consistency_timeout seconds."""
        deadline = self.clock() + self.consistency_timeout
        pause = 1.0
        while True:
            try:
                return call()
            except (botocore.exceptions.ClientError, AnsibleDSDataError) as e:
                code, reason = _error_of(e)
                settling = (code == "AccessDeniedException" and reason == DATA_DISABLED) or code in codes
                if not settling or self.clock() + pause > deadline:
                    raise
            self.sleep(pause)
            pause = min(pause * 2, 8.0)

    def _fresh(self, name):
        """The not-found codes to ride out for a name this run has just created."""
        return ("ResourceNotFoundException",) if name.lower() in self.created else ()

    def _call(self, operation, writes, settle=(), **params):
        def once():
            self.limiter.wait(writes)
            return retry(getattr(self.client, operation))(DirectoryId=self.directory_id, **params)
        return self.settled(once, settle)

    def _write(self, operation, settle=(), **params):
        # The same ClientToken within the retries of one call makes a retried write idempotent.
        return self._call(operation, True, settle, ClientToken=str(uuid.uuid4()), **params)

    # -- users ---------------------------------------------------------------------------------
    @DSDataErrorHandler.list_error_handler("describe the user", None)
    def describe_user(self, name):
        requested = [ENCRYPTION_TYPES_ATTRIBUTE, "pwdLastSet"]
        check_other_attributes(requested)
        answer = self._call("describe_user", False, self._fresh(name), SAMAccountName=name, OtherAttributes=requested)
        others = answer.get("OtherAttributes") or {}
        encryption = _plain(others.get(ENCRYPTION_TYPES_ATTRIBUTE))
        last_set = _plain(others.get("pwdLastSet"))
        return {
            "name": answer.get("SAMAccountName", name),
            "dn": answer.get("DistinguishedName"),
            "sid": answer.get("SID"),
            "user_principal_name": answer.get("UserPrincipalName"),
            "enabled": bool(answer.get("Enabled")),
            **{key: answer.get(parameter) for key, parameter in USER_PARAMETERS.items()},
            "supported_encryption_types": encryption_types_from_int(int(encryption) if encryption else 0),
            "encryption_types_value": int(encryption) if encryption else 0,
            "encryption_types_set": encryption is not None,
            # AD keeps pwdLastSet at 0 until a password is set; when not returned, assume one is set
            "has_password": str(last_set) != "0" if last_set is not None else True,
        }

    @DSDataErrorHandler.common_error_handler("create the user")
    def create_user(self, name, attributes, check_mode):
        if check_mode:
            return None
        params = {"SAMAccountName": name}
        params.update(_user_parameters(attributes))
        check_other_attributes(params.get("OtherAttributes", {}))
        sid = self._write("create_user", **params).get("SID")
        self.created.add(name.lower())
        return sid

    @DSDataErrorHandler.common_error_handler("update the user")
    def update_user(self, user, attributes, check_mode):
        """Change what differs, each attribute with the UpdateType the model asks for: ADD when it has no value
        yet, REPLACE when it has one, REMOVE to clear it ("" or []). Returns the changed keys."""
        updates, changed = {"ADD": {}, "REPLACE": {}, "REMOVE": {}}, []
        for key, parameter in USER_PARAMETERS.items():
            wanted, current = attributes.get(key), user.get(key) or ""
            if wanted is None or current == wanted:
                continue
            changed.append(key)
            updates[_update_type(bool(current), bool(wanted))][parameter] = wanted or current
        wanted_types = attributes.get("supported_encryption_types")
        if wanted_types is not None:
            value = encryption_types_to_int(wanted_types)
            if user.get("encryption_types_value", 0) != value:
                changed.append("supported_encryption_types")
                has_value = user.get("encryption_types_set", bool(user.get("encryption_types_value")))
                update_type = _update_type(has_value, bool(value))
                updates[update_type].setdefault("OtherAttributes", {})[ENCRYPTION_TYPES_ATTRIBUTE] = {
                    "N": value or user["encryption_types_value"]}
        if check_mode:
            return changed
        for update_type, params in updates.items():
            if params:
                check_other_attributes(params.get("OtherAttributes", {}))
                self._write("update_user", self._fresh(user["name"]), SAMAccountName=user["name"],
                            UpdateType=update_type, **params)
        return changed

    def set_password(self, name, password, check_mode):
        """ResetUserPassword (ds, not ds-data): sets the password and enables the user. ds may not know a
        user ds-data has just created: UserDoesNotExistException is ridden out, bounded."""
        if check_mode:
            return True

        def reset():
            self.limiter.wait(True)
            _reset_password(self.ds_client, self.directory_id, name, password)

        self.settled(reset, ("UserDoesNotExistException",))
        return True

    @DSDataErrorHandler.common_error_handler("disable the user")
    def disable_user(self, name, check_mode):
        if not check_mode:
            self._write("disable_user", self._fresh(name), SAMAccountName=name)
        return True

    @DSDataErrorHandler.deletion_error_handler("delete the user")
    def delete_user(self, name, check_mode):
        if not check_mode:
            self._write("delete_user", SAMAccountName=name)
        return True

    # -- groups --------------------------------------------------------------------------------
    @DSDataErrorHandler.list_error_handler("describe the group", None)
    def describe_group(self, name):
        answer = self._call("describe_group", False, self._fresh(name), SAMAccountName=name,
                            OtherAttributes=["description"])
        description = _plain((answer.get("OtherAttributes") or {}).get("description"))
        if isinstance(description, list):
            description = description[0] if description else None
        return {
            "name": answer.get("SAMAccountName", name),
            "dn": answer.get("DistinguishedName"),
            "sid": answer.get("SID"),
            "group_type": answer.get("GroupType"),
            "group_scope": answer.get("GroupScope"),
            "description": description,
            "members": self.list_members(answer.get("SAMAccountName", name)),
        }

    @DSDataErrorHandler.list_error_handler("list the group's members", [])
    def list_members(self, name):
        members, token = [], None
        while True:
            params = {"SAMAccountName": name, "MaxResults": 250}
            if token:
                params["NextToken"] = token
            answer = self._call("list_group_members", False, self._fresh(name), **params)
            members.extend(member["SAMAccountName"] for member in answer.get("Members", []))
            token = answer.get("NextToken")
            if not token:
                return sorted(members, key=str.lower)

    @DSDataErrorHandler.common_error_handler("create the group")
    def create_group(self, name, group_type, group_scope, description, check_mode):
        if check_mode:
            return None
        params = {"SAMAccountName": name, "GroupType": group_type, "GroupScope": group_scope}
        if description:
            params["OtherAttributes"] = {"description": {"S": description}}
        sid = self._write("create_group", **params).get("SID")
        self.created.add(name.lower())
        return sid

    @DSDataErrorHandler.common_error_handler("update the group")
    def update_group(self, group, group_type, group_scope, description, check_mode):
        """GroupType and GroupScope always have a value (REPLACE); description is ADDed when the group has none,
        REPLACEd when it has one, REMOVEd to clear it."""
        updates, changed = {"ADD": {}, "REPLACE": {}, "REMOVE": {}}, []
        if group_type and group_type != group["group_type"]:
            updates["REPLACE"]["GroupType"] = group_type
            changed.append("group_type")
        if group_scope and group_scope != group["group_scope"]:
            updates["REPLACE"]["GroupScope"] = group_scope
            changed.append("group_scope")
        current = group["description"] or ""
        if description is not None and description != current:
            changed.append("description")
            updates[_update_type(bool(current), bool(description))]["OtherAttributes"] = {
                "description": {"S": description or current}}
        if check_mode:
            return changed
        for update_type, params in updates.items():
            if params:
                self._write("update_group", self._fresh(group["name"]), SAMAccountName=group["name"],
                            UpdateType=update_type, **params)
        return changed

    @DSDataErrorHandler.deletion_error_handler("delete the group")
    def delete_group(self, group, check_mode):
        if not check_mode:
            self._write("delete_group", SAMAccountName=group["name"])
        return True

    @DSDataErrorHandler.common_error_handler("change the group's members")
    def change_members(self, group, to_add, to_remove, check_mode):
        if check_mode:
            return bool(to_add or to_remove)
        for member in to_add:
            # The member may be a user an earlier task created seconds ago: ds-data may not see it yet.
            self._write("add_group_member", ("ResourceNotFoundException",), GroupName=group["name"], MemberName=member)
        for member in to_remove:
            self._write("remove_group_member", GroupName=group["name"], MemberName=member)
        return bool(to_add or to_remove)


# module option -> ds-data request parameter, for the user's plain strings it can write (ad_ldap's one table)
USER_PARAMETERS = {key: parameter for key, (dummy, parameter) in USER_ATTRIBUTES.items() if parameter}


def _update_type(has_value, wanted):
    """The model's UpdateType for one attribute: ADD when it has no value yet, REPLACE when it has one,
    REMOVE to clear it."""
    if not wanted:
        return "REMOVE"
    return "REPLACE" if has_value else "ADD"


def _user_parameters(attributes):
    params = {parameter: attributes[key] for key, parameter in USER_PARAMETERS.items() if attributes.get(key)}
    if attributes.get("supported_encryption_types"):
        params["OtherAttributes"] = {
            ENCRYPTION_TYPES_ATTRIBUTE: {"N": encryption_types_to_int(attributes["supported_encryption_types"])}}
    return params


def open_directory_data(module, directory_id, enable_data_access):
    """A DirectoryData for the module's credentials, with data access ensured.

    Returns (directory_data, data_access_changed, readable).
    """
    client = module.client("ds-data")
    ds_client = module.client("ds")
    params = module.params
    edition = describe_edition(ds_client, directory_id)
    changed, readable = ensure_data_access(ds_client, directory_id, enable_data_access, module.check_mode,
                                           poll_interval=params.get("poll_interval") or 15)
    data = DirectoryData(client, ds_client, directory_id, RateLimiter.for_edition(edition),
                         consistency_timeout=params.get("consistency_timeout", CONSISTENCY_TIMEOUT))
    return data, changed, readable
