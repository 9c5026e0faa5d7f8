# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AD users and groups in bulk, for aurora.kerberos.ad_users: the rules of ad_user and ad_group
(module_utils/ad_accounts.py) applied to a whole list, with the reads done per set and the writes
spaced at the directory's rate.

- ``ldap``: one LDAPS connection for the whole list. The users are read in a few searches (an OR of
  sAMAccountNames per search), not one search per user.
- ``ds_data``: ListUsers (250 a page) says which users exist. Existing users follow ad_user exactly
  (DescribeUser, then the changes). New users are made in two passes: every CreateUser first, then
  each ResetUserPassword (and DisableUser). ds and ds-data are eventually consistent (AWS_FACTS.md
  section 7): a password set right after CreateUser may answer UserDoesNotExistException. Such a
  call goes to the back of the queue and is tried again once the others are sent, so the wait for
  one user overlaps the writes for the others instead of adding to them; bounded by
  consistency_timeout per user. Every write is spaced at the directory's write rate (Standard 4,
  Enterprise 8 a second, AWS_FACTS.md section 7) with a ClientToken, so the task runs at the
  documented rate and ThrottlingException is not provoked (it is still retried).
"""

import collections
import threading

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import expected_user
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import public_user
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import run_user
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import wanted_attributes
from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import AnsibleDSDataError
from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import DSDataErrorHandler
from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import _error_of
from ansible_collections.aurora.kerberos.plugins.module_utils.ds_data import _reset_password

try:
    from botocore.exceptions import ClientError
except ImportError:  # the module reports a missing boto3
    ClientError = Exception

try:
    from ldap3 import SUBTREE
    from ldap3.utils.conv import escape_filter_chars
except ImportError:  # the module reports a missing ldap3
    pass

SEARCH_CHUNK = 200  # sAMAccountNames per LDAP search filter
# ds-data writes in flight at a time: enough to keep to the write rate when a call takes longer than the
# interval between two (a ResetUserPassword takes about 0.4 s in the lab), well under the 10 concurrent
# requests per directory (AWS_FACTS.md section 7).
IN_FLIGHT = 4
NOT_VISIBLE_YET = ("UserDoesNotExistException", "ResourceNotFoundException")


class Entry:
    """One user or group of the list as ad_accounts sees a task: its params, check mode and warnings."""

    def __init__(self, module, params):
        self.params = params
        self.check_mode = module.check_mode
        self.warn = module.warn


# --- ldap ---------------------------------------------------------------------------------------

class PrefetchedUsers:
    """An LdapUserDirectory whose first find_user of each name answers from one set-based read."""

    def __init__(self, directory, found):
        self._directory = directory
        self._found = found  # lower-case name -> user or None (read, not there)

    def __getattr__(self, name):
        return getattr(self._directory, name)

    def find_user(self, name):
        key = name.lower()
        if key in self._found:
            return self._found.pop(key)
        return self._directory.find_user(name)


def prefetch_users(directory, names):
    """{lower-case name: user or None} for these names, in len(names)/SEARCH_CHUNK searches. A name held by
    a non-user object is left out, so that find_user reads it again and refuses it as ad_user does."""
    from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import _SEARCH_ATTRIBUTES
    from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import AdLdapErrorHandler

    found = {name.lower(): None for name in names}
    ordered = sorted(found)
    for start in range(0, len(ordered), SEARCH_CHUNK):
        chunk = ordered[start:start + SEARCH_CHUNK]
        search_filter = f"(|{''.join((f'(sAMAccountName={escape_filter_chars(name)})' for name in chunk))})"
        with AdLdapErrorHandler.guard(f"look up {len(chunk)} users under {directory.base_dn}"):
            entries = directory.connection.extend.standard.paged_search(
                directory.base_dn, search_filter, SUBTREE, attributes=_SEARCH_ATTRIBUTES, paged_size=500, generator=False)
        seen = collections.Counter()
        for entry in entries or []:
            if entry.get("type") != "searchResEntry":
                continue
            raw = entry["raw_attributes"]
            values = raw.get("sAMAccountName") or []
            key = (values[0].decode("utf-8") if isinstance(values[0], bytes) else values[0]).lower() if values else None
            if key not in found:
                continue
            seen[key] += 1
            classes = [value.decode("utf-8").lower() for value in raw.get("objectClass", [])]
            if "user" in classes and "computer" not in classes:
                found[key] = directory._user_from_raw(entry["dn"], raw)
            else:
                found.pop(key, None)
        for key, count in seen.items():
            if count > 1:
                found.pop(key, None)  # find_user refuses a name held twice
    return found


# --- ds-data ------------------------------------------------------------------------------------

@DSDataErrorHandler.list_error_handler("list the users", {})
def list_user_names(data):
    """{lower-case sAMAccountName: UserSummary} of the directory's users, 250 a page."""
    users, token = {}, None
    while True:
        params = {"MaxResults": 250}
        if token:
            params["NextToken"] = token
        answer = data._call("list_users", False, **params)
        for user in answer.get("Users", []):
            users[user["SAMAccountName"].lower()] = user
        token = answer.get("NextToken")
        if not token:
            return users


