#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: directory_trust
short_description: Create, verify or delete a trust from AWS Managed Microsoft AD to an on-premises forest
version_added: 0.1.0
description:
  - Creates a trust between an AWS Managed Microsoft AD directory and an on-premises (or other) Active Directory
    domain, and waits until AWS has verified it, so that on-premises users can log in to Aurora PostgreSQL with
    Kerberos.
  - The trust is found by O(remote_domain_name) first, so a repeated run never creates a second one.
  - A trust that ends C(VerifyFailed) fails the task with AWS's C(TrustStateReason) and what to check (the
    on-premises side of the trust, the conditional forwarders on both sides, the directory security group's
    outbound rules and DNS). Fix them, then run again with O(verify=true).
  - AWS cannot change a trust's direction or type, so the module refuses and says to delete and create the trust
    again. O(selective_auth) is changed in place (C(UpdateTrust)), and so are the conditional forwarder's DNS servers.
  - The on-premises side of the trust (the mirror trust with the same password) is not managed here; create it
    on the on-premises domain controllers, for example with C(netdom trust) or the Active Directory Domains and
    Trusts console.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  state:
    description: V(present) creates the trust and waits until it is verified, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  directory_id:
    description: The AWS Managed Microsoft AD directory (V(d-) and 10 hex digits).
    type: str
    required: true
  remote_domain_name:
    description: The fully qualified DNS name of the other forest or domain, for example V(onprem.example.com).
    type: str
    required: true
  trust_password:
    description:
      - The trust password, the same one given to the other side's trust. Required to create a trust; never
        returned or logged.
      - AWS never returns it, so it is not compared on an existing trust. To change it, delete the trust and
        create it again.
    type: str
  trust_direction:
    description:
      - "The direction, seen from the AWS directory. For Aurora logins by on-premises users, the AWS directory must
        trust the on-premises domain, so V(One-Way: Outgoing) or V(Two-Way)."
      - Required to create a trust. An existing trust with another direction is refused, not changed.
    type: str
    choices: ["One-Way: Outgoing", "One-Way: Incoming", "Two-Way"]
  trust_type:
    description:
      - V(Forest) or V(External). AWS's default is V(Forest). An existing trust of another type is refused, not changed.
    type: str
    choices: [Forest, External]
  conditional_forwarder_ip_addrs:
    description:
      - The IPv4 addresses of the other domain's DNS servers. AWS creates a conditional forwarder for
        O(remote_domain_name) with them.
      - On an existing trust, the forwarder is created or updated when its addresses differ.
    type: list
    elements: str
  selective_auth:
    description: Selective authentication. Changed in place on an existing trust.
    type: str
    choices: [Enabled, Disabled]
  verify:
    description:
      - Ask AWS to verify an existing trust again (C(VerifyTrust)) and wait for the result. Use it after fixing the
        cause of a C(VerifyFailed) trust. A verification is reported as a change.
      - A new trust is always verified; this option is not needed for it.
    type: bool
    default: false
  delete_conditional_forwarder:
    description: With O(state=absent), also delete the conditional forwarder for O(remote_domain_name).
    type: bool
    default: false
  wait:
    description: Wait until the trust is verified (present) or deleted (absent).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1200
  poll_interval:
    description:
      - Seconds between status reads while waiting (the trust's state).
    type: int
    default: 15
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    details: In check mode nothing is created, updated, verified or deleted.
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: AWS Managed Microsoft AD trusts the on-premises forest
  aurora.kerberos.directory_trust:
    directory_id: "{{ directory.directory.directory_id }}"
    remote_domain_name: onprem.example.com
    trust_password: "{{ trust_password }}"
    trust_direction: "One-Way: Outgoing"
    trust_type: Forest
    conditional_forwarder_ip_addrs: [10.10.0.10, 10.10.0.11]
  register: trust

- name: After fixing a VerifyFailed trust (DNS, security group, the on-premises side), verify it again
  aurora.kerberos.directory_trust:
    directory_id: "{{ directory.directory.directory_id }}"
    remote_domain_name: onprem.example.com
    verify: true

- name: Delete the trust and its conditional forwarder
  aurora.kerberos.directory_trust:
    directory_id: "{{ directory.directory.directory_id }}"
    remote_domain_name: onprem.example.com
    delete_conditional_forwarder: true
    state: absent
"""

RETURN = r"""
trust:
  description: The trust; empty when it does not exist (or in check mode before creation).
  returned: always
  type: dict
  contains:
    trust_id:
      description: The trust id.
      type: str
      sample: t-1234567890
    directory_id:
      description: The directory the trust belongs to.
      type: str
      sample: d-1234567890
    trust_state:
      description: The trust's state.
      type: str
      sample: Verified
    trust_state_reason:
      description: Why the trust is in its state.
      type: str
      returned: when AWS gives one
    trust_direction:
      description: The trust direction.
      type: str
      sample: "One-Way: Outgoing"
    trust_type:
      description: The trust type.
      type: str
      sample: Forest
    remote_domain_name:
      description: The other domain.
      type: str
      sample: onprem.example.com
    selective_auth:
      description: Selective authentication.
      type: str
      returned: when AWS returns it
      sample: Disabled
    conditional_forwarder_ip_addrs:
      description: The DNS servers the directory forwards O(remote_domain_name) to.
      type: list
      elements: str
      returned: when O(conditional_forwarder_ip_addrs) is given
      sample: ["10.10.0.10", "10.10.0.11"]
    created_date_time:
      description: When the trust was created.
      type: str
      returned: when AWS returns it
    last_updated_date_time:
      description: When the trust last changed.
      type: str
      returned: when AWS returns it
    state_last_updated_date_time:
      description: When the state last changed.
      type: str
      returned: when AWS returns it
"""


from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


def validate(module):
    p = module.params
    problems = []
    if p["wait_timeout"] <= 0:
        problems.append(f"wait_timeout must be a positive number of seconds (got {p['wait_timeout']})")
    if p["poll_interval"] <= 0:
        problems.append(f"poll_interval must be a positive number of seconds (got {p['poll_interval']})")
    problems += ds.trust_input_problems(directory_id=p["directory_id"], remote_domain_name=p["remote_domain_name"],
                                        trust_password=p["trust_password"],
                                        conditional_forwarder_ip_addrs=p["conditional_forwarder_ip_addrs"])
    if problems:
        module.fail_json(msg="; ".join(problems))


def described(trust, forwarders=None):
    """What a human compares in the diff (the password never)."""
    if not trust:
        return {}
    result = {"remote_domain_name": trust.get("RemoteDomainName"), "direction": trust.get("TrustDirection"),
              "type": trust.get("TrustType"), "selective_auth": trust.get("SelectiveAuth")}
    if forwarders is not None:
        result["conditional_forwarder_ip_addrs"] = forwarders
    return result


def wait_ready(module, client, trust_id):
    p = module.params
    if p["wait"] and not module.check_mode:
        ds.wait_for_trust(client, "trust_verified", p["directory_id"], trust_id,
                          p["wait_timeout"], p["poll_interval"])
    return ds.get_trust(client, p["directory_id"], trust_id)


def create(module, client):
    p = module.params
    missing = [k for k in ("trust_password", "trust_direction") if not p[k]]
    if missing:
        module.fail_json(msg=f"To create the trust to {p['remote_domain_name']}, give {' and '.join(missing)}")
    trust_id = ds.create_trust(client, module.check_mode, p["directory_id"], p["remote_domain_name"],
                               p["trust_password"], p["trust_direction"], p["trust_type"],
                               p["conditional_forwarder_ip_addrs"], p["selective_auth"])
    after = {"remote_domain_name": p["remote_domain_name"], "direction": p["trust_direction"],
             "type": p["trust_type"] or "Forest", "selective_auth": p["selective_auth"]}
    if module.check_mode:
        module.exit_json(changed=True, trust={}, diff={"before": {}, "after": after})
    trust = wait_ready(module, client, trust_id)
    module.exit_json(changed=True, trust=ds.normalize_trust(trust, p["conditional_forwarder_ip_addrs"]),
                     diff={"before": {}, "after": described(trust, p["conditional_forwarder_ip_addrs"])})


def ensure_present(module, client):
    p = module.params
    trust = ds.find_trust(client, p["directory_id"], p["remote_domain_name"])
    if trust and trust.get("TrustState") == "Deleting" and not module.check_mode:
        if not p["wait"]:
            module.fail_json(msg=f"Trust {trust['TrustId']} to {p['remote_domain_name']} is being deleted: run again "
                                 "once it is gone, or with wait=true", trust=ds.normalize_trust(trust))
        ds.wait_for_trust(client, "trust_deleted", p["directory_id"], trust["TrustId"],
                          p["wait_timeout"], p["poll_interval"])
        trust = None
    if trust is None or trust.get("TrustState") == "Deleting":
        create(module, client)

    trust_id = trust["TrustId"]
    refused = []
    if p["trust_direction"] and trust.get("TrustDirection") != p["trust_direction"]:
        refused.append(f"trust_direction is {trust.get('TrustDirection')!r}, not {p['trust_direction']!r}")
    if p["trust_type"] and trust.get("TrustType", "Forest") != p["trust_type"]:
        refused.append(f"trust_type is {trust.get('TrustType')!r}, not {p['trust_type']!r}")
    if refused:
        module.fail_json(msg=f"Trust {trust_id} to {trust.get('RemoteDomainName')} exists but AWS cannot change it in "
                             f"place: {'; '.join(refused)}. Fix the variables, or delete the trust (state=absent) and "
                             "create it again (with the on-premises side changed to match).",
                         trust=ds.normalize_trust(trust))
    if trust.get("TrustState") in ds.TRUST_STATES_FAILED and not p["verify"]:
        module.fail_json(msg=ds.trust_failure_hint(trust), trust=ds.normalize_trust(trust))

    changed = False
    forwarders = before_forwarders = None
    if p["conditional_forwarder_ip_addrs"] is not None:
        before_forwarders = ds.get_conditional_forwarder(client, p["directory_id"], p["remote_domain_name"])
        forwarders = p["conditional_forwarder_ip_addrs"]
        if sorted(before_forwarders or []) != sorted(forwarders):
            changed |= ds.set_conditional_forwarder(client, module.check_mode, p["directory_id"],
                                                    trust.get("RemoteDomainName"), forwarders,
                                                    exists=before_forwarders is not None)
        else:
            forwarders = before_forwarders
    before = described(trust, before_forwarders)
    after = dict(before, conditional_forwarder_ip_addrs=forwarders) if forwarders is not None else dict(before)
    if p["selective_auth"] and trust.get("SelectiveAuth") != p["selective_auth"]:
        changed |= ds.update_trust(client, module.check_mode, trust_id, p["selective_auth"])
        after["selective_auth"] = p["selective_auth"]
    verified = False
    if p["verify"]:
        verified = changed = ds.verify_trust(client, module.check_mode, trust_id)
    if module.check_mode:
        module.exit_json(changed=changed, trust=ds.normalize_trust(trust, forwarders), diff={"before": before, "after": after})
    if verified and p["wait"]:
        ds.wait_for_verification_start(client, p["directory_id"], trust_id, min(60, p["wait_timeout"]),
                                       min(5, p["poll_interval"]))
    if changed or trust.get("TrustState") not in ds.TRUST_STATES_READY:
        trust = wait_ready(module, client, trust_id)
    module.exit_json(changed=changed, trust=ds.normalize_trust(trust, forwarders),
                     diff={"before": before, "after": described(trust, forwarders)})


def ensure_absent(module, client):
    p = module.params
    trust = ds.find_trust(client, p["directory_id"], p["remote_domain_name"])
    if trust is None:
        module.exit_json(changed=False, trust={})
    changed = False
    if trust.get("TrustState") != "Deleting":
        changed = ds.delete_trust(client, module.check_mode, trust["TrustId"], p["delete_conditional_forwarder"])
    if p["wait"] and not module.check_mode:
        ds.wait_for_trust(client, "trust_deleted", p["directory_id"], trust["TrustId"],
                          p["wait_timeout"], p["poll_interval"])
    module.exit_json(changed=changed, trust={}, diff={"before": described(trust), "after": {}})


def main():
    argument_spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        directory_id=dict(type="str", required=True),
        remote_domain_name=dict(type="str", required=True),
        trust_password=dict(type="str", no_log=True),
        trust_direction=dict(type="str", choices=list(ds.TRUST_DIRECTIONS)),
        trust_type=dict(type="str", choices=list(ds.TRUST_TYPES)),
        conditional_forwarder_ip_addrs=dict(type="list", elements="str"),
        selective_auth=dict(type="str", choices=list(ds.SELECTIVE_AUTH)),
        verify=dict(type="bool", default=False),
        delete_conditional_forwarder=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1200),
        poll_interval=dict(type="int", default=15),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    client = module.client("ds", retry_decorator=jittered_backoff())
    try:
        if module.params["state"] == "present":
            ensure_present(module, client)
        else:
            ensure_absent(module, client)
    except ds.AnsibleDSError as e:
        ds.fail(module, e)


if __name__ == "__main__":
    main()
