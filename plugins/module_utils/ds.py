# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS Directory Service (ds): lookups, changes, validation and waiters for Managed Microsoft AD.

No collection has a Directory Service module_utils; this one follows amazon.aws's iam.py/rds.py.
"""

import re

try:
    import botocore
except ImportError:
    pass  # Modules are responsible for handling this.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.transformation import boto3_resource_to_ansible_dict
from ansible_collections.aurora.kerberos.plugins.module_utils.input_rules import DIRECTORY_ID
from ansible_collections.aurora.kerberos.plugins.module_utils.input_rules import FQDN
from ansible_collections.aurora.kerberos.plugins.module_utils.input_rules import directory_input_problems
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff
from ansible_collections.aurora.kerberos.plugins.module_utils.waiter import WaiterFactory

# AWS_FACTS.md section 1.
STAGES_BEING_CREATED = ("Requested", "Creating", "Created")
STAGES_IN_PROGRESS = STAGES_BEING_CREATED + ("Updating", "Restoring")
STAGES_FAILED = ("Failed", "Impaired", "Inoperable", "RestoreFailed")
STAGES_GONE = ("Deleting", "Deleted")
# The rules for the directory's name, id and Admin password: input_rules.


class AnsibleDSError(AnsibleAWSError):
    pass


def fail(module, error):
    """Report an AnsibleDSError with what it carries besides its message (the directory, trust or share)."""
    if error.exception is not None:
        module.fail_json_aws(error.exception, msg=error.message, **error.kwargs)
    module.fail_json(msg=error.message or str(error), **error.kwargs)


class DSErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AnsibleDSError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("EntityDoesNotExistException")


# --- reads ------------------------------------------------------------------------------------

@DSErrorHandler.list_error_handler("describe directories", [])
@jittered_backoff()
def describe_directories(client, directory_ids=None):
    params = {"DirectoryIds": directory_ids} if directory_ids else {}
    paginator = client.get_paginator("describe_directories")
    return paginator.paginate(**params).build_full_result()["DirectoryDescriptions"]


def get_directory(client, directory_id):
    found = describe_directories(client, [directory_id])
    return found[0] if found else None


def find_directories(client, name, vpc_id=None):
    """Directories with this DNS name (and VPC), so a retried run never creates a second one.
    CreateMicrosoftAD has no client token (AWS_FACTS.md section 1)."""
    matches = []
    for directory in describe_directories(client):
        if directory.get("Name", "").lower() != name.lower() or directory.get("Stage") in STAGES_GONE:
            continue
        if vpc_id and (directory.get("VpcSettings") or {}).get("VpcId") != vpc_id:
            continue
        matches.append(directory)
    return matches


@DSErrorHandler.list_error_handler("list directory tags", {})
@jittered_backoff()
def list_tags(client, directory_id):
    paginator = client.get_paginator("list_tags_for_resource")
    tags = paginator.paginate(ResourceId=directory_id).build_full_result()["Tags"]
    return boto3_tag_list_to_ansible_dict(tags)


# --- changes (each returns before the API call in check mode) ---------------------------------

@DSErrorHandler.common_error_handler("create directory")
@jittered_backoff()
def _create_microsoft_ad(client, **params):
    return client.create_microsoft_ad(**params)["DirectoryId"]


def create_microsoft_ad(client, check_mode, name, password, vpc_id, subnet_ids, short_name=None, description=None,
                        edition=None, tags=None):
    if check_mode:
        return None
    params = {"Name": name, "Password": password, "VpcSettings": {"VpcId": vpc_id, "SubnetIds": subnet_ids}}
    if short_name:
        params["ShortName"] = short_name
    if description:
        params["Description"] = description
    if edition:
        params["Edition"] = edition
    if tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return _create_microsoft_ad(client, **params)


@DSErrorHandler.deletion_error_handler("delete directory")
@jittered_backoff()
def delete_directory(client, check_mode, directory_id):
    if not check_mode:
        client.delete_directory(DirectoryId=directory_id)
    return True


# DeleteDirectory's ClientException while anything still uses the directory (AWS_FACTS.md section 1,
# recorded error); AWS may take 30-60 minutes to see an application's removal.
AUTHORIZED_APPLICATIONS = "Cannot delete the directory because it still has authorized applications."


def _error_details(error):
    """The Error dict ({Code, Message}) of an AnsibleDSError or a ClientError; {} for anything else."""
    error = getattr(error, "exception", None) or error
    return (getattr(error, "response", None) or {}).get("Error") or {}


def is_authorized_applications_error(error):
    """Whether an AnsibleDSError (or ClientError) is DeleteDirectory's "still has authorized applications"."""
    details = _error_details(error)
    return details.get("Code") == "ClientException" and "authorized applications" in details.get("Message", "")


