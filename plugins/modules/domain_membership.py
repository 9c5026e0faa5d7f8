#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: domain_membership
short_description: Join an Aurora cluster or an RDS for PostgreSQL instance to AWS Managed Microsoft AD and wait for Kerberos
version_added: 0.1.0
description:
  - Joins an Aurora DB cluster to a directory (C(ModifyDBCluster Domain, DomainIAMRoleName, ApplyImmediately)), or takes
    it out of its domain (C(Domain=none)), and waits until the cluster B(and every one of its instances) shows
    C(kerberos-enabled) for that directory, or until the membership is gone.
  - The change is sent only when the membership differs from the one asked for; a cluster already joined, or still
    joining, to the directory with the role is left alone (and waited for).
  - Both the Kerberos statuses (C(kerberos-enabled), C(pending-enable-kerberos), C(enabling-kerberos),
    C(pending-maintenance-enable-kerberos), C(pending-disable-kerberos), C(disabling-kerberos),
    C(pending-maintenance-disable-kerberos), C(enable-kerberos-failed)) and the SQL Server style ones (C(joined),
    C(pending-join), C(failed), C(removed)) are understood; C(joined) counts as done and C(failed) as failed.
  - When a join ends C(enable-kerberos-failed), the module diagnoses it with the same checks as
    M(aurora.kerberos.kerberos_preflight) (directory, IAM role, STS, security groups, VPCs), then, with
    O(retry_failed_join=true), modifies the cluster again with the same directory id, which is how AWS retries a failed
    join. If the join fails again, the task fails with the likely cause and its fix, from the findings and the
    cluster's recent RDS events.
  - A cluster whose join failed before the module ran is joined again, as a change.
  - Works on any Aurora cluster, including one that M(amazon.aws.rds_cluster) created without a domain.
    Unlike M(amazon.aws.rds_cluster), O(state=absent) on a cluster that is in no domain is not a change.
  - With O(db_instance_id) instead of O(cluster_id) it does the same for a DB instance outside any cluster (RDS for
    PostgreSQL), which holds its own membership - join with C(ModifyDBInstance Domain, DomainIAMRoleName), leave with
    C(ModifyDBInstance DisableDomain), the wait on the instance's C(DomainMemberships), and the same diagnosis (the
    instance's RDS events) and retry.
  - An instance of an Aurora cluster is refused (the cluster holds the membership - give O(cluster_id)). A Multi-AZ DB
    cluster (the non-Aurora kind) and its instances are refused, because Multi-AZ DB clusters do not support Kerberos
    authentication (Amazon RDS User Guide, "Limitations of Multi-AZ DB clusters for Amazon RDS").
author:
  - aurora.kerberos contributors (!UNKNOWN)
