# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The effective enabled user members of AD groups, nested groups expanded: what
aurora.kerberos.ad_group_members_info returns and the db_users role syncs logins from.

ldap: one paged search per group with LDAP_MATCHING_RULE_IN_CHAIN on memberOf
(1.2.840.113556.1.4.1941, which the domain controller resolves through every nested group) and the
bitwise rule 1.2.840.113556.1.4.803 on userAccountControl to leave out disabled accounts
(ACCOUNTDISABLE, 0x2; MS-ADTS 2.2.16). Microsoft documents both in "Search Filter Syntax".

ds_data: the Directory Service Data API has no transitive listing, so the groups are walked:
ListGroupMembers (paged, 250 a page) on each group, recursing into members of MemberType GROUP, each
group once (cycles are legal in AD); then ListUsers once, paged, for the Enabled flag of every user
(ListGroupMembers returns MemberType, SAMAccountName and SID only). Both are AWS's documented
operations (Directory Service Data API Reference, ListGroupMembers and ListUsers). Members in another
realm (a trusted domain, MemberRealm) are not listed: their Kerberos principals are in that realm.
"""

try:
    from ldap3 import SUBTREE
    from ldap3.utils.conv import escape_filter_chars
except ImportError:
    pass  # The module reports the missing library before any call reaches here.

IN_CHAIN = "1.2.840.113556.1.4.1941"  # LDAP_MATCHING_RULE_IN_CHAIN
BIT_AND = "1.2.840.113556.1.4.803"  # LDAP_MATCHING_RULE_BIT_AND
UF_ACCOUNTDISABLE = 0x0002
PAGE = 250  # ListGroupMembers / ListUsers MaxResults (the model's maximum)


class GroupNotFound(Exception):
    """A listed group does not exist."""


def walk(groups, list_members):
    """{group: {"members": [user names], "groups": [nested groups walked]}} for each root group.
    list_members(group) -> [(sAMAccountName, MemberType)] or None when the group does not exist."""
    cache = {}

    def members_of(group):
        key = group.lower()
        if key not in cache:
            listed = list_members(group)
            cache[key] = listed
        return cache[key]

    result = {}
    for root in groups:
        if members_of(root) is None:
            raise GroupNotFound(root)
        users, seen, nested = {}, {root.lower()}, []
        queue = [root]
        while queue:
            group = queue.pop(0)
            for name, kind in members_of(group) or []:
                if kind == "GROUP":
                    if name.lower() not in seen:
                        seen.add(name.lower())
                        nested.append(name)
                        queue.append(name)
                elif kind == "USER":
                    users.setdefault(name.lower(), name)
        result[root] = {"members": sorted(users.values(), key=str.lower), "groups": sorted(nested, key=str.lower)}
    return result


def ds_data_members(client, directory_id, groups):
    """{group: {"members": [{"name", "user_principal_name"}], "groups": [...]}} over ds-data;
    disabled users left out. user_principal_name is null here: ListUsers does not return it."""
    def list_members(group):
        listed, token = [], None
        while True:
            params = dict(DirectoryId=directory_id, SAMAccountName=group, MaxResults=PAGE)
            if token:
                params["NextToken"] = token
            try:
                answer = client.list_group_members(**params)
            except client.exceptions.ResourceNotFoundException:
                return None
            listed.extend((m["SAMAccountName"], m["MemberType"]) for m in answer.get("Members", []))
            token = answer.get("NextToken")
            if not token:
                return listed

    walked = walk(groups, list_members)
    enabled = {}
    for page in client.get_paginator("list_users").paginate(DirectoryId=directory_id,
                                                            PaginationConfig={"PageSize": PAGE}):
        for user in page.get("Users", []):
            enabled[user["SAMAccountName"].lower()] = user["Enabled"]
    return dict((group, {"members": [{"name": name, "user_principal_name": None}
                                     for name in found["members"] if enabled.get(name.lower())],
                         "groups": found["groups"]})
                for group, found in walked.items())


def ldap_members(connection, base_dn, groups):
    """The same over LDAPS: one search for the group's DN, one paged in-chain search for its users."""
    result = {}
    for group in groups:
        connection.search(base_dn, f"(&(objectClass=group)(sAMAccountName={escape_filter_chars(group)}))",
                          SUBTREE, attributes=["sAMAccountName"])
        found = [e for e in connection.response or [] if e.get("type") == "searchResEntry"]
        if not found:
            raise GroupNotFound(group)
        dn = escape_filter_chars(found[0]["dn"])
        users = connection.extend.standard.paged_search(
            base_dn, f"(&(objectCategory=person)(objectClass=user)(memberOf:{IN_CHAIN}:={dn})(!(userAccountControl:{BIT_AND}:={UF_ACCOUNTDISABLE})))",
            attributes=["sAMAccountName", "userPrincipalName"], paged_size=500, generator=False)
        nested = connection.extend.standard.paged_search(
            base_dn, f"(&(objectClass=group)(memberOf:{IN_CHAIN}:={dn}))",
            attributes=["sAMAccountName"], paged_size=500, generator=False)
        result[group] = {
            "members": sorted(({"name": _text(e, "sAMAccountName"), "user_principal_name": _text(e, "userPrincipalName")}
                               for e in users if e.get("type") == "searchResEntry" and _text(e, "sAMAccountName")),
                              key=lambda m: m["name"].lower()),
            "groups": sorted((_text(e, "sAMAccountName") for e in nested
                              if e.get("type") == "searchResEntry" and _text(e, "sAMAccountName")), key=str.lower),
        }
    return result


def _text(entry, attribute):
    values = (entry.get("raw_attributes") or {}).get(attribute) or []
    return values[0].decode("utf-8") if values else None