@DSErrorHandler.list_error_handler("describe the directory's Regions", [])
@jittered_backoff()
def _describe_regions(client, directory_id):
    return client.get_paginator("describe_regions").paginate(DirectoryId=directory_id).build_full_result()[
        "RegionsDescription"]


def replica_regions(client, directory_id):
    """The Regions a directory is replicated to (multi-Region replication: RegionType Additional).
    A directory that cannot have replicas (Standard edition) answers UnsupportedOperationException: none."""
    try:
        regions = _describe_regions(client, directory_id)
    except AnsibleDSError as e:
        if _error_details(e).get("Code") == "UnsupportedOperationException":
            return []
        raise
    return sorted(r["RegionName"] for r in regions if r.get("RegionType") == "Additional")


@DSErrorHandler.common_error_handler("tag directory")
@jittered_backoff()
def update_tags(client, check_mode, directory_id, to_add, to_remove):
    if check_mode:
        return bool(to_add or to_remove)
    if to_remove:
        client.remove_tags_from_resource(ResourceId=directory_id, TagKeys=list(to_remove))
    if to_add:
        client.add_tags_to_resource(ResourceId=directory_id, Tags=[{"Key": k, "Value": v} for k, v in to_add.items()])
    return bool(to_add or to_remove)


# --- waiters (no botocore waiter exists for a directory's stage) ------------------------------

class DSWaiterFactory(WaiterFactory):
    @property
    def _waiter_model_data(self):
        stage = "DirectoryDescriptions[].Stage"
        return dict(
            directory_active=dict(
                operation="DescribeDirectories",
                delay=30,
                maxAttempts=120,
                acceptors=[dict(state="success", matcher="pathAll", argument=stage, expected="Active")]
                + [dict(state="failure", matcher="pathAny", argument=stage, expected=s)
                   for s in STAGES_FAILED + ("Deleting", "Deleted")]
                + [dict(state="retry", matcher="pathAny", argument=stage, expected=s) for s in STAGES_IN_PROGRESS],
            ),
            # During Creating AWS publishes the domain controllers' security group (a recorded Creating answer has
            # VpcSettings.SecurityGroupId 4 s after launch): what the security group rules need, long before Active.
            directory_security_group=dict(
                operation="DescribeDirectories",
                delay=5,
                maxAttempts=120,
                acceptors=[dict(state="success", matcher="path", expected=True,
                                argument="length(DirectoryDescriptions[?VpcSettings.SecurityGroupId]) > `0`"),
                           dict(state="success", matcher="pathAll", argument=stage, expected="Active")]
                + [dict(state="failure", matcher="pathAny", argument=stage, expected=s)
                   for s in STAGES_FAILED + ("Deleting", "Deleted")]
                + [dict(state="retry", matcher="pathAny", argument=stage, expected=s) for s in STAGES_IN_PROGRESS],
            ),
            directory_deleted=dict(
                operation="DescribeDirectories",
                delay=15,
                maxAttempts=120,
                acceptors=[
                    dict(state="success", matcher="error", expected="EntityDoesNotExistException"),
                    dict(state="success", matcher="path", argument="length(DirectoryDescriptions[]) == `0`",
                         expected=True),
                    dict(state="success", matcher="pathAll", argument=stage, expected="Deleted"),
                    dict(state="retry", matcher="pathAny", argument=stage, expected="Deleting"),
                ],
            ),
        )