options:
  cluster_id:
    description:
      - The DB cluster identifier. The cluster's instances are found automatically.
      - Exactly one of O(cluster_id) and O(db_instance_id) is required.
    type: str
    aliases: [db_cluster_identifier]
  db_instance_id:
    description:
      - The identifier of a DB instance outside any cluster (RDS for PostgreSQL), whose own membership is changed
        (C(ModifyDBInstance)) and waited for.
      - Exactly one of O(cluster_id) and O(db_instance_id) is required.
    type: str
    aliases: [db_instance_identifier]
    version_added: 0.2.0
  directory_id:
    description:
      - The directory id (V(d-) and 10 hex digits) of an AWS Managed Microsoft AD in the same Region.
      - In an account the directory is shared with, the id that account sees (the shared directory id), not the owner's.
      - Required with O(state=present). With O(state=absent), when given, the cluster leaves only this directory; a
        cluster in another directory is left alone.
    type: str
    aliases: [domain]
  iam_role_name:
    description:
      - The name (not the ARN) of the IAM role RDS uses to reach the directory. It needs the managed policy
        C(AmazonRDSDirectoryServiceAccess) of its partition and the trust principals the Region needs -
        C(directoryservice.rds.amazonaws.com) and C(rds.amazonaws.com), plus the regionalized ones in opt-in Regions
        and the engine-specific one from ca-west-1 on (M(aurora.kerberos.region_info) lists them).
      - Required with O(state=present).
    type: str
    aliases: [domain_iam_role_name]
  state:
    description: V(present) joins the cluster to O(directory_id); V(absent) takes it out of its domain.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until the cluster and every instance are C(kerberos-enabled) (present), or until no membership is left
        (absent). Without it the module returns once AWS has accepted the change, and a failed join is not retried.
      - Before a join it first waits, also with V(false), for what RDS needs first - a directory still being created
        (C(Requested), C(Creating), C(Created); also C(Updating), C(Restoring)) until it is C(Active), a cluster still being created until it is
        available, a cluster still leaving another domain until it has left - so a playbook can create them and leave
        the join to this module, and with V(false) the join goes out the moment RDS can take it; a directory that ends
        C(Failed) or C(Impaired) fails the task with its C(StageReason) before any change.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each join attempt (the retry gets the same again), for the cluster to leave, and for a
        directory still being created to become C(Active) (AWS takes 20 to 45 minutes to create one).
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between status reads while waiting (a join takes minutes on AWS).
    type: int
    default: 15
  apply_immediately:
    description:
      - Sent as C(ApplyImmediately) with the join and with the leave (C(Domain=none)).
      - V(true) asks RDS to apply the change now.
      - V(false) lets RDS hold it for the cluster's maintenance window; the membership then reads
        C(pending-maintenance-enable-kerberos) (or C(pending-maintenance-disable-kerberos)) until the window. The wait
        takes that status as "accepted, waiting for the window" and returns at once with RV(deferred) and a message
        naming the window, instead of waiting until the window has passed. Kerberos logins work only once RDS has
        applied the join; until it applies a leave, they keep working. A later run with V(true) waits for it.
    type: bool
    default: true
  iam_role_propagation_timeout:
    description:
      - IAM is eventually consistent. RDS refuses a role created moments ago with C(InvalidParameterCombination)
        "IAM role provided is not valid" until the role has propagated. The join retries that refusal, every
        O(poll_interval) seconds, until this many seconds after the role's creation (IAM C(GetRole) C(CreateDate); from
        now when the role cannot be read), then fails naming the cause. A role older than that is not retried.
      - V(0) never retries.
    type: int
    default: 60
  retry_failed_join:
    description:
      - When a join ends C(enable-kerberos-failed) (or C(failed)) while the module waits, diagnose it and try once more
        with the same directory id before failing.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    description: Check mode reads the cluster and reports the change it would make, without making it or waiting.
    support: full
  diff_mode:
    description: The membership (domain, status, IAM role) before and after.
    support: full
  platform:
    platforms: all
notes:
  - With O(apply_immediately=true), if AWS still puts the change off to the maintenance window
    (C(pending-maintenance-enable-kerberos)), the wait ends only after that window or at O(wait_timeout).
  - Some AWS documentation asks for a reboot of the instances after Kerberos is enabled; this module does not reboot.
  - The diagnosis of a failed join reads Directory Service, IAM, STS and EC2 (security groups, peerings, route
    tables); a check whose read is denied becomes a warning instead of hiding the others.
  - When RDS refuses the role, the module reads the role's creation date (C(iam:GetRole)) to decide whether the
    refusal can be IAM's propagation delay.
seealso:
  - module: aurora.kerberos.kerberos_preflight
  - module: aurora.kerberos.directory
  - module: amazon.aws.rds_cluster
"""

EXAMPLES = r"""
- name: Join the cluster to the directory and wait until Kerberos is enabled
  aurora.kerberos.domain_membership:
    cluster_id: orders
    directory_id: d-1234567890
    iam_role_name: rds-directory-access
  register: membership

- name: Show the realm the cluster joined
  ansible.builtin.debug:
    msg: "{{ membership.membership.fqdn }} ({{ membership.membership.status }})"

- name: Take the cluster out of its domain
  aurora.kerberos.domain_membership:
    cluster_id: orders
    state: absent

- name: Join in the next maintenance window (returns once RDS has accepted it)
  aurora.kerberos.domain_membership:
    cluster_id: orders
    directory_id: d-1234567890
    iam_role_name: rds-directory-access
    apply_immediately: false

