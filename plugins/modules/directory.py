#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: directory
short_description: Create or delete an AWS Managed Microsoft AD directory for Aurora Kerberos authentication
version_added: 0.1.0
description:
  - Creates an AWS Managed Microsoft AD directory and waits until it is C(Active), or deletes one and waits
    until it is gone.
  - CreateMicrosoftAD has no idempotency token, so the module first looks the directory up by O(name)
    (and O(vpc_id)); a retried or repeated run never creates a second directory.
  - Runs side by side (AWX job slices) would each find no directory and each create one. With O(claim=true), a run
    first claims the creation in SSM Parameter Store (PutParameter without Overwrite, which only one run can win
    for a name), then creates the directory and records its id in the claim. A run that finds another run's live
    claim waits for that directory and adopts it. A claim left by a run that died expires after O(claim_timeout)
    and the next run takes the creation over. The claims stay as markers naming the directory and are deleted
    with it.
  - A directory that ends C(Failed) or C(Impaired) fails the task with AWS's C(StageReason).
  - Deleting first reads every use of the directory this account and Region can see, all of which make AWS refuse
    DeleteDirectory with "Cannot delete the directory because it still has authorized applications."; Aurora
    clusters and RDS DB instances of any engine in the domain, shares with other accounts, and Region replicas.
    It refuses and lists them, each with its fix. O(force=true) takes the clusters and instances out of the
    domain first and waits until they have left; shares and replicas are never removed for you.
  - When AWS still refuses for uses the module cannot see (WorkSpaces, FSx, a removal AWS has not seen yet, which
    can take 30 to 60 minutes), the failure says so and where to look.
  - Only AWS Managed Microsoft AD works with Aurora; Simple AD and AD Connector directories are not managed here.
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  state:
    description: V(present) creates the directory, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - The directory's fully qualified DNS name, for example V(corp.example.com). The Kerberos realm is its upper-case form.
      - Without a trailing dot. Names in the domains AWS reserves (C(*.example), C(*.invalid), C(*.localhost)) are
        refused before any call, as AWS refuses them.
      - Required unless O(directory_id) is given.
    type: str
  directory_id:
    description:
      - The id of an existing directory (V(d-) and 10 hex digits). When given, the module manages that directory
        instead of looking it up by name.
    type: str
  short_name:
    description:
      - The NetBIOS name. AWS's default is the first label of O(name), upper-case.
      - 1 to 15 characters, none of C(\/:*?"<>|), and not starting with a period.
    type: str
  password:
    description:
      - The password of the directory's C(Admin) user. Required to create a directory; never returned or logged.
      - 8 to 64 characters, 3 of the 4 ASCII classes of the API model (C(a-z), C(A-Z), C(0-9), and symbols, meaning any
        other character except whitespace), and not containing C(admin).
      - Used only at creation. AWS never returns it, so the module cannot compare it on an existing directory.
    type: str
  edition:
    description:
      - The edition, V(Standard) or V(Enterprise). AWS's default is V(Enterprise).
      - V(Hybrid) is refused before any call, as CreateMicrosoftAD does not make it; a Hybrid directory comes from
        CreateHybridAD after a successful StartADAssessment. Adopt one with O(directory_id) and no O(edition).
    type: str
  vpc_id:
    description: The VPC the domain controllers run in. Required to create a directory.
    type: str
  subnet_ids:
    description:
      - Exactly two subnets of O(vpc_id), in two Availability Zones. Required to create a directory.
      - When given, they are read (C(DescribeSubnets)) and refused before any write, also when the directory exists
        already, so a wrong value is never silently ignored.
    type: list
    elements: str
  description:
    description: A description of the directory (used at creation).
    type: str
  tags_on_create:
    description:
      - Tags given only to a directory this module creates, with O(tags), in the same CreateMicrosoftAD call. A
        directory that already exists never gets them, so a tag here tells a directory you created from one you
        found (the directory role marks its own with C(aurora.kerberos:chain)).
    type: dict
  data_access:
    description:
      - Directory data access (the Directory Service Data API that M(aurora.kerberos.ad_user) and
        M(aurora.kerberos.ad_group) use with C(backend=ds_data)). V(true) enables it and waits until it is
        C(Enabled), V(false) disables it, null leaves it as it is.
      - Only an C(Active) directory can change it; with O(wait=false) on a directory still being created it is
        left for a later run.
    type: bool
  force:
    description:
      - With O(state=absent), take member clusters and DB instances out of the domain first
        (C(ModifyDBCluster Domain=none), C(ModifyDBInstance DisableDomain=true)) and wait until they have left, then
        delete. Without it the module refuses and names them. Shares and Region replicas block the deletion
        either way.
    type: bool
    default: false
  wait:
    description:
      - Wait until the directory is C(Active) (present) or deleted (absent).
      - With V(false) and O(state=present), a directory being created is still waited for until DescribeDirectories
        publishes its domain controllers' security group (C(VpcSettings.SecurityGroupId), seconds into C(Creating)),
        which the security group rules need, and no longer.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait. Creating a directory takes AWS 20 to 45 minutes.
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between status reads while waiting (the directory, and its data access with O(data_access)).
      - Creating a directory takes AWS 20 to 45 minutes; 15 s keeps the Describe calls well under the account's
        throttling limits.
    type: int
    default: 15
  claim:
    description:
      - Claim the creation in SSM Parameter Store before CreateMicrosoftAD (parameters under
        C(/aurora-kerberos/claims/directory/<vpc_id>/<name>/)), so that runs side by side make one directory;
        with O(state=absent), delete those claims with the directory.
      - The directory it creates is tagged C(aurora.kerberos:claim) with the run that created it; O(purge_tags)
        never removes that tag.
      - V(false) for a controller that may not use Parameter Store and never runs twice at once.
    type: bool
    default: true
  claim_timeout:
    description:
      - Seconds after which another run's claim that names no directory yet is taken for the claim of a run that
        died, and taken over. A live claim names its directory within seconds of being made.
      - Keep it above 300 (SigV4 allows the controller's clock to be 5 minutes off AWS's, whose time the claim carries).
    type: int
    default: 900
  variable_names:
    description:
      - "How the caller names this module's options, for its error messages, for example
        C({subnet_ids: directory_subnet_ids, vpc_id: directory_vpc_id}) from the aurora.kerberos.directory role, so that
        a refusal names the variable the user set. Options not listed keep their own names."
      - Used by the subnet checks (O(subnet_ids), O(vpc_id)).
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: Nothing is created, tagged or deleted; the result says what the real run would do.
  diff_mode:
    support: full
    description: The directory's name and id before and after a creation or a deletion (tag changes show in the result only).
  platform:
    platforms: all
"""

EXAMPLES = r"""
- name: A Managed Microsoft AD for Aurora Kerberos authentication
  aurora.kerberos.directory:
    name: corp.example.com
    short_name: CORP
    edition: Standard
    password: "{{ directory_admin_password }}"
    vpc_id: vpc-0123456789abcdef0
    subnet_ids: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
    tags:
      team: databases
  register: directory

- name: Delete it, taking member clusters out of the domain first
  aurora.kerberos.directory:
    name: corp.example.com
    state: absent
    force: true
"""

RETURN = r"""
directory:
  description: The directory; empty when it does not exist (or in check mode before creation).
  returned: always
  type: dict
  contains:
    directory_id:
      description: The directory id, the word the module option, the roles and AWS (C(DirectoryId)) use.
      type: str
      sample: d-1234567890
    name:
      description: The DNS name.
      type: str
      sample: corp.example.com
    short_name:
      description: The NetBIOS name.
      type: str
      sample: CORP
    realm:
      description: The Kerberos realm (the DNS name, upper-case).
      type: str
      sample: CORP.EXAMPLE.COM
    stage:
      description: The directory's stage.
      type: str
      sample: Active
    stage_reason:
      description: Why the directory is in its stage, when AWS says.
      type: str
    dns_ip_addrs:
      description: The domain controllers' addresses (DNS servers and KDCs).
      type: list
      elements: str
      sample: ["10.0.1.10", "10.0.2.10"]
    security_group_id:
      description: The security group AWS made for the domain controllers.
      type: str
      sample: sg-0123456789abcdef0
    vpc_id:
      description: The VPC.
      type: str
    subnet_ids:
      description: The subnets.
      type: list
      elements: str
    edition:
      description: The edition.
      type: str
    data_access:
      description: The directory data access status (C(Enabled), C(Disabled) ...), when O(data_access) is given.
      type: str
      sample: Enabled
    type:
      description: The directory type (C(MicrosoftAD)).
      type: str
    tags:
      description: The directory's tags.
      type: dict
claim:
  description: The claim under which the directory was created or adopted (O(claim=true), when no directory was found).
  returned: when this run claimed the creation or waited on another run's claim
  type: dict
  contains:
    parameter:
      description: The SSM parameter of the claim.
      type: str
      sample: /aurora-kerberos/claims/directory/vpc-0123456789abcdef0/corp.example.com/1
    owner:
      description: The run that holds the claim (host, process and a random id).
      type: str
    directory_id:
      description: The directory the claim names.
      type: str
    age_seconds:
      description: How old the claim was when read.
      type: int
    outcome:
      description: V(created), V(created after a stale claim), or V(adopted) (another run created it).
      type: str
members:
  description: Clusters that were members of the directory when it was deleted (O(state=absent)).
  returned: when state is absent
  type: list
  elements: str
blocked_by:
  description: What stopped the deletion (O(state=absent)), as far as this account and Region can see.
  returned: when a deletion is refused
  type: dict
  contains:
    clusters:
      description: DB clusters in the domain.
      type: list
      elements: str
    instances:
      description: DB instances (any engine) in the domain, other than those of the listed clusters.
      type: list
      elements: str
    shared_with:
      description: Accounts the directory is shared with.
      type: list
      elements: str
    replica_regions:
      description: Regions the directory is replicated to.
      type: list
      elements: str
"""

try:
    import botocore  # noqa: F401
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_subnets
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.aurora.kerberos.plugins.module_utils import claims
from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils import ds_data
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


# The tag a directory created under a claim carries: the claim's owner, so a directory tells which run made it.
CLAIM_TAG = "aurora.kerberos:claim"


def validate(module):
    p = module.params
    problems = []
    if p["wait_timeout"] <= 0:
        problems.append(f"wait_timeout must be a positive number of seconds (got {p['wait_timeout']})")
    if p["poll_interval"] <= 0:
        problems.append(f"poll_interval must be a positive number of seconds (got {p['poll_interval']})")
    if p["claim_timeout"] <= 0:
        problems.append(f"claim_timeout must be a positive number of seconds (got {p['claim_timeout']})")
    problems += ds.directory_input_problems(name=p["name"], short_name=p["short_name"], password=p["password"],
                                            vpc_id=p["vpc_id"], subnet_ids=p["subnet_ids"],
                                            directory_id=p["directory_id"], edition=p["edition"])
    if problems:
        module.fail_json(msg="; ".join(problems))


def find(module, client):
    p = module.params
    if p["directory_id"]:
        return ds.get_directory(client, p["directory_id"])
    found = ds.find_directories(client, p["name"], p["vpc_id"])
    if len(found) > 1:
        ids = ", ".join(d["DirectoryId"] for d in found)
        module.fail_json(msg=f"{len(found)} directories are named {p['name']} ({ids}): give directory_id (or vpc_id) "
                             "to say which one")
    return found[0] if found else None


def check_subnets(module):
    """Refuse subnets that are not two Availability Zones of vpc_id, before any write (CreateMicrosoftAD would refuse
    them too, but only after the call). Each message names the option as the caller calls it (variable_names)."""
    p = module.params
    subnet_ids, vpc_id = (p["variable_names"].get(option, option) for option in ("subnet_ids", "vpc_id"))
    try:
        # amazon.aws's helper: paginated, retried, and [] when a subnet id does not exist.
        subnets = describe_subnets(module.client("ec2"), SubnetIds=p["subnet_ids"])
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    found = ", ".join(f"{s['SubnetId']} in {s['AvailabilityZone']}" for s in subnets) or "none"
    if len(subnets) < len(p["subnet_ids"]):
        module.fail_json(msg=f"{subnet_ids} {p['subnet_ids']} must be two existing subnets of {vpc_id} {p['vpc_id']}: a "
                             f"subnet does not exist in this account and Region (found {found}): give one subnet from "
                             "each of two zones")
    outside = [s["SubnetId"] for s in subnets if s["VpcId"] != p["vpc_id"]]
    if outside:
        module.fail_json(msg=f"{subnet_ids} {outside} are not in {vpc_id} {p['vpc_id']}: give two subnets of that VPC")
    zones = {s["AvailabilityZone"] for s in subnets}
    if len(zones) < 2:
        module.fail_json(msg=f"{subnet_ids} {p['subnet_ids']} are all in {', '.join(sorted(zones))}: a directory needs "
                             "two subnets in two different Availability Zones: give one subnet from each of two zones")


def needs_security_group(directory):
    """An owner's directory being created that has not published its domain controllers' security group yet."""
    return (directory.get("Type") == "MicrosoftAD" and directory.get("Stage") in ds.STAGES_IN_PROGRESS
            and not (directory.get("VpcSettings") or {}).get("SecurityGroupId"))


def apply_data_access(module, client, directory, result):
    """Directory data access as data_access asks, on an Active directory; its status goes into result.
    Returns whether it changed (or, in check mode, would)."""
    if module.params["data_access"] is None or directory["Stage"] != "Active":
        return False
    changed = ds_data.set_data_access(client, directory["DirectoryId"], module.params["data_access"], module.check_mode,
                                      module.params["wait_timeout"], module.params["poll_interval"])
    result["data_access"] = ds_data.describe_data_access(client, directory["DirectoryId"])
    return changed


def _is_member(resource, directory_id):
    return any(m.get("Domain") == directory_id and m.get("Status") != "removed"
               for m in resource.get("DomainMemberships") or [])


@jittered_backoff()
def member_clusters(rds, directory_id):
    clusters = rds.get_paginator("describe_db_clusters").paginate().build_full_result()["DBClusters"]
    return [c["DBClusterIdentifier"] for c in clusters if _is_member(c, directory_id)]


@jittered_backoff()
def member_instances(rds, directory_id, clusters=()):
    """DB instances of any engine in the domain, but not those of a member cluster (they leave with it)."""
    instances = rds.get_paginator("describe_db_instances").paginate().build_full_result()["DBInstances"]
    return [i["DBInstanceIdentifier"] for i in instances
            if _is_member(i, directory_id) and i.get("DBClusterIdentifier") not in clusters]


def authorized_uses(client, rds, directory_id):
    """Every use of the directory that blocks DeleteDirectory and that this account and Region can read
    (AWS_FACTS.md section 1): Aurora and RDS members of any engine, live shares, Region replicas."""
    clusters = member_clusters(rds, directory_id)
    shares = ds.describe_shared_directories(client, directory_id)
    return {
        "clusters": clusters,
        "instances": member_instances(rds, directory_id, clusters),
        "shared_with": sorted(s["SharedAccountId"] for s in shares
                              if s.get("ShareStatus") not in ds.SHARE_STATUSES_ENDED + ds.SHARE_STATUSES_ENDING),
        "replica_regions": ds.replica_regions(client, directory_id),
    }


def blocking_text(directory_id, uses, force):
    """What blocks the deletion, each with its fix; force only takes on DB members."""
    parts, fixes = [], []
    if uses["clusters"] or uses["instances"]:
        if uses["clusters"]:
            parts.append(f"DB clusters in the domain: {', '.join(uses['clusters'])}")
        if uses["instances"]:
            parts.append(f"DB instances in the domain: {', '.join(uses['instances'])}")
        if not force:
            fixes.append("take them out of the domain (the cluster role with cluster_state=absent, ModifyDBCluster "
                         "Domain=none or ModifyDBInstance DisableDomain=true), or set force=true (directory_force in "
                         "the directory role) to let this module do it")
    if uses["shared_with"]:
        parts.append(f"shared with accounts {', '.join(uses['shared_with'])}")
        fixes.append("unshare it (UnshareDirectory, or the directory role with directory_share and "
                     "directory_state=absent) once the consumers no longer use it")
    if uses["replica_regions"]:
        parts.append(f"replicated to Regions {', '.join(uses['replica_regions'])}")
        fixes.append("remove the replicas (RemoveRegion, in each Region) after their own applications are gone")
    return (f"Directory {directory_id} still has authorized applications, and AWS refuses DeleteDirectory until "
            f"they are gone: {'; '.join(parts)}. Fix: {'; '.join(fixes)}.")


def explain_refused_deletion(module, directory_id, uses):
    """AWS's "still has authorized applications" although nothing this module can read uses the directory."""
    module.fail_json(
        msg=f"AWS refused to delete directory {directory_id}: {ds.AUTHORIZED_APPLICATIONS} No DB cluster or instance "
            "of this account and Region is in the domain, and it is neither shared nor replicated, so either "
            "a removal is still settling (AWS can take 30 to 60 minutes to see that an application left) or "
            "another AWS service uses it (WorkSpaces, FSx for Windows File Server, Amazon Connect, QuickSight, "
            "IAM Identity Center, Transfer Family, RDS in a Region the directory is shared into, ...). The "
            "Directory Service console lists them under the directory's application management: remove them "
            "there, wait, and run again.",
        blocked_by=uses)


def ensure_present(module, client):
    p = module.params
    directory = find(module, client)
    if directory is None:
        missing = [k for k in ("name", "password", "vpc_id", "subnet_ids") if not p[k]]
        if missing:
            module.fail_json(msg=f"To create the directory, give {', '.join(missing)}")
    if p["subnet_ids"] and p["vpc_id"]:
        check_subnets(module)
    if directory is None:
        if module.check_mode:
            module.exit_json(changed=True, directory={}, diff={"before": {}, "after": {"name": p["name"]}})
        if p["claim"]:
            directory_id, adopted, claim = create_claimed(module, client)
        else:
            directory_id, adopted, claim = create(module, client), None, None
        if adopted is not None:
            # Another run created it while this one waited on its claim: adopted, as a rerun would find it.
            return ensure_existing(module, client, adopted, claim)
        ds.wait_for(client, "directory_active" if p["wait"] else "directory_security_group", directory_id,
                    p["wait_timeout"], p["poll_interval"])
        directory = ds.get_directory(client, directory_id)
        result = ds.normalize(directory, ds.list_tags(client, directory_id))
        apply_data_access(module, client, directory, result)
        module.exit_json(changed=True, directory=result, claim=claim,
                         diff={"before": {}, "after": {"name": p["name"], "directory_id": directory_id}})
    ensure_existing(module, client, directory)


def create(module, client, owner=None):
    p = module.params
    tags = dict(p["tags"] or {}, **(p["tags_on_create"] or {}))
    if owner:
        tags[CLAIM_TAG] = owner
    return ds.create_microsoft_ad(client, False, p["name"], p["password"], p["vpc_id"], p["subnet_ids"],
                                  p["short_name"], p["description"], p["edition"], tags)


def create_claimed(module, client):
    """CreateMicrosoftAD under a claim (module_utils/claims.py), so that runs side by side make one directory.
    Returns (the id of the directory this run created, or None; the directory another run created, to adopt, or
    None; what the claim said)."""
    import time

    p = module.params
    ssm = module.client("ssm", retry_decorator=jittered_backoff())
    path, owner = claims.claim_path(p["vpc_id"], p["name"]), claims.new_owner()
    deadline = time.monotonic() + p["wait_timeout"]
    while True:
        latest = claims.read(ssm, path)
        recorded = ds.get_directory(client, latest.directory_id) if latest.directory_id else None
        if recorded and recorded.get("Stage") not in ds.STAGES_GONE:
            return None, recorded, dict(latest.summary(), outcome="adopted")
        if not latest.exists or latest.directory_id or latest.stale(p["claim_timeout"]):
            if claims.take(ssm, latest, owner, p["name"], p["vpc_id"]):
                generation = latest.generation + 1
                # A run that held an earlier claim may have created the directory just before it stopped.
                found = find(module, client)
                directory_id = found["DirectoryId"] if found else create(module, client, owner)
                claims.record(ssm, path, generation, owner, p["name"], p["vpc_id"], directory_id)
                outcome = "adopted" if found else ("created after a stale claim" if latest.stale(p["claim_timeout"])
                                                   else "created")
                summary = dict(claims.Claim(path, generation).summary(), owner=owner, directory_id=directory_id,
                               outcome=outcome)
                return (None, found, summary) if found else (directory_id, None, summary)
            continue  # another run took this generation first: read what it holds
        # Another run holds a live claim: it is creating the directory. Adopt it once it is there.
        found = find(module, client)
        if found:
            return None, found, dict(latest.summary(), outcome="adopted")
        if time.monotonic() > deadline:
            module.fail_json(
                msg=f"Waited {p['wait_timeout']}s for directory {p['name']} that another run claimed "
                    f"({latest.name}, owner {latest.owner}, {int(latest.age())}s ago) and has not created. If that run "
                    f"died, its claim expires {p['claim_timeout']}s after it was made (directory_claim_timeout) and "
                    "the next run takes the creation over; or delete the parameter.", claim=latest.summary())
        time.sleep(p["poll_interval"])


def ensure_existing(module, client, directory, claim=None):
    p = module.params
    directory_id = directory["DirectoryId"]
    differences = []
    if p["edition"] and directory.get("Edition") and directory["Edition"] != p["edition"]:
        differences.append(f"edition is {directory['Edition']}, not {p['edition']}")
    if p["short_name"] and directory.get("ShortName", "").upper() != p["short_name"].upper():
        differences.append(f"short_name is {directory.get('ShortName')}, not {p['short_name']}")
    if differences:
        module.fail_json(msg=f"Directory {directory_id} exists but AWS cannot change it in place: "
                             f"{'; '.join(differences)}. Fix the variables, or delete and re-create the directory.")
    if directory["Stage"] in ds.STAGES_FAILED:
        module.fail_json(msg=f"Directory {directory_id} is {directory['Stage']}: {directory.get('StageReason') or 'no reason given'}",
                         directory=ds.normalize(directory))

    tags = ds.list_tags(client, directory_id)
    changed = False
    if p["tags"] is not None:
        to_add, to_remove = compare_aws_tags(tags, p["tags"], purge_tags=p["purge_tags"])
        # The claim's tag is this module's own record of the run that created the directory: never purged.
        to_remove = [key for key in to_remove if key != CLAIM_TAG]
        changed = ds.update_tags(client, module.check_mode, directory_id, to_add, to_remove)
        if changed and not module.check_mode:
            tags = ds.list_tags(client, directory_id)
    if p["wait"] and directory["Stage"] != "Active" and not module.check_mode:
        ds.wait_for(client, "directory_active", directory_id, p["wait_timeout"], p["poll_interval"])
        directory = ds.get_directory(client, directory_id)
    elif needs_security_group(directory) and not module.check_mode:
        ds.wait_for(client, "directory_security_group", directory_id, p["wait_timeout"], p["poll_interval"])
        directory = ds.get_directory(client, directory_id)
    result = ds.normalize(directory, tags)
    changed |= apply_data_access(module, client, directory, result)
    if claim is not None:
        module.exit_json(changed=changed, directory=result, claim=claim)
    module.exit_json(changed=changed, directory=result)


def ensure_absent(module, client):
    p = module.params
    directory = find(module, client)
    if directory is None or directory.get("Stage") == "Deleted":
        module.exit_json(changed=False, directory={}, members=[])
    directory_id = directory["DirectoryId"]
    rds = module.client("rds")
    uses = authorized_uses(client, rds, directory_id)
    members = uses["clusters"]
    db_members = uses["clusters"] + uses["instances"]
    if (db_members and not p["force"]) or uses["shared_with"] or uses["replica_regions"]:
        module.fail_json(msg=blocking_text(directory_id, uses, p["force"]), members=members, blocked_by=uses)
    if not module.check_mode and db_members:
        take_members_out(module, rds, directory_id, uses)
    try:
        ds.delete_directory(client, module.check_mode, directory_id)
    except ds.AnsibleDSError as e:
        if ds.is_authorized_applications_error(e):
            explain_refused_deletion(module, directory_id, uses)
        raise
    if p["wait"] and not module.check_mode:
        ds.wait_for(client, "directory_deleted", directory_id, p["wait_timeout"], p["poll_interval"])
    if p["claim"] and not module.check_mode:
        # The claims that marked its creation go with it (module_utils/claims.py).
        vpc_id = (directory.get("VpcSettings") or {}).get("VpcId")
        if vpc_id and directory.get("Name"):
            claims.delete_all(module.client("ssm", retry_decorator=jittered_backoff()),
                              claims.claim_path(vpc_id, directory["Name"]))
    module.exit_json(changed=True, directory={}, members=members,
                     diff={"before": {"name": directory.get("Name"), "directory_id": directory_id}, "after": {}})


def take_members_out(module, rds, directory_id, uses):
    """force: every member leaves the domain at once (rds_domain's calls, as domain_membership's leave), then the
    run waits for each within one wait_timeout."""
    import time

    for cluster in uses["clusters"]:
        rds_domain.modify_domain(rds, cluster, "none")
    for instance in uses["instances"]:
        rds_domain.modify_instance_domain(rds, instance, "none")
    deadline = time.monotonic() + module.params["wait_timeout"]
    members = [(cluster, False) for cluster in uses["clusters"]] + [(instance, True) for instance in uses["instances"]]
    for member, instance in members:
        outcome = rds_domain.wait_for_leave(rds, member, max(1, deadline - time.monotonic()),
                                            module.params["poll_interval"], instance=instance)
        if outcome != rds_domain.DONE:
            module.fail_json(msg=f"Timed out after {module.params['wait_timeout']}s waiting for {member} to leave "
                                 f"directory {directory_id}: raise wait_timeout, or check its DomainMemberships")


def main():
    argument_spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        name=dict(type="str"),
        directory_id=dict(type="str"),
        short_name=dict(type="str"),
        password=dict(type="str", no_log=True),
        edition=dict(type="str"),  # checked in validate(), to explain Hybrid
        vpc_id=dict(type="str"),
        subnet_ids=dict(type="list", elements="str"),
        description=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        tags_on_create=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        data_access=dict(type="bool"),
        force=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=3600),
        poll_interval=dict(type="int", default=15),
        claim=dict(type="bool", default=True),
        claim_timeout=dict(type="int", default=claims.DEFAULT_TIMEOUT),
        variable_names=dict(type="dict", default={}),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_one_of=[("name", "directory_id")])
    validate(module)
    client = module.client("ds", retry_decorator=jittered_backoff())
    try:
        if module.params["state"] == "present":
            ensure_present(module, client)
        else:
            ensure_absent(module, client)
    except ds.AnsibleDSError as e:
        ds.fail(module, e)
    except (rds_domain.AnsibleRDSDomainError, claims.AnsibleClaimError) as e:
        module.fail_json_aws_error(e)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to read or change the directory's member clusters")


if __name__ == "__main__":
    main()