def wait_for(client, waiter_name, directory_id, timeout, pause=15):
    """Wait; on a failed stage raise AnsibleDSError saying why with AWS's StageReason (fail() reports it)."""
    from ansible_collections.amazon.aws.plugins.module_utils.waiter import custom_waiter_config

    waiter = DSWaiterFactory().get_waiter(client, waiter_name)
    try:
        waiter.wait(DirectoryIds=[directory_id], WaiterConfig=custom_waiter_config(timeout=timeout, default_pause=pause))
    except botocore.exceptions.WaiterError as e:
        directory = get_directory(client, directory_id) or {}
        stage = directory.get("Stage", "unknown")
        if stage in STAGES_FAILED:
            raise AnsibleDSError(f"Directory {directory_id} is {stage}: {directory.get('StageReason') or 'AWS gave no reason'}. "
                                 "Check the VPC, subnets and the directory's security group; AWS support can repair an "
                                 "Impaired directory, a Failed one must be deleted and created again.",
                                 directory=normalize(directory))
        if stage in ("Deleting", "Deleted", "unknown") and waiter_name != "directory_deleted":
            raise AnsibleDSError(f"Directory {directory_id} is {'gone' if stage == 'unknown' else stage}: it is being "
                                 "deleted and will never be Active. Wait until it is gone and run again to create a new "
                                 "one, or give the id of another directory.", directory=normalize(directory))
        raise AnsibleDSError(f"Timed out after {timeout}s waiting for directory {directory_id} "
                             f"({waiter_name.replace('_', ' ')}); it is {stage}", exception=e) from e


def normalize(directory, tags=None):
    """The snake_case result, with the fields users need first-class."""
    if not directory:
        return {}
    result = boto3_resource_to_ansible_dict(directory)
    vpc = directory.get("VpcSettings") or {}
    result.update(
        dns_ip_addrs=directory.get("DnsIpAddrs", []),
        security_group_id=vpc.get("SecurityGroupId"),
        vpc_id=vpc.get("VpcId"),
        subnet_ids=vpc.get("SubnetIds", []),
        realm=directory.get("Name", "").upper(),
    )
    if tags is not None:
        result["tags"] = tags
    return result


# --- trusts to an on-premises forest (AWS_FACTS.md section 8) ---------------------------------

TRUST_DIRECTIONS = ("One-Way: Outgoing", "One-Way: Incoming", "Two-Way")
TRUST_TYPES = ("Forest", "External")
SELECTIVE_AUTH = ("Enabled", "Disabled")
# Verified after creation or VerifyTrust; Updated after UpdateTrust. Both mean a working trust.
TRUST_STATES_READY = ("Verified", "Updated")
TRUST_STATES_IN_PROGRESS = ("Creating", "Created", "Verifying", "Updating")
TRUST_STATES_FAILED = ("VerifyFailed", "UpdateFailed", "Failed")
TRUST_STATES_GONE = ("Deleting", "Deleted")

_TRUST_ID = re.compile(r"^t-[0-9a-f]{10}$")


def trust_password_problem(password):
    """The model's rule for TrustPassword (1-128 letters, digits, punctuation or spaces), or None.
    The message never repeats the password."""
    if not 1 <= len(password) <= 128:
        return "must be 1 to 128 characters long"
    if not all(c.isalnum() or (c.isascii() and c.isprintable()) for c in password):
        return "may contain only letters, digits, punctuation and spaces"
    return None