class Pending:
    """Writes sent IN_FLIGHT at a time, each started at the directory's rate (the limiter inside the calls).

    A write that waits for ds/ds-data to show a user this run created (NOT_VISIBLE_YET) goes to the back
    of the queue, due again after a growing pause, while the others are sent; bounded per user by
    consistency_timeout. Any other error stops the queue: the writes in flight finish, and it is raised,
    naming the user."""

    def __init__(self, data, in_flight=None):
        self.data = data
        self.in_flight = in_flight or IN_FLIGHT
        self.queue = collections.deque()

    def add(self, name, description, call):
        self.queue.append({"name": name, "what": description, "call": call, "due": 0.0, "pause": 1.0,
                           "deadline": self.data.clock() + self.data.consistency_timeout})

    def _attempt(self, item):
        """None when done, the item again when it must be retried later; raises when it failed."""
        try:
            item["call"]()
        except (ClientError, AnsibleDSDataError) as e:
            code = _error_of(e)[0]
            if code not in NOT_VISIBLE_YET or self.data.clock() + item["pause"] > item["deadline"]:
                raise AnsibleDSDataError(message=f"{item['name']}: cannot {item['what']}",
                                         exception=getattr(e, "exception", None) or e) from e
            item["due"] = self.data.clock() + item["pause"]
            item["pause"] = min(item["pause"] * 2, 8.0)
            return item
        return None

    def run(self):
        if self.in_flight == 1:
            while self.queue:
                item = self.queue.popleft()
                wait = item["due"] - self.data.clock()
                if wait > 0:
                    self.data.sleep(wait)
                again = self._attempt(item)
                if again:
                    self.queue.append(again)
            return
        self._run_side_by_side()

    def _run_side_by_side(self):
        state = {"busy": 0}
        errors = []  # the first failure stops every worker
        ready = threading.Condition()

        def next_item():
            """The first item that is due, or None when there is nothing left to do."""
            with ready:
                while True:
                    if errors or (not self.queue and not state["busy"]):
                        return None
                    now = self.data.clock()
                    due = [item for item in self.queue if item["due"] <= now]
                    if due:
                        self.queue.remove(due[0])
                        state["busy"] += 1
                        return due[0]
                    # Nothing due: wake up when the earliest is, or when a write in flight comes back.
                    ready.wait(min((item["due"] for item in self.queue), default=now + 1.0) - now)

        def worker():
            while True:
                item = next_item()
                if item is None:
                    return
                try:
                    again = self._attempt(item)
                except Exception as e:  # stop the queue; the first error is raised below
                    again = None
                    with ready:
                        errors.append(e)
                with ready:
                    if again:
                        self.queue.append(again)
                    state["busy"] -= 1
                    ready.notify_all()

        threads = [threading.Thread(target=worker, daemon=True) for dummy in range(min(self.in_flight, len(self.queue)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]


def _write_now(data, operation, **params):
    """One ds-data write at the write rate, with its ClientToken; no settling (Pending does that)."""
    return data._write(operation, **params)


def run_users_ds_data(module, data, settings, entries, readable):
    """Every user of entries (params dicts) through ds-data. Returns (results in order, changed)."""
    check_mode = module.check_mode
    existing = list_user_names(data) if readable else {}
    results = [None] * len(entries)
    fresh = []  # (index, params, wanted, enabled) of users this run creates
    for index, params in enumerate(entries):
        name = params["name"]
        if name.lower() in existing or not readable:
            try:
                results[index] = run_user(Entry(module, params), data, settings, readable)
            except AnsibleDSDataError as e:
                raise AnsibleDSDataError(message=f"{name}: {e.message}", exception=e.exception) from e
        elif params["state"] == "absent":
            results[index] = dict(changed=False, user={}, diff=dict(before={}, after={}))
        else:
            wanted = wanted_attributes(params)
            wanted["user_principal_name"] = None
            fresh.append((index, params, wanted))

    # Pass 1: every CreateUser. Pass 2: passwords and disables, re-queued while not visible yet.
    sids = {index: None for index, params, wanted in fresh}
    if not check_mode:
        creates = Pending(data)
        for index, params, wanted in fresh:
            creates.add(params["name"], "create the user (CreateUser)", _create_call(data, sids, index, params, wanted))
        creates.run()
    pending = Pending(data)
    for index, params, wanted in fresh:
        name, password, enabled = params["name"], params["password"], params["enabled"]
        if password is not None:
            if not check_mode:
                pending.add(name, "set the password (ResetUserPassword)", _password_call(data, name, password))
                if not enabled:
                    pending.add(name, "disable the user", _disable_call(data, name))
        elif enabled:
            module.warn(f"Created {name} disabled because no password was given: the directory enables a user "
                        "only when its password is set. A later run that gives password enables it.")
            enabled = False
        # The user as made: ds-data creates it in OU=Users,OU=<NetBIOS> as <name>@<REALM> (AWS_FACTS.md section 7).
        template = dict(name=name, dn=f"CN={name},{settings['ou']}", sid=sids[index],
                        user_principal_name=f"{name}@{settings['realm']}")
        after = public_user(expected_user(template, wanted, enabled))
        results[index] = dict(changed=True, user=after, diff=dict(before={}, after=after))
    pending.run()
    return results


def _create_call(data, sids, index, params, wanted):
    def call():
        sids[index] = data.create_user(params["name"], wanted, False)
    return call


def _password_call(data, name, password):
    def call():
        data.limiter.wait(True)
        _reset_password(data.ds_client, data.directory_id, name, password)
    return call


def _disable_call(data, name):
    return lambda: _write_now(data, "disable_user", SAMAccountName=name)
