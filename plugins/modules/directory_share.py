#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: directory_share
short_description: Share AWS Managed Microsoft AD with another account, and accept the share there
version_added: 0.1.0
description:
  - Shares an AWS Managed Microsoft AD directory with another AWS account of the same Region, so that Aurora
    clusters in that account can join it, and returns the consumer account's C(shared_directory_id), the id RDS
    must be given in that account (not the owner's directory id).
  - "One task, both sides: with the owner's credentials (the usual module options) and the consumer's
    (O(consumer_profile), or O(consumer_access_key) and O(consumer_secret_key)), the module shares
    (C(ShareDirectory)), accepts a handshake in the consumer account (C(AcceptSharedDirectory)) and waits until
    the share is C(Shared)."
  - "Owner only: without consumer credentials, a V(HANDSHAKE) share waits for the consumer at
    C(PendingAcceptance); the task ends there and the consumer accepts it, for example with O(side=consumer)."
  - "Consumer only: O(side=consumer) runs with the consumer account's credentials (the usual module options),
    finds the share offered by the owner's O(directory_id) (or by O(shared_directory_id)), accepts it and waits
    until it is C(Shared). Use it when another team or pipeline holds the consumer account."
  - An V(ORGANIZATIONS) share needs no acceptance.
  - The share is found before sharing, so a repeated run shares nothing twice. A share that ended (C(Rejected),
    C(ShareFailed), C(Deleted)) is shared again.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  state:
    description:
      - V(present) shares (owner) or accepts (consumer) and waits until the share is ready; V(absent) ends it.
      - With O(side=owner), V(absent) unshares (C(UnshareDirectory)) and waits until the share is gone.
      - With O(side=consumer), V(absent) rejects a share still pending acceptance; only the owner can end an
        accepted share.
    type: str
    choices: [present, absent]
    default: present
  side:
    description: Whose credentials the usual module options hold. See the description.
    type: str
    choices: [owner, consumer]
    default: owner
  directory_id:
    description:
      - The owner's directory id (V(d-) and 10 hex digits).
      - Required with O(side=owner). With O(side=consumer), it finds the share offered to this account, unless
        O(shared_directory_id) is given.
    type: str
  shared_directory_id:
    description:
      - With O(side=consumer), the consumer's id of the shared directory, as the owner's task returned it.
    type: str
  target_account_id:
    description: The consumer's 12-digit AWS account id. Required with O(side=owner). Quote it in YAML.
    type: str
  share_method:
    description:
      - V(HANDSHAKE) (the consumer accepts) or V(ORGANIZATIONS) (both accounts in one AWS Organization with
        Directory Service sharing enabled; no acceptance). Required to share.
      - An existing share made with the other method is refused, not changed.
    type: str
    choices: [HANDSHAKE, ORGANIZATIONS]
  share_notes:
    description:
      - A note the consumer sees with the share request (at most 1024 characters). Used when sharing.
      - AWS treats it as sensitive (its API model marks C(ShareNotes) sensitive), so it is not logged or returned.
    type: str
  consumer_access_key:
    description:
      - With O(side=owner), the access key id of the consumer account, to accept a handshake in the same task.
      - Like amazon.aws's O(access_key), it is an identifier rather than a secret, so it is not hidden from logs.
    type: str
  consumer_secret_key:
    description: The secret access key for O(consumer_access_key). Never logged or returned.
    type: str
  consumer_session_token:
    description: The session token for temporary consumer credentials (from STS). Never logged or returned.
    type: str
  consumer_profile:
    description:
      - With O(side=owner), a profile (from the AWS config files) with the consumer account's credentials.
        Mutually exclusive with O(consumer_access_key).
    type: str
  wait:
    description: Wait until the share is ready (present) or gone (absent).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 600
  poll_interval:
    description:
      - Seconds between status reads while waiting (the share's status).
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
    details: In check mode nothing is shared, accepted, rejected or unshared.
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - The directory and the consumer account must be in the same Region.
  - The Aurora cluster in the consumer account also needs a network path to the directory's domain controllers
    (VPC peering or Transit Gateway, routes both ways) and security group rules; this module does not make them.
"""

EXAMPLES = r"""
- name: Share the directory with the application account and accept it there, in one task
  aurora.kerberos.directory_share:
    directory_id: "{{ directory.directory.directory_id }}"
    target_account_id: "222233334444"
    share_method: HANDSHAKE
    share_notes: Kerberos logins for the orders database
    consumer_profile: app-account
  register: share

- name: The id RDS must be given in the application account
  ansible.builtin.debug:
    msg: "{{ share.shared_directory_id }}"

- name: The owner offers the share ...
  aurora.kerberos.directory_share:
    directory_id: d-1234567890
    target_account_id: "222233334444"
    share_method: HANDSHAKE
  register: offer

- name: ... and the consumer's own pipeline accepts it, with the consumer's credentials
  aurora.kerberos.directory_share:
    side: consumer
    shared_directory_id: "{{ offer.shared_directory_id }}"
    profile: app-account

- name: Stop sharing
  aurora.kerberos.directory_share:
    directory_id: d-1234567890
    target_account_id: "222233334444"
    state: absent
"""

RETURN = r"""
shared_directory_id:
  description: The consumer account's id of the shared directory, the one RDS must be given there.
  returned: when a share exists (not in check mode before sharing)
  type: str
  sample: d-9876543210
share_status:
  description: The share's status.
  returned: when a share exists
  type: str
  sample: Shared
share:
  description: The share; empty when there is none (or in check mode before sharing). C(ShareNotes) is never returned.
  returned: always
  type: dict
  contains:
    shared_directory_id:
      description: The consumer account's id of the shared directory.
      type: str
      sample: d-9876543210
    share_status:
      description: The share's status.
      type: str
      sample: Shared
    share_method:
      description: How the directory is shared.
      type: str
      sample: HANDSHAKE
    owner_account_id:
      description: The owner's account id.
      type: str
      sample: "111122223333"
    owner_directory_id:
      description: The owner's directory id.
      type: str
      sample: d-1234567890
    shared_account_id:
      description: The consumer's account id.
      type: str
      returned: with O(side=owner)
      sample: "222233334444"
    dns_ip_addrs:
      description: The directory's DNS servers and KDCs, as the consumer sees them.
      type: list
      elements: str
      returned: with O(side=consumer)
    created_date_time:
      description: When the share was made.
      type: str
      returned: with O(side=owner)
    last_updated_date_time:
      description: When the share last changed.
      type: str
      returned: with O(side=owner)
"""


from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

OWNER_ONLY = ("target_account_id", "share_method", "share_notes", "consumer_access_key", "consumer_secret_key",
              "consumer_session_token", "consumer_profile")


def validate(module):
    p = module.params
    problems = []
    if p["wait_timeout"] <= 0:
        problems.append(f"wait_timeout must be a positive number of seconds (got {p['wait_timeout']})")
    if p["poll_interval"] <= 0:
        problems.append(f"poll_interval must be a positive number of seconds (got {p['poll_interval']})")
    if p["side"] == "owner":
        problems += [f"{k} is required with side=owner" for k in ("directory_id", "target_account_id") if not p[k]]
        if p["shared_directory_id"]:
            problems.append("shared_directory_id is for side=consumer: the owner's share is found by directory_id "
                            "and target_account_id")
        if bool(p["consumer_access_key"]) != bool(p["consumer_secret_key"]):
            problems.append("consumer_access_key and consumer_secret_key go together: give both, or "
                            "consumer_profile instead")
        if p["consumer_profile"] and (p["consumer_access_key"] or p["consumer_session_token"]):
            problems.append("consumer_profile and consumer_access_key/consumer_session_token exclude each other: "
                            "give one kind of consumer credentials")
        if p["consumer_session_token"] and not p["consumer_access_key"]:
            problems.append("consumer_session_token needs consumer_access_key and consumer_secret_key")
    else:
        if not (p["directory_id"] or p["shared_directory_id"]):
            problems.append("side=consumer needs directory_id (the owner's directory) or shared_directory_id")
        given = [k for k in OWNER_ONLY if p[k]]
        if given:
            problems.append(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for side=owner: with side=consumer "
                            "the module's own credentials are the consumer's, and the owner decides how to share")
    problems += ds.share_input_problems(directory_id=p["directory_id"], target_account_id=p["target_account_id"],
                                        share_notes=p["share_notes"], shared_directory_id=p["shared_directory_id"])
    if problems:
        module.fail_json(msg="; ".join(problems))


def consumer_client(module):
    p = module.params
    if p["consumer_profile"]:
        credentials = dict(profile_name=p["consumer_profile"], aws_access_key_id=None, aws_secret_access_key=None,
                           aws_session_token=None)
    elif p["consumer_access_key"]:
        credentials = dict(profile_name=None, aws_access_key_id=p["consumer_access_key"],
                           aws_secret_access_key=p["consumer_secret_key"],
                           aws_session_token=p["consumer_session_token"] or None)
    else:
        return None
    return module.client("ds", retry_decorator=jittered_backoff(), **credentials)


def done(module, changed, share, diff):
    module.exit_json(changed=changed, share=share, shared_directory_id=share.get("shared_directory_id"),
                     share_status=share.get("share_status"), diff=diff)


def read_share(client, directory_id, shared_id):
    found = ds.describe_shared_directories(client, directory_id, [shared_id])
    # Right after ShareDirectory (with wait=false) the share may not be listed yet.
    return found[0] if found else {"OwnerDirectoryId": directory_id, "SharedDirectoryId": shared_id,
                                   "ShareStatus": "Sharing"}


def brief(share):
    """The diff's view of a share."""
    return {k: share[k] for k in ("shared_directory_id", "share_status", "share_method") if share.get(k)}


# --- the owner's side -------------------------------------------------------------------------

def owner_present(module, client):
    p = module.params
    directory_id, account = p["directory_id"], p["target_account_id"]
    share = ds.find_share(client, directory_id, account)
    before = brief(ds.normalize_share(share)) if share and share.get("ShareStatus") not in ds.SHARE_STATUSES_ENDED else {}
    if share and share.get("ShareStatus") in ds.SHARE_STATUSES_ENDING and not module.check_mode:
        if not p["wait"]:
            module.fail_json(msg=f"The share of {directory_id} with {account} is {share['ShareStatus']}: run again once "
                                 "it has ended, or with wait=true", share=ds.normalize_share(share))
        ds.wait_for_share(client, "share_deleted", directory_id, share["SharedDirectoryId"], p["wait_timeout"],
                          p["poll_interval"])
        share = None
    changed = False
    if share is None or share.get("ShareStatus") in ds.SHARE_STATUSES_ENDED + ds.SHARE_STATUSES_ENDING:
        if not p["share_method"]:
            module.fail_json(msg=f"To share directory {directory_id} with {account}, give share_method "
                                 "(HANDSHAKE or ORGANIZATIONS)")
        shared_id = ds.share_directory(client, module.check_mode, directory_id, account, p["share_method"],
                                       p["share_notes"])
        if module.check_mode:
            accepted = p["share_method"] == "ORGANIZATIONS" or bool(p["consumer_profile"] or p["consumer_access_key"])
            after = {"share_method": p["share_method"], "share_status": "Shared" if accepted else "PendingAcceptance"}
            done(module, True, {}, {"before": before, "after": after})
        changed = True
        if p["wait"]:
            ds.wait_for_share(client, "share_offered", directory_id, shared_id, p["wait_timeout"],
                              p["poll_interval"])
        share = read_share(client, directory_id, shared_id)
    elif p["share_method"] and share.get("ShareMethod") != p["share_method"]:
        module.fail_json(msg=f"Directory {directory_id} is shared with {account} by {share.get('ShareMethod')}, not "
                             f"{p['share_method']}: AWS cannot change that in place. Fix share_method, or unshare "
                             "(state=absent) and share again.", share=ds.normalize_share(share))

    shared_id = share["SharedDirectoryId"]
    consumer = consumer_client(module) if share.get("ShareStatus") == "PendingAcceptance" else None
    if consumer is not None:
        try:
            ds.accept_shared_directory(consumer, module.check_mode, shared_id)
        except ds.AnsibleDSError as e:
            module.fail_json_aws(e.exception, msg=f"Failed to accept shared directory {shared_id} in account {account}: "
                                                  "are the consumer credentials (consumer_profile or "
                                                  "consumer_access_key) that account's?")
        changed = True
        if module.check_mode:
            after = dict(brief(ds.normalize_share(share)), share_status="Shared")
            done(module, True, ds.normalize_share(share), {"before": before, "after": after})
        if p["wait"]:
            ds.wait_for_share(client, "share_shared", directory_id, shared_id, p["wait_timeout"],
                              p["poll_interval"])
        share = read_share(client, directory_id, shared_id)
    elif share.get("ShareStatus") == "Sharing" and p["wait"] and not module.check_mode:
        ds.wait_for_share(client, "share_offered", directory_id, shared_id, p["wait_timeout"],
                          p["poll_interval"])
        share = read_share(client, directory_id, shared_id)
    result = ds.normalize_share(share)
    done(module, changed, result, {"before": before, "after": brief(result)})


def owner_absent(module, client):
    p = module.params
    share = ds.find_share(client, p["directory_id"], p["target_account_id"])
    if share is None or share.get("ShareStatus") in ds.SHARE_STATUSES_ENDED:
        done(module, False, {}, {"before": {}, "after": {}})
    changed = False
    if share.get("ShareStatus") not in ds.SHARE_STATUSES_ENDING:
        changed = ds.unshare_directory(client, module.check_mode, p["directory_id"], p["target_account_id"])
    if p["wait"] and not module.check_mode:
        ds.wait_for_share(client, "share_deleted", p["directory_id"], share["SharedDirectoryId"],
                          p["wait_timeout"],
                          p["poll_interval"])
    done(module, changed, {}, {"before": brief(ds.normalize_share(share)), "after": {}})


# --- the consumer's side (the module's own credentials are the consumer account's) ------------

def consumer_present(module, client):
    p = module.params
    directory = ds.find_consumer_directory(client, p["directory_id"], p["shared_directory_id"])
    wanted = p["shared_directory_id"] or f"directory {p['directory_id']}"
    if directory is None:
        if module.check_mode:
            module.warn(f"No share of {wanted} is offered to this account yet: in a real run the owner must share it "
                        "first (side=owner)")
            done(module, True, {}, {"before": {}, "after": {"share_status": "Shared"}})
        module.fail_json(msg=f"No share of {wanted} is offered to this account: share it first with the owner "
                             "account's credentials (side=owner, target_account_id=this account), in the same Region")
    share = ds.normalize_consumer_directory(directory)
    status = directory.get("ShareStatus")
    if status in ds.SHARE_STATUSES_ENDED + ds.SHARE_STATUSES_ENDING:
        module.fail_json(msg=f"The share {directory['DirectoryId']} is {status}: the owner must share the directory "
                             "again before this account can accept it", share=share)
    changed = False
    if status == "PendingAcceptance":
        changed = ds.accept_shared_directory(client, module.check_mode, directory["DirectoryId"])
        if module.check_mode:
            done(module, True, share, {"before": brief(share), "after": dict(brief(share), share_status="Shared")})
    if (changed or status != "Shared") and p["wait"] and not module.check_mode:
        ds.wait_for_consumer(client, "consumer_shared", directory["DirectoryId"], p["wait_timeout"],
                             p["poll_interval"])
    if changed or status != "Shared":
        share = ds.normalize_consumer_directory(ds.get_directory(client, directory["DirectoryId"]))
    done(module, changed, share, {"before": brief(ds.normalize_consumer_directory(directory)), "after": brief(share)})


def consumer_absent(module, client):
    p = module.params
    directory = ds.find_consumer_directory(client, p["directory_id"], p["shared_directory_id"])
    status = (directory or {}).get("ShareStatus")
    if directory is None or status in ds.SHARE_STATUSES_ENDED:
        done(module, False, {}, {"before": {}, "after": {}})
    share = ds.normalize_consumer_directory(directory)
    if status != "PendingAcceptance" and status not in ds.SHARE_STATUSES_ENDING:
        module.fail_json(msg=f"The share {directory['DirectoryId']} is {status}: only the owner can end an accepted "
                             "share (side=owner, state=absent, with the owner account's credentials)", share=share)
    changed = False
    if status == "PendingAcceptance":
        changed = ds.reject_shared_directory(client, module.check_mode, directory["DirectoryId"])
    if p["wait"] and not module.check_mode:
        ds.wait_for_consumer(client, "consumer_rejected", directory["DirectoryId"], p["wait_timeout"],
                             p["poll_interval"])
    done(module, changed, {}, {"before": brief(share), "after": {}})


def main():
    argument_spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        side=dict(type="str", default="owner", choices=["owner", "consumer"]),
        directory_id=dict(type="str"),
        shared_directory_id=dict(type="str"),
        target_account_id=dict(type="str"),
        share_method=dict(type="str", choices=list(ds.SHARE_METHODS)),
        share_notes=dict(type="str", no_log=True),
        consumer_access_key=dict(type="str", no_log=False),
        consumer_secret_key=dict(type="str", no_log=True),
        consumer_session_token=dict(type="str", no_log=True),
        consumer_profile=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        poll_interval=dict(type="int", default=15),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    client = module.client("ds", retry_decorator=jittered_backoff())
    handlers = {("owner", "present"): owner_present, ("owner", "absent"): owner_absent,
                ("consumer", "present"): consumer_present, ("consumer", "absent"): consumer_absent}
    try:
        handlers[(module.params["side"], module.params["state"])](module, client)
    except ds.AnsibleDSError as e:
        ds.fail(module, e)


if __name__ == "__main__":
    main()