def ipv4_problems(addresses, option, prefix=""):
    import ipaddress

    bad = []
    for address in addresses:
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            bad.append(address)
    if bad:
        return [f"{prefix}{option} {bad} are not IPv4 addresses: give the on-premises DNS servers' addresses, "
                "e.g. 10.10.0.10"]
    return []


def trust_input_problems(directory_id=None, remote_domain_name=None, trust_password=None,
                         conditional_forwarder_ip_addrs=None, prefix=""):
    """Every problem with a trust's inputs, each naming the option and the fix."""
    problems = directory_input_problems(directory_id=directory_id, prefix=prefix)
    if remote_domain_name is not None and not FQDN.match(remote_domain_name.rstrip(".")):
        problems.append(f"{prefix}remote_domain_name {remote_domain_name!r} must be the on-premises forest's fully "
                        "qualified DNS name, e.g. onprem.example.com")
    if trust_password is not None:
        problem = trust_password_problem(trust_password)
        if problem:
            problems.append(f"{prefix}trust_password {problem}")
    if conditional_forwarder_ip_addrs is not None:
        if not conditional_forwarder_ip_addrs:
            problems.append(f"{prefix}conditional_forwarder_ip_addrs must list at least one on-premises DNS server "
                            "(or be left out)")
        problems += ipv4_problems(conditional_forwarder_ip_addrs, "conditional_forwarder_ip_addrs", prefix)
    return problems


def same_domain(a, b):
    return (a or "").rstrip(".").lower() == (b or "").rstrip(".").lower()


@DSErrorHandler.list_error_handler("describe trusts", [])
@jittered_backoff()
def describe_trusts(client, directory_id, trust_ids=None):
    params = {"DirectoryId": directory_id}
    if trust_ids:
        params["TrustIds"] = trust_ids
    return client.get_paginator("describe_trusts").paginate(**params).build_full_result()["Trusts"]


def find_trust(client, directory_id, remote_domain_name):
    """The directory's trust to this domain (a Deleted one does not count); None when there is none."""
    for trust in describe_trusts(client, directory_id):
        if same_domain(trust.get("RemoteDomainName"), remote_domain_name) and trust.get("TrustState") != "Deleted":
            return trust
    return None


def get_trust(client, directory_id, trust_id):
    found = describe_trusts(client, directory_id, [trust_id])
    return found[0] if found else None


@DSErrorHandler.common_error_handler("create trust")
@jittered_backoff()
def _create_trust(client, **params):
    return client.create_trust(**params)["TrustId"]


def create_trust(client, check_mode, directory_id, remote_domain_name, trust_password, trust_direction,
                 trust_type=None, conditional_forwarder_ip_addrs=None, selective_auth=None):
    if check_mode:
        return None
    params = {"DirectoryId": directory_id, "RemoteDomainName": remote_domain_name, "TrustPassword": trust_password,
              "TrustDirection": trust_direction}
    if trust_type:
        params["TrustType"] = trust_type
    if conditional_forwarder_ip_addrs:
        params["ConditionalForwarderIpAddrs"] = conditional_forwarder_ip_addrs
    if selective_auth:
        params["SelectiveAuth"] = selective_auth
    return _create_trust(client, **params)


@DSErrorHandler.common_error_handler("verify trust")
@jittered_backoff()
def verify_trust(client, check_mode, trust_id):
    if not check_mode:
        client.verify_trust(TrustId=trust_id)
    return True


@DSErrorHandler.common_error_handler("update trust")
@jittered_backoff()
def update_trust(client, check_mode, trust_id, selective_auth):
    if not check_mode:
        client.update_trust(TrustId=trust_id, SelectiveAuth=selective_auth)
    return True


@DSErrorHandler.deletion_error_handler("delete trust")
@jittered_backoff()
def delete_trust(client, check_mode, trust_id, delete_conditional_forwarder=False):
    if not check_mode:
        client.delete_trust(TrustId=trust_id, DeleteAssociatedConditionalForwarder=delete_conditional_forwarder)
    return True


