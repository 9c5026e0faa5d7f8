# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aurora.kerberos.iam_role_changes: what amazon.aws.iam_role would change on a role that amazon.aws.iam_role_info
read, so the iam_role role calls it only when something differs (a converged run then costs no read of its own)."""

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies


def iam_role_changes(current, wanted):
    """current: one role of iam_role_info (or {} when there is none); wanted: {assume_role_policy_document, path,
    description, managed_policies (ARNs, purged to exactly these), tags (added, never purged)}.
    Returns the names of what differs, in that order; [] when the role is as wanted."""
    if not current:
        return ["role"]
    changes = []
    # amazon.aws's own comparison, as amazon.aws.iam_role makes it (string or list, order, Version default).
    if compare_policies(current.get("assume_role_policy_document") or {}, wanted["assume_role_policy_document"]):
        changes.append("assume_role_policy_document")
    if current.get("path", "/") != wanted["path"]:
        changes.append("path")
    if "description" in current and (current.get("description") or "") != (wanted.get("description") or ""):
        changes.append("description")
    if sorted(p.get("policy_arn") for p in current.get("managed_policies") or []) != sorted(wanted["managed_policies"]):
        changes.append("managed_policies")
    tags = current.get("tags") or {}
    if any(tags.get(key) != value for key, value in (wanted.get("tags") or {}).items()):
        changes.append("tags")
    return changes


class FilterModule:
    def filters(self):
        return {"iam_role_changes": iam_role_changes}