- name: Join an RDS for PostgreSQL DB instance (outside any cluster) to the directory
  aurora.kerberos.domain_membership:
    db_instance_id: orders-pg
    directory_id: d-1234567890
    iam_role_name: rds-directory-access

- name: Take the DB instance out of its domain (ModifyDBInstance DisableDomain)
  aurora.kerberos.domain_membership:
    db_instance_id: orders-pg
    state: absent

- name: Ask for the join and do not wait (a later run waits for it)
  aurora.kerberos.domain_membership:
    cluster_id: orders
    directory_id: d-1234567890
    iam_role_name: rds-directory-access
    wait: false
"""

RETURN = r"""
membership:
  description:
    - The cluster's (or DB instance's) domain membership after the module ran (in check mode, as it is now); empty
      when there is none.
  returned: always
  type: dict
  contains:
    domain:
      description: The directory id.
      type: str
      sample: d-1234567890
    status:
      description: The cluster's membership status.
      type: str
      sample: kerberos-enabled
    fqdn:
      description: The directory's fully qualified domain name.
      type: str
      sample: corp.example.com
    iam_role_name:
      description: The IAM role RDS uses for the directory.
      type: str
      sample: rds-directory-access
    ou:
      description: The organizational unit, when AWS reports one.
      type: str
    dns_ips:
      description: The directory's DNS servers, when AWS reports them.
      type: list
      elements: str
    instances:
      description:
        - Each instance of the cluster and its status in the domain (null when it has no membership there).
        - Empty with O(db_instance_id) (the instance's own status is RV(membership.status)).
      type: list
      elements: dict
      contains:
        id:
          description: The DB instance identifier.
          type: str
          sample: orders-1
        status:
          description: The instance's membership status.
          type: str
          sample: kerberos-enabled
findings:
  description:
    - The diagnosis of a failed join, one finding per check (see M(aurora.kerberos.kerberos_preflight)).
  returned: when a join failed and was diagnosed
  type: list
  elements: dict
  contains:
    check:
      description: What was checked.
      type: str
      sample: iam_role_trust
    status:
      description: V(ok), V(warn) or V(fail).
      type: str
      sample: fail
    message:
      description: What was found.
      type: str
    fix:
      description: How to fix it (empty when there is nothing to fix).
      type: str
events:
  description: The cluster's (or DB instance's) recent RDS event messages, oldest first.
  returned: when a join failed and was diagnosed
  type: list
  elements: str
retried:
  description: Whether a failed join was retried during this run.
  returned: when state is present
  type: bool
deferred:
  description:
    - Whether RDS holds the change for the cluster's maintenance window (O(apply_immediately=false) and a
      C(pending-maintenance-*) status). RV(msg) then says which window and what it means.
  returned: when a change was sent or waited for (not in check mode)
  type: bool
  sample: false
msg:
  description: What a deferred change means and when it applies.
  returned: when RV(deferred) is true
  type: str
cluster:
  description:
    - The DB cluster (or, with O(db_instance_id), the DB instance) as this module read it last, after its change and
      its wait, in the keys of M(amazon.aws.rds_cluster_info) (M(amazon.aws.rds_instance_info)), its C(tags) a dict
      (as M(aurora.kerberos.cluster_info) returns it). The cluster role publishes it instead of reading the cluster
      again.
  returned: when the cluster or DB instance exists
  type: dict
  sample: {"db_cluster_identifier": "orders", "endpoint": "orders.cluster-abc.eu-west-1.rds.amazonaws.com", "port": 5432}