@DSErrorHandler.list_error_handler("describe conditional forwarders", None)
@jittered_backoff()
def get_conditional_forwarder(client, directory_id, remote_domain_name):
    """The DNS servers the directory forwards this domain to; None when it has no forwarder for it."""
    forwarders = client.describe_conditional_forwarders(DirectoryId=directory_id,
                                                        RemoteDomainNames=[remote_domain_name])["ConditionalForwarders"]
    for forwarder in forwarders:
        if same_domain(forwarder.get("RemoteDomainName"), remote_domain_name):
            return forwarder.get("DnsIpAddrs", [])
    return None


@DSErrorHandler.common_error_handler("set conditional forwarder")
@jittered_backoff()
def set_conditional_forwarder(client, check_mode, directory_id, remote_domain_name, dns_ip_addrs, exists):
    if not check_mode:
        params = {"DirectoryId": directory_id, "RemoteDomainName": remote_domain_name, "DnsIpAddrs": dns_ip_addrs}
        if exists:
            client.update_conditional_forwarder(**params)
        else:
            client.create_conditional_forwarder(**params)
    return True


def trust_failure_hint(trust):
    """What to check when a trust is not Verified: AWS's reason first, then the usual causes."""
    reason = (trust.get("TrustStateReason") or "AWS gave no reason").rstrip(". ")
    remote = trust.get("RemoteDomainName", "the remote domain")
    direction = trust.get("TrustDirection", "")
    opposite = {"One-Way: Outgoing": "One-Way: Incoming", "One-Way: Incoming": "One-Way: Outgoing"}.get(direction, direction)
    return (f"Trust {trust.get('TrustId')} to {remote} is {trust.get('TrustState')}: {reason}. Check: "
            f"(1) {remote} has a trust to this directory's domain with the same password and the opposite direction "
            f"({opposite or 'the mirror of this one'}); "
            f"(2) conditional forwarders on both sides: this directory forwards {remote} to the on-premises DNS "
            "servers, and on-premises DNS forwards this directory's domain to its DnsIpAddrs; "
            "(3) the directory's security group allows outbound traffic to the on-premises domain controllers "
            "(DNS 53, Kerberos 88 and 464, LDAP 389, SMB 445, RPC 135 and 1024-65535), and the network routes reach "
            "them; (4) both domains resolve each other's names. Then run again with verify=true.")


def normalize_trust(trust, conditional_forwarder_ip_addrs=None):
    """The snake_case result, each value under AWS's name only (trust_id, trust_state, ...), as directory_id is."""
    if not trust:
        return {}
    result = boto3_resource_to_ansible_dict(trust)
    if conditional_forwarder_ip_addrs is not None:
        result["conditional_forwarder_ip_addrs"] = conditional_forwarder_ip_addrs
    return result


# --- sharing a directory with another account (AWS_FACTS.md section 2) ------------------------

SHARE_METHODS = ("HANDSHAKE", "ORGANIZATIONS")
SHARE_STATUSES_ENDED = ("Rejected", "ShareFailed", "Deleted")
SHARE_STATUSES_ENDING = ("Rejecting", "Deleting")

_ACCOUNT_ID = re.compile(r"^\d{12}$")


def share_input_problems(directory_id=None, target_account_id=None, share_notes=None, shared_directory_id=None,
                         prefix=""):
    """Every problem with a share's inputs, each naming the option and the fix (notes are never repeated)."""
    problems = directory_input_problems(directory_id=directory_id, prefix=prefix)
    if shared_directory_id is not None and not DIRECTORY_ID.match(shared_directory_id):
        problems.append(f"{prefix}shared_directory_id {shared_directory_id!r} is not a directory id: use d- and "
                        "10 hex digits")
    if target_account_id is not None and not _ACCOUNT_ID.match(target_account_id):
        problems.append(f"{prefix}target_account_id {target_account_id!r} must be a 12-digit AWS account id "
                        "(quote it in YAML so leading zeros survive)")
    if share_notes is not None and len(share_notes) > 1024:
        problems.append(f"{prefix}share_notes must be at most 1024 characters (got {len(share_notes)})")
    return problems


