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
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.transformation import boto3_resource_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.waiter import BaseWaiterFactory

# AWS_FACTS.md section 1.
STAGES_IN_PROGRESS = ("Requested", "Creating", "Created", "Updating", "Restoring")
STAGES_FAILED = ("Failed", "Impaired", "Inoperable", "RestoreFailed")
STAGES_GONE = ("Deleting", "Deleted")
EDITIONS = ("Standard", "Enterprise", "Hybrid")

_FQDN = re.compile(r"^(?=.{1,255}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")
_NETBIOS = re.compile(r"^[^\\/:*?\"<>|.]{1,15}$")
_DIRECTORY_ID = re.compile(r"^d-[0-9a-f]{10}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")


class AnsibleDSError(AnsibleAWSError):
    pass


class DSErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AnsibleDSError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("EntityDoesNotExistException")


# --- validation (before anything is written) --------------------------------------------------

def admin_password_problem(password):
    """AWS's rules for the Admin password (AWS_FACTS.md section 1), or None when it passes."""
    if not 8 <= len(password) <= 64:
        return "must be 8 to 64 characters long"
    if "admin" in password.lower():
        return 'must not contain the word "admin"'
    classes = sum((
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ))
    if classes < 3:
        return "must use 3 of: lower-case letters, upper-case letters, digits, symbols"
    return None


def directory_input_problems(name=None, short_name=None, password=None, vpc_id=None, subnet_ids=None,
                             directory_id=None, edition=None, prefix=""):
    """Every problem with the inputs, each naming the option and the fix."""
    problems = []
    if directory_id is not None and not _DIRECTORY_ID.match(directory_id):
        problems.append(f"{prefix}directory_id {directory_id!r} is not a directory id: use d- and 10 hex digits")
    if name is not None and not _FQDN.match(name):
        problems.append(f"{prefix}name {name!r} must be the directory's fully qualified DNS name, e.g. corp.example.com")
    if short_name is not None and not _NETBIOS.match(short_name):
        problems.append(f"{prefix}short_name {short_name!r} must be a NetBIOS name: 1-15 characters, "
                        "no periods or any of \\/:*?\"<>|")
    if password is not None:
        problem = admin_password_problem(password)
        if problem:
            problems.append(f"{prefix}password {problem}")
    if vpc_id is not None and not _VPC_ID.match(vpc_id):
        problems.append(f"{prefix}vpc_id {vpc_id!r} is not a VPC id (vpc-...)")
    if subnet_ids is not None:
        if len(subnet_ids) != 2 or len(set(subnet_ids)) != 2:
            problems.append(f"{prefix}subnet_ids must list exactly 2 different subnets, in 2 Availability Zones "
                            f"(got {len(subnet_ids)})")
        bad = [s for s in subnet_ids if not _SUBNET_ID.match(s)]
        if bad:
            problems.append(f"{prefix}subnet_ids {bad} are not subnet ids (subnet-...)")
    if edition is not None and edition not in EDITIONS:
        problems.append(f"{prefix}edition must be one of {', '.join(EDITIONS)} (got {edition!r})")
    return problems


# --- reads ------------------------------------------------------------------------------------

@DSErrorHandler.list_error_handler("describe directories", [])
@AWSRetry.jittered_backoff()
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
@AWSRetry.jittered_backoff()
def list_tags(client, directory_id):
    paginator = client.get_paginator("list_tags_for_resource")
    tags = paginator.paginate(ResourceId=directory_id).build_full_result()["Tags"]
    return boto3_tag_list_to_ansible_dict(tags)


# --- changes (each returns before the API call in check mode) ---------------------------------

@DSErrorHandler.common_error_handler("create directory")
@AWSRetry.jittered_backoff()
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
@AWSRetry.jittered_backoff()
def delete_directory(client, check_mode, directory_id):
    if not check_mode:
        client.delete_directory(DirectoryId=directory_id)
    return True


@DSErrorHandler.common_error_handler("tag directory")
@AWSRetry.jittered_backoff()
def update_tags(client, check_mode, directory_id, to_add, to_remove):
    if check_mode:
        return bool(to_add or to_remove)
    if to_remove:
        client.remove_tags_from_resource(ResourceId=directory_id, TagKeys=list(to_remove))
    if to_add:
        client.add_tags_to_resource(ResourceId=directory_id, Tags=[{"Key": k, "Value": v} for k, v in to_add.items()])
    return bool(to_add or to_remove)


# --- waiters (no botocore waiter exists for a directory's stage) ------------------------------

class DSWaiterFactory(BaseWaiterFactory):
    @property
    def _waiter_model_data(self):
        stage = "DirectoryDescriptions[].Stage"
        return dict(
            directory_active=dict(
                operation="DescribeDirectories",
                delay=30,
                maxAttempts=120,
                acceptors=[dict(state="success", matcher="pathAll", argument=stage, expected="Active")]
                + [dict(state="failure", matcher="pathAny", argument=stage, expected=s) for s in STAGES_FAILED]
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


def wait_for(module, client, waiter_name, directory_id, timeout):
    """Wait, and on a failed stage say why with AWS's StageReason."""
    from ansible_collections.amazon.aws.plugins.module_utils.waiter import custom_waiter_config

    waiter = DSWaiterFactory().get_waiter(client, waiter_name)
    try:
        waiter.wait(DirectoryIds=[directory_id], WaiterConfig=custom_waiter_config(timeout=timeout, default_pause=10))
    except botocore.exceptions.WaiterError as e:
        directory = get_directory(client, directory_id) or {}
        stage = directory.get("Stage", "unknown")
        if stage in STAGES_FAILED:
            module.fail_json(msg=f"Directory {directory_id} is {stage}: {directory.get('StageReason') or 'AWS gave no reason'}. "
                                 "Check the VPC, subnets and the directory's security group; AWS support can repair an "
                                 "Impaired directory, a Failed one must be deleted and created again.",
                             directory=normalize(directory))
        module.fail_json_aws(e, msg=f"Timed out after {timeout}s waiting for directory {directory_id} "
                                    f"({waiter_name.replace('_', ' ')}); it is {stage}")


def normalize(directory, tags=None):
    """The snake_case result, with the fields users need first-class."""
    if not directory:
        return {}
    result = boto3_resource_to_ansible_dict(directory)
    vpc = directory.get("VpcSettings") or {}
    result.update(
        id=directory.get("DirectoryId"),
        dns_ip_addrs=directory.get("DnsIpAddrs", []),
        security_group_id=vpc.get("SecurityGroupId"),
        vpc_id=vpc.get("VpcId"),
        subnet_ids=vpc.get("SubnetIds", []),
        realm=directory.get("Name", "").upper(),
    )
    if tags is not None:
        result["tags"] = tags
    return result