"""

import datetime
import time

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import is_ansible_aws_error_code
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_iam_role

from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils import preflight
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule as AnsibleAWSModule
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

RECENT_EVENTS = 8
# What ModifyDBCluster answers at once for a directory or role it will not use (AWS_FACTS.md section 3).
REFUSALS = ("InvalidParameterCombination", "InvalidParameterValue", "DomainNotFoundFault")


def target_id(p):
    """The DB cluster identifier, or the DB instance identifier with db_instance_id."""
    return p["db_instance_id"] or p["cluster_id"]


def on_instance(p):
    return bool(p["db_instance_id"])


def noun(p):
    return "DB instance" if on_instance(p) else "Cluster"


def validate(module):
    p = module.params
    problems = rds_domain.input_problems(cluster_id=p["cluster_id"], directory_id=p["directory_id"],
                                         iam_role_name=p["iam_role_name"], wait_timeout=p["wait_timeout"],
                                         db_instance_id=p["db_instance_id"])
    if p["poll_interval"] <= 0:
        problems.append(f"poll_interval must be a positive number of seconds (got {p['poll_interval']})")
    if p["iam_role_propagation_timeout"] < 0:
        problems.append("iam_role_propagation_timeout must be 0 (no retry) or a positive number of seconds "
                        f"(got {p['iam_role_propagation_timeout']})")
    if problems:
        module.fail_json(msg="; ".join(problems))


def read(rds, cluster_id, instance=False):
    """(cluster, its instances); with instance, (the DB instance, []): a DB instance outside a cluster holds its
    own membership, and the functions below take it where they take a cluster."""
    if instance:
        return rds_domain.get_instance(rds, cluster_id), []
    cluster = rds_domain.get_cluster(rds, cluster_id)
    instances = rds_domain.get_cluster_instances(rds, cluster_id) if cluster else []
    return cluster, instances


def needs_join(membership, directory_id, iam_role_name):
    """Whether ModifyDBCluster must be sent to get the cluster joined to directory_id with this role."""
    if not membership or membership.get("Domain") != directory_id:
        return True
    status = membership.get("Status")
    if status in rds_domain.STATUSES_FAILED + rds_domain.STATUSES_LEAVING:
        return True
    role = membership.get("IAMRoleName")
    return bool(role) and role.lower() != iam_role_name.lower()


def diagnose(module, rds, cluster, instances, directory_id, iam_role_name, started):
    """Preflight findings for the cluster as it is, and its RDS event messages: those since this run
    started when there are any (else the last hour's), oldest first, each once."""
    target = preflight.target_from_cluster(rds, cluster, instances or [cluster])
    if "DBInstanceIdentifier" in cluster:  # a DB instance: its port is its endpoint's
        target["port"] = (cluster.get("Endpoint") or {}).get("Port") or cluster.get("DbInstancePort") or target["port"]
    findings = preflight.run_checks(preflight.module_clients(module), module.region, directory_id, iam_role_name,
                                    target)
    minutes = int((utcnow() - started).total_seconds() // 60) + 60
    try:
        source_type = "db-instance" if "DBInstanceIdentifier" in cluster else "db-cluster"
        events = rds_domain.describe_cluster_events(rds, rds_domain.resource_id(cluster), minutes, source_type)
    except AnsibleAWSError as e:
        return findings, [f"(the {source_type[3:]}'s events could not be read: {e})"]
    since = started - datetime.timedelta(minutes=2)  # clock skew between here and AWS
    recent = [e for e in events if e.get("Date") and e["Date"] >= since]
    messages = []
    for event in sorted(recent or events, key=lambda e: str(e.get("Date") or "")):
        if event.get("Message") and event["Message"] not in messages:
            messages.append(event["Message"])
    return findings, messages[-RECENT_EVENTS:]


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def failure_message(cluster_id, directory_id, failed, findings, events, retried, kind="Cluster"):
    statuses = ", ".join(f"{name} is {status}" for name, status in failed.items())
    msg = f"{kind} {cluster_id} could not join directory {directory_id} ({statuses})"
    msg += ", also after one retry. " if retried else ". "
    causes = preflight.summary(findings)
    if causes:
        msg += f"Likely cause: {causes}"
    else:
        warnings = preflight.summary(findings, (preflight.WARN,))
        msg += "The preflight checks found nothing failing" + (f" (warnings: {warnings})" if warnings else "") + "."
    if events:
        msg += f" RDS events: {' | '.join(events[-3:])}"
    if not causes:
        msg += (f" Fix what the events name (network path between the {kind.lower()} and the domain controllers, the IAM "
                "role), then run again: the same directory id retries the join.")
    return msg


def timeout_message(cluster, instances, directory_id, timeout, joining=True):
    cluster_id = rds_domain.resource_id(cluster)
    kind = "DB instance" if "DBInstanceIdentifier" in cluster else "cluster"
    membership = rds_domain.active_membership(cluster) or {}
    status = membership.get("Status") or "no membership"
    instance_statuses = ", ".join(f"{i['DBInstanceIdentifier']} {rds_domain.membership_status(i, membership.get('Domain')) or 'none'}"
                                  for i in instances)
    goal = f"join directory {directory_id}" if joining else "leave its domain"
    msg = f"Timed out after {timeout}s waiting for {kind} {cluster_id} to {goal}: the {kind} is {status}"
    if instance_statuses:
        msg += f", instances: {instance_statuses}"
    msg += "."
    if status in rds_domain.STATUSES_MAINTENANCE:
        msg += (f" The change waits for the maintenance window ({cluster.get('PreferredMaintenanceWindow', 'unknown')}):"
                " run again after it, or with apply_immediately false, which accepts a change held for the window"
                " and returns.")
    else:
        msg += " Run again (it waits for the change already under way), or raise wait_timeout."
    return msg


def deferred_message(cluster, directory_id, joining=True):
    """apply_immediately false and RDS holds the change for the maintenance window: say what that means."""
    window = cluster.get("PreferredMaintenanceWindow") or "unknown"
    change = f"the join to directory {directory_id}" if joining else "leaving its domain"
    status = "pending-maintenance-enable-kerberos" if joining else "pending-maintenance-disable-kerberos"
    after = ("Kerberos logins work only once RDS has applied it in that window" if joining
             else "Kerberos logins keep working until RDS applies it in that window")
    kind = "DB instance" if "DBInstanceIdentifier" in cluster else "Cluster"
    return (f"{kind} {rds_domain.resource_id(cluster)} accepted {change} and holds it for its maintenance window "
            f"({window}, UTC): the membership is {status} (apply_immediately false). {after}. Run again after the "
            "window to wait for the result, or with apply_immediately true to apply it now.")


def role_age(module, role):
    """Seconds since the IAM role was created (IAM GetRole); None when it cannot be read, -1 when it does not exist."""
    try:
        found = get_iam_role(module.client("iam", retry_decorator=jittered_backoff()), role)
    except AnsibleAWSError:
        return None
    if found is None:
        return -1
    created = found.get("CreateDate")
    if isinstance(created, str):
        created = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    if not isinstance(created, datetime.datetime):
        return None
    return max(0.0, (utcnow() - created.astimezone(datetime.timezone.utc)).total_seconds())


def send_join(module, rds, age):
    """ModifyDBCluster. IAM is eventually consistent (AWS_FACTS.md section 3): RDS refuses a role created moments
    ago as "IAM role provided is not valid". That refusal is retried until iam_role_propagation_timeout seconds after
    the role's creation (from now when its age cannot be read), then raised. age: a one-item list, read once."""
    p = module.params
    deadline = None
    while True:
        try:
            modify_domain = rds_domain.modify_instance_domain if on_instance(p) else rds_domain.modify_domain
            return modify_domain(rds, target_id(p), p["directory_id"], p["iam_role_name"], p["apply_immediately"])
        except is_ansible_aws_error_code("InvalidParameterCombination") as e:
            if not rds_domain.is_invalid_role(e.exception):
                raise
            if deadline is None:
                age.append(role_age(module, p["iam_role_name"]))
                left = p["iam_role_propagation_timeout"] - (age[0] or 0)
                deadline = time.monotonic() + (left if age[0] != -1 else 0)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            time.sleep(min(p["poll_interval"], remaining))


def propagation_note(module, age):
    """Why "IAM role provided is not valid" may only mean that IAM has not propagated the role yet."""
    p = module.params
    if not age or age[0] is None or age[0] < 0:
        return ""
    if age[0] > p["iam_role_propagation_timeout"] + 300:
        return ""
    waited = (f"retried for iam_role_propagation_timeout ({p['iam_role_propagation_timeout']}s)"
              if p["iam_role_propagation_timeout"] else "not retried (iam_role_propagation_timeout 0)")
    return (f" The IAM role {p['iam_role_name']} was created {int(age[0])}s ago: IAM is eventually consistent and RDS "
            f"may not see a new role yet; the refusal was {waited}. Raise iam_role_propagation_timeout "
            "(cluster_iam_role_propagation_timeout in the cluster role), or run again in a minute.")


def modify(module, rds, cluster, instances, membership, started):
    """Send the join; when AWS refuses it at once (unknown directory, invalid role), diagnose before failing."""
    p = module.params
    cluster_id, directory_id, role = target_id(p), p["directory_id"], p["iam_role_name"]
    age = []
    try:
        send_join(module, rds, age)
    except is_ansible_aws_error_code(REFUSALS) as e:
        findings, events = diagnose(module, rds, cluster, instances, directory_id, role, started)
        error = e.exception.response["Error"]
        causes = preflight.summary(findings)
        module.fail_json(msg=f"AWS refused to join {noun(p).lower()} {cluster_id} to directory {directory_id}: {error.get('Code')}: "
                             f"{(error.get('Message') or '').rstrip('.')}." + (f" Likely cause: {causes}" if causes else "")
                             + (propagation_note(module, age) if rds_domain.is_invalid_role(e.exception) else ""),
                         membership=rds_domain.normalize(cluster, instances), findings=findings, events=events,
                         retried=False)
    wait = p["wait"]
    if wait and membership and membership.get("Domain") == directory_id \
            and membership.get("Status") in rds_domain.STATUSES_FAILED:
        # Right after the retry the old failed status may still be read back: let it move on first.
        rds_domain.wait_for_retry_accepted(rds, cluster_id, directory_id, instance=on_instance(p))


def wait_for_directory(module, cluster, instances):
    """A directory not Active yet (being created, updated or restored: ds.STAGES_IN_PROGRESS) is waited for until it
    is: the RDS API says of ModifyDBCluster's Domain "The domain must be created prior to this operation", and the
    Kerberos set-up guide has the user wait until the directory's status is Active; what RDS answers for a directory
    that is not is undocumented [inferred: InvalidParameterCombination, lab/README.md], so the safer course is to
    wait. The chain can then create the cluster while AWS builds the directory and join the moment it is ready. An
    unknown directory is left to ModifyDBCluster, whose DomainNotFoundFault is diagnosed; a failed one ends here with
    its StageReason."""
    p = module.params
    client = module.client("ds", retry_decorator=jittered_backoff())
    directory = ds.get_directory(client, p["directory_id"])
    if not directory or directory.get("Stage") not in ds.STAGES_IN_PROGRESS + ds.STAGES_FAILED:
        return
    try:
        if directory.get("Stage") in ds.STAGES_FAILED:
            raise ds.AnsibleDSError(f"Directory {p['directory_id']} is {directory['Stage']}: "
                                    f"{directory.get('StageReason') or 'AWS gave no reason'}")
        ds.wait_for(client, "directory_active", p["directory_id"], p["wait_timeout"], p["poll_interval"])
    except ds.AnsibleDSError as e:
        module.fail_json(msg=f"{noun(p)} {target_id(p)} was not joined: {e.message} (the directory must be Active "
                             "before RDS accepts a join; nothing was changed)",
                         membership=rds_domain.normalize(cluster, instances))


def join(module, rds, cluster, instances):
    """Returns (changed, retried, findings, events, deferred)."""
    p = module.params
    cluster_id, directory_id, role = target_id(p), p["directory_id"], p["iam_role_name"]
    instance = on_instance(p)
    membership = rds_domain.active_membership(cluster)
    changed = needs_join(membership, directory_id, role)
    if module.check_mode:
        return changed, False, None, None, False
    started = utcnow()
    if changed:
        # What the join needs first is waited for even without wait: RDS refuses the join until then.
        if membership and membership.get("Status") in rds_domain.STATUSES_LEAVING:
            # A cluster still leaving a domain refuses a new one until it has left.
            if rds_domain.wait_for_leave(rds, cluster_id, p["wait_timeout"], p["poll_interval"],
                                         instance=instance) != rds_domain.DONE:
                cluster, instances = read(rds, cluster_id, instance)
                module.fail_json(msg=timeout_message(cluster, instances, directory_id, p["wait_timeout"], False),
                                 membership=rds_domain.normalize(cluster, instances))
        wait_for_directory(module, cluster, instances)
        if not rds_domain.is_available(cluster, instances):
            # Created moments ago (the cluster role creates without waiting): AWS refuses a join until it is available.
            outcome = rds_domain.wait_for_available(rds, cluster_id, p["wait_timeout"], p["poll_interval"],
                                                    instance=instance)
            if outcome != rds_domain.DONE:
                cluster, instances = read(rds, cluster_id, instance)
                statuses = ", ".join(f"{rds_domain.resource_id(r)} "
                                     f"{r.get('Status') or r.get('DBInstanceStatus')}" for r in [cluster, *instances])
                module.fail_json(msg=f"{noun(p)} {cluster_id} did not become available to join ({outcome}): {statuses}. "
                                     "Fix or replace it, or raise wait_timeout, then run again.",
                                 membership=rds_domain.normalize(cluster, instances))
        modify(module, rds, cluster, instances, membership, started)
    if not p["wait"] or (not changed and rds_domain.is_done(cluster, instances, directory_id)):
        return changed, False, None, None, False

    retried, findings, events = False, None, None
    while True:
        outcome = rds_domain.wait_for_join(rds, cluster_id, directory_id, p["wait_timeout"], p["poll_interval"],
                                           deferred_ok=not p["apply_immediately"], instance=instance)
        if outcome in (rds_domain.DONE, rds_domain.DEFERRED):
            return changed, retried, findings, events, outcome == rds_domain.DEFERRED
        cluster, instances = read(rds, cluster_id, instance)
        if outcome == rds_domain.TIMED_OUT:
            module.fail_json(msg=timeout_message(cluster, instances, directory_id, p["wait_timeout"]),
                             membership=rds_domain.normalize(cluster, instances))
        failed = rds_domain.failed_statuses(cluster, instances, directory_id)
        findings, events = diagnose(module, rds, cluster, instances, directory_id, role, started)
        if retried or not p["retry_failed_join"]:
            module.fail_json(msg=failure_message(cluster_id, directory_id, failed, findings, events, retried, noun(p)),
                             membership=rds_domain.normalize(cluster, instances), findings=findings, events=events,
                             retried=retried)
        module.warn(f"{noun(p)} {cluster_id} failed to join directory {directory_id}; "
                    + (f"preflight: {preflight.summary(findings)}; " if preflight.failing(findings) else "")
                    + "retrying once with the same directory id.")
        modify(module, rds, cluster, instances, rds_domain.active_membership(cluster), started)
        retried = changed = True


def refuse_unsupported(module, resource):
    """A DB instance of a cluster, or a Multi-AZ DB cluster: refused before any change."""
    p = module.params
    problem = rds_domain.cluster_member_problem(resource) if on_instance(p) else None
    if problem:
        module.fail_json(msg=problem)
    if not on_instance(p) and not rds_domain.is_aurora(resource):
        module.fail_json(msg=f"Cluster {p['cluster_id']} (cluster_id) is a Multi-AZ DB cluster of engine "
                             f"{resource.get('Engine')}: {rds_domain.MULTI_AZ_NO_KERBEROS}. Use an Aurora PostgreSQL "
                             "cluster, or an RDS for PostgreSQL DB instance (db_instance_id).")


def ensure_present(module, rds):
    p = module.params
    cluster, instances = read(rds, target_id(p), on_instance(p))
    if cluster is None:
        if on_instance(p):
            module.fail_json(msg=f"DB instance {p['db_instance_id']} does not exist (db_instance_id). Create it first "
                                 "(amazon.aws.rds_instance), in the same Region as the directory.")
        module.fail_json(msg=f"DB cluster {p['cluster_id']} does not exist (cluster_id). Create it first "
                             "(amazon.aws.rds_cluster), in the same Region as the directory.")
    refuse_unsupported(module, cluster)
    before = rds_domain.normalize(cluster, instances)
    done_before = rds_domain.is_done(cluster, instances, p["directory_id"])
    changed, retried, findings, events, deferred = join(module, rds, cluster, instances)
    if module.check_mode:
        after = dict(domain=p["directory_id"], status="kerberos-enabled", iam_role_name=p["iam_role_name"]) if changed \
            else rds_domain.diff_view(before)
        module.exit_json(changed=changed, membership=before, retried=False, cluster=rds_domain.described(cluster),
                         diff=dict(before=rds_domain.diff_view(before), after=after))
    if changed or not done_before:  # a converged cluster needs no second read
        cluster, instances = read(rds, target_id(p), on_instance(p))
    after = rds_domain.normalize(cluster, instances)
    result = dict(changed=changed, membership=after, retried=retried, deferred=deferred, cluster=rds_domain.described(cluster),
                  diff=dict(before=rds_domain.diff_view(before), after=rds_domain.diff_view(after)))
    if deferred:
        result["msg"] = deferred_message(cluster, p["directory_id"])
    if findings is not None:
        result.update(findings=findings, events=events)
    module.exit_json(**result)


def ensure_absent(module, rds):
    p = module.params
    cluster, instances = read(rds, target_id(p), on_instance(p))
    if cluster is not None:
        refuse_unsupported(module, cluster)
    membership = rds_domain.active_membership(cluster)
    if not membership:
        module.exit_json(changed=False, membership={}, cluster=rds_domain.described(cluster), diff=dict(before={}, after={}))
    before = rds_domain.normalize(cluster, instances)
    if p["directory_id"] and membership.get("Domain") != p["directory_id"]:
        module.warn(f"{noun(p)} {target_id(p)} is a member of directory {membership.get('Domain')}, not "
                    f"{p['directory_id']}: left alone.")
        module.exit_json(changed=False, membership=before, cluster=rds_domain.described(cluster),
                         diff=dict(before=rds_domain.diff_view(before), after=rds_domain.diff_view(before)))
    changed = membership.get("Status") not in rds_domain.STATUSES_LEAVING
    if module.check_mode:
        module.exit_json(changed=changed, membership=before, cluster=rds_domain.described(cluster),
                         diff=dict(before=rds_domain.diff_view(before), after={} if changed else rds_domain.diff_view(before)))
    if changed:
        modify_domain = rds_domain.modify_instance_domain if on_instance(p) else rds_domain.modify_domain
        modify_domain(rds, target_id(p), "none", apply_immediately=p["apply_immediately"])
    outcome = None
    if p["wait"]:
        outcome = rds_domain.wait_for_leave(rds, target_id(p), p["wait_timeout"], p["poll_interval"],
                                            deferred_ok=not p["apply_immediately"], instance=on_instance(p))
        if outcome == rds_domain.TIMED_OUT:
            cluster, instances = read(rds, target_id(p), on_instance(p))
            module.fail_json(msg=timeout_message(cluster, instances, membership.get("Domain"), p["wait_timeout"], False),
                             membership=rds_domain.normalize(cluster, instances))
    cluster, instances = read(rds, target_id(p), on_instance(p))
    after = rds_domain.normalize(cluster, instances)
    result = dict(changed=changed, membership=after, deferred=outcome == rds_domain.DEFERRED, cluster=rds_domain.described(cluster),
                  diff=dict(before=rds_domain.diff_view(before), after=rds_domain.diff_view(after)))
    if result["deferred"]:
        result["msg"] = deferred_message(cluster, membership.get("Domain"), joining=False)
    module.exit_json(**result)


def main():
    argument_spec = dict(
        cluster_id=dict(type="str", aliases=["db_cluster_identifier"]),
        db_instance_id=dict(type="str", aliases=["db_instance_identifier"]),
        directory_id=dict(type="str", aliases=["domain"]),
        iam_role_name=dict(type="str", aliases=["domain_iam_role_name"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=3600),
        retry_failed_join=dict(type="bool", default=True),
        poll_interval=dict(type="int", default=15),
        apply_immediately=dict(type="bool", default=True),
        iam_role_propagation_timeout=dict(type="int", default=60),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[("state", "present", ("directory_id", "iam_role_name"))],
                              required_one_of=[("cluster_id", "db_instance_id")],
                              mutually_exclusive=[("cluster_id", "db_instance_id")])
    validate(module)
    rds = module.client("rds", retry_decorator=jittered_backoff())
    try:
        if module.params["state"] == "present":
            ensure_present(module, rds)
        else:
            ensure_absent(module, rds)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