@DSErrorHandler.list_error_handler("describe shared directories", [])
@jittered_backoff()
def describe_shared_directories(client, owner_directory_id, shared_directory_ids=None):
    params = {"OwnerDirectoryId": owner_directory_id}
    if shared_directory_ids:
        params["SharedDirectoryIds"] = shared_directory_ids
    paginator = client.get_paginator("describe_shared_directories")
    return paginator.paginate(**params).build_full_result()["SharedDirectories"]


def find_share(client, owner_directory_id, account_id):
    """The owner's live share with this account; an ended one (Rejected, ShareFailed, Deleted) is
    returned only when there is no live one, so the caller can share again."""
    shares = [s for s in describe_shared_directories(client, owner_directory_id) if s.get("SharedAccountId") == account_id]
    live = [s for s in shares if s.get("ShareStatus") not in SHARE_STATUSES_ENDED]
    return (live or shares or [None])[0]


def find_consumer_directory(client, owner_directory_id=None, shared_directory_id=None):
    """The shared directory as the consumer account sees it (Type SharedMicrosoftAD); None if not offered."""
    if shared_directory_id:
        found = describe_directories(client, [shared_directory_id])
    else:
        found = [d for d in describe_directories(client)
                 if (d.get("OwnerDirectoryDescription") or {}).get("DirectoryId") == owner_directory_id]
    live = [d for d in found if d.get("ShareStatus") not in SHARE_STATUSES_ENDED]
    return (live or found or [None])[0]


@DSErrorHandler.common_error_handler("share directory")
@jittered_backoff()
def _share_directory(client, **params):
    return client.share_directory(**params)["SharedDirectoryId"]


def share_directory(client, check_mode, directory_id, account_id, share_method, share_notes=None):
    if check_mode:
        return None
    params = {"DirectoryId": directory_id, "ShareTarget": {"Id": account_id, "Type": "ACCOUNT"},
              "ShareMethod": share_method}
    if share_notes:
        params["ShareNotes"] = share_notes
    return _share_directory(client, **params)


@DSErrorHandler.deletion_error_handler("unshare directory")
@jittered_backoff()
def unshare_directory(client, check_mode, directory_id, account_id):
    if not check_mode:
        client.unshare_directory(DirectoryId=directory_id, UnshareTarget={"Id": account_id, "Type": "ACCOUNT"})
    return True


@DSErrorHandler.common_error_handler("accept shared directory")
@jittered_backoff()
def accept_shared_directory(client, check_mode, shared_directory_id):
    if not check_mode:
        client.accept_shared_directory(SharedDirectoryId=shared_directory_id)
    return True


@DSErrorHandler.common_error_handler("reject shared directory")
@jittered_backoff()
def reject_shared_directory(client, check_mode, shared_directory_id):
    if not check_mode:
        client.reject_shared_directory(SharedDirectoryId=shared_directory_id)
    return True


def normalize_share(share):
    """The owner's view of a share (DescribeSharedDirectories), snake_case. ShareNotes is sensitive in
    the API model, so it is never returned."""
    if not share:
        return {}
    result = boto3_resource_to_ansible_dict({k: v for k, v in share.items() if k != "ShareNotes"})
    result.update(shared_directory_id=share.get("SharedDirectoryId"), share_status=share.get("ShareStatus"))
    return result


def normalize_consumer_directory(directory):
    """The consumer's view of a shared directory (DescribeDirectories in the consumer account) as a share."""
    if not directory:
        return {}
    owner = directory.get("OwnerDirectoryDescription") or {}
    return {
        "owner_account_id": owner.get("AccountId"),
        "owner_directory_id": owner.get("DirectoryId"),
        "share_method": directory.get("ShareMethod"),
        "shared_directory_id": directory.get("DirectoryId"),
        "share_status": directory.get("ShareStatus"),
        "dns_ip_addrs": directory.get("DnsIpAddrs") or owner.get("DnsIpAddrs", []),
    }


# --- waiters for trusts and shares ------------------------------------------------------------

def _acceptors(path, success=(), failure=(), retry=()):
    return ([dict(state="success", matcher="pathAll", argument=path, expected=s) for s in success]
            + [dict(state="failure", matcher="pathAny", argument=path, expected=s) for s in failure]
            + [dict(state="retry", matcher="pathAny", argument=path, expected=s) for s in retry])


def _gone(path, ended, ending, missing_path):
    return ([dict(state="success", matcher="error", expected="EntityDoesNotExistException"),
             dict(state="success", matcher="path", argument=f"length({missing_path}) == `0`", expected=True)]
            + [dict(state="success", matcher="pathAll", argument=path, expected=s) for s in ended]
            + [dict(state="retry", matcher="pathAny", argument=path, expected=s) for s in ending])


class DSTrustShareWaiterFactory(WaiterFactory):
    @property
    def _waiter_model_data(self):
        trust = "Trusts[].TrustState"
        owner_share = "SharedDirectories[].ShareStatus"
        consumer_share = "DirectoryDescriptions[].ShareStatus"
        return dict(
            trust_verified=dict(
                operation="DescribeTrusts", delay=15, maxAttempts=80,
                acceptors=_acceptors(trust, TRUST_STATES_READY, TRUST_STATES_FAILED + TRUST_STATES_GONE,
                                     TRUST_STATES_IN_PROGRESS),
            ),
            # Right after VerifyTrust the trust may still read VerifyFailed from the last attempt.
            trust_verification_started=dict(
                operation="DescribeTrusts", delay=5, maxAttempts=12,
                acceptors=_acceptors(trust, (), (), TRUST_STATES_FAILED)
                + [dict(state="success", matcher="pathAny", argument=trust, expected=s)
                   for s in TRUST_STATES_IN_PROGRESS + TRUST_STATES_READY],
            ),
            trust_deleted=dict(
                operation="DescribeTrusts", delay=10, maxAttempts=90,
                acceptors=_gone(trust, ("Deleted",), ("Deleting",), "Trusts[]"),
            ),
            # The owner's side: Shared, or PendingAcceptance when a handshake waits for the consumer.
            share_offered=dict(
                operation="DescribeSharedDirectories", delay=5, maxAttempts=120,
                acceptors=[dict(state="success", matcher="pathAll", argument=owner_share, expected=s)
                           for s in ("Shared", "PendingAcceptance")]
                + _acceptors(owner_share, (), SHARE_STATUSES_ENDED + ("RejectFailed",), ("Sharing",)),
            ),
            share_shared=dict(
                operation="DescribeSharedDirectories", delay=5, maxAttempts=120,
                acceptors=_acceptors(owner_share, ("Shared",), SHARE_STATUSES_ENDED + ("RejectFailed",),
                                     ("Sharing", "PendingAcceptance")),
            ),
            share_deleted=dict(
                operation="DescribeSharedDirectories", delay=5, maxAttempts=120,
                acceptors=_gone(owner_share, SHARE_STATUSES_ENDED, SHARE_STATUSES_ENDING, "SharedDirectories[]"),
            ),
            # The consumer's side, after AcceptSharedDirectory.
            consumer_shared=dict(
                operation="DescribeDirectories", delay=5, maxAttempts=120,
                acceptors=_acceptors(consumer_share, ("Shared",), SHARE_STATUSES_ENDED + ("RejectFailed",),
                                     ("Sharing", "PendingAcceptance")),
            ),
            consumer_rejected=dict(
                operation="DescribeDirectories", delay=5, maxAttempts=120,
                acceptors=_gone(consumer_share, SHARE_STATUSES_ENDED, SHARE_STATUSES_ENDING, "DirectoryDescriptions[]"),
            ),
        )


def _config(timeout, pause=15):
    from ansible_collections.amazon.aws.plugins.module_utils.waiter import custom_waiter_config

    return custom_waiter_config(timeout=timeout, default_pause=pause)


def wait_for_trust(client, waiter_name, directory_id, trust_id, timeout, pause=15):
    """Wait for a trust; when it ends VerifyFailed (or any failed state) raise AnsibleDSError saying what to check."""
    waiter = DSTrustShareWaiterFactory().get_waiter(client, waiter_name)
    try:
        waiter.wait(DirectoryId=directory_id, TrustIds=[trust_id], WaiterConfig=_config(timeout, pause))
    except botocore.exceptions.WaiterError as e:
        trust = get_trust(client, directory_id, trust_id) or {}
        state = trust.get("TrustState", "unknown")
        if state in TRUST_STATES_FAILED:
            raise AnsibleDSError(trust_failure_hint(trust), trust=normalize_trust(trust))
        raise AnsibleDSError(f"Timed out after {timeout}s waiting for trust {trust_id} "
                             f"({waiter_name.replace('_', ' ')}); it is {state}", exception=e,
                             trust=normalize_trust(trust)) from e


def wait_for_verification_start(client, directory_id, trust_id, timeout=60, pause=5):
    """Give a re-verified trust time to leave its old failed state. If it never does, the trust_verified
    waiter that follows reports the failure with its reason."""
    waiter = DSTrustShareWaiterFactory().get_waiter(client, "trust_verification_started")
    try:
        waiter.wait(DirectoryId=directory_id, TrustIds=[trust_id], WaiterConfig=_config(timeout, pause))
    except botocore.exceptions.WaiterError:
        return False
    return True


def wait_for_share(client, waiter_name, owner_directory_id, shared_directory_id, timeout, pause=15):
    """Wait for the owner's view of a share."""
    waiter = DSTrustShareWaiterFactory().get_waiter(client, waiter_name)
    try:
        waiter.wait(OwnerDirectoryId=owner_directory_id, SharedDirectoryIds=[shared_directory_id],
                    WaiterConfig=_config(timeout, pause))
    except botocore.exceptions.WaiterError as e:
        found = describe_shared_directories(client, owner_directory_id, [shared_directory_id])
        share = found[0] if found else {}
        raise _share_wait_failed(e, waiter_name, shared_directory_id, share.get("ShareStatus"), timeout,
                                 normalize_share(share)) from e


def wait_for_consumer(client, waiter_name, shared_directory_id, timeout, pause=15):
    """Wait for the consumer's view of a share (its own directory id)."""
    waiter = DSTrustShareWaiterFactory().get_waiter(client, waiter_name)
    try:
        waiter.wait(DirectoryIds=[shared_directory_id], WaiterConfig=_config(timeout, pause))
    except botocore.exceptions.WaiterError as e:
        directory = get_directory(client, shared_directory_id) or {}
        raise _share_wait_failed(e, waiter_name, shared_directory_id, directory.get("ShareStatus"), timeout,
                                 normalize_consumer_directory(directory)) from e


def _share_wait_failed(error, waiter_name, shared_directory_id, status, timeout, share):
    """The AnsibleDSError of a share wait that ended without the status asked."""
    if status in SHARE_STATUSES_ENDED + ("RejectFailed",):
        return AnsibleDSError(f"The share {shared_directory_id} is {status}. A handshake share must be accepted in the "
                              "consumer account (not rejected); an Organizations share needs AWS Organizations with "
                              "Directory Service sharing enabled and the target account in the organization. Share "
                              "again once that is fixed.", share=share)
    return AnsibleDSError(f"Timed out after {timeout}s waiting for share {shared_directory_id} "
                          f"({waiter_name.replace('_', ' ')}); it is {status or 'not found'}", exception=error, share=share)
