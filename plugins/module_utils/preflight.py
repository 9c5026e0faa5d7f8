# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read-only checks of everything an Aurora domain join needs (AWS_FACTS.md sections 2-4).

Each check returns one finding: {check, status (ok | warn | fail), message, fix}. A check that
cannot read what it needs (a permission, another account's resource) says so as a warning
instead of failing the run, so one missing permission never hides the other findings.
"""

import ipaddress
import json
from urllib.parse import unquote

try:
    import botocore
except ImportError:
    pass  # Modules are responsible for handling this.

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_route_tables
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_security_groups
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_vpc_peering_connections
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_vpcs
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_iam_role
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_policies

from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils import network
from ansible_collections.aurora.kerberos.plugins.module_utils import partitions
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

OK = "ok"
WARN = "warn"
FAIL = "fail"
STATUSES = (OK, WARN, FAIL)

DEFAULT_ENGINE = "aurora-postgresql"
DIRECTORY_TYPES = ("MicrosoftAD", "SharedMicrosoftAD")
_GLOBAL_STS_ENDPOINT = "https://sts.amazonaws.com"


def finding(check, status, message, fix=""):
    return dict(check=check, status=status, message=message, fix=fix)


def failing(findings, statuses=(FAIL,)):
    return [f for f in findings if f["status"] in statuses]


def summary(findings, statuses=(FAIL,)):
    """One line per finding in statuses: what is wrong and how to fix it."""
    return "; ".join(f"[{f['check']}] {f['message']}" + (f" Fix: {f['fix']}" if f["fix"] else "")
                     for f in failing(findings, statuses))


# --- what is checked ----------------------------------------------------------------------------

def subnet_group_vpc(rds, name):
    """The VPC of a DB subnet group; None without a name or when it cannot be read (the VPC checks then say so).

    The rds model's DescribeDBSubnetGroups returns DBSubnetGroup.VpcId, the VPC whose subnets the group holds: a DB
    created in the group is in that VPC (docs/iam-policy.md, ClusterRead, grants the read)."""
    if not name:
        return None
    try:
        return (rds_domain.get_subnet_group(rds, name) or {}).get("VpcId")
    except AnsibleAWSError:
        return None


def target_from_cluster(rds, cluster, instances):
    """Engine, version, instance classes, security groups, port and VPC of an existing cluster."""
    vpc_id = None
    for instance in instances:
        vpc_id = vpc_id or (instance.get("DBSubnetGroup") or {}).get("VpcId")
    vpc_id = vpc_id or subnet_group_vpc(rds, cluster.get("DBSubnetGroup"))
    return dict(
        engine=cluster.get("Engine") or DEFAULT_ENGINE,
        engine_version=cluster.get("EngineVersion"),
        instance_classes=sorted({i["DBInstanceClass"] for i in instances if i.get("DBInstanceClass")}),
        security_group_ids=[g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups") or []],
        port=cluster.get("Port") or rds_domain.DEFAULT_PORT,
        vpc_id=vpc_id,
        existing=True,
    )


def target_for_new(rds, settings):
    """What a DB not created yet will be: its settings (engine, engine_version, instance_class, security_group_ids,
    port, vpc_id), the VPC read from its DB subnet group (db_subnet_group_name) when not given."""
    vpc_id = settings.get("vpc_id") or subnet_group_vpc(rds, settings.get("db_subnet_group_name"))
    return dict(
        engine=settings.get("engine") or DEFAULT_ENGINE,
        engine_version=settings.get("engine_version"),
        instance_classes=[settings["instance_class"]] if settings.get("instance_class") else [],
        security_group_ids=settings.get("security_group_ids") or [],
        port=settings.get("port"),
        vpc_id=vpc_id,
        existing=False,
    )


# --- engine support -------------------------------------------------------------------------------

def check_engine_support(rds, engine, engine_version, instance_classes, existing=False):
    """The exact version the cluster runs or will run: the given one, else the engine's default in the Region
    (DescribeDBEngineVersions DefaultOnly), which CreateDBCluster picks when none is given.

    existing: the cluster already runs this version. AWS stops offering old minor versions, so a version that is
    no longer orderable warns instead of failing: the cluster keeps running it (aws_audit finding 11)."""
    check = "engine_support"
    if not engine_version:
        engine_version = rds_domain.default_engine_version(rds, engine)
        if not engine_version:
            return finding(check, WARN, f"DescribeDBEngineVersions names no default version of {engine} in this Region, "
                                        "so Kerberos support was not checked.",
                           "Give the engine version (cluster_engine_version).")
        what = f"{engine} {engine_version} (the engine's default here)"
    else:
        what = f"{engine} {engine_version}"
    if not instance_classes:
        rows = rds_domain.describe_orderable_options(rds, engine, engine_version)
        if not rows:
            return _not_orderable(check, what, existing)
        supported = sorted({r["DBInstanceClass"] for r in rows if r.get("SupportsKerberosAuthentication")})
        if not supported:
            return finding(check, FAIL, f"{what} supports Kerberos authentication with no instance class in this Region.",
                           "Choose an engine version that supports Kerberos (SupportsKerberosAuthentication).")
        return finding(check, WARN, f"{what} supports Kerberos with {len(supported)} instance classes here, but the "
                                    "instance class is not known (no instances), so it was not checked.",
                       f"Use a Kerberos-capable class for the instances, for example {supported[0]}.")
    problems, retired = [], []
    for instance_class in instance_classes:
        rows = rds_domain.describe_orderable_options(rds, engine, engine_version, instance_class)
        if not rows:
            (retired if existing else problems).append(f"{what} on {instance_class} is not offered in this Region")
        elif not any(r.get("SupportsKerberosAuthentication") for r in rows):
            problems.append(f"{what} on {instance_class} does not support Kerberos authentication in this Region")
    if problems:
        return finding(check, FAIL, "; ".join(problems + retired) + ".",
                       "Choose an engine version and instance class whose DescribeOrderableDBInstanceOptions row "
                       "has SupportsKerberosAuthentication true in this Region.")
    if retired:
        return _not_orderable(check, f"{what} on {', '.join(instance_classes)}", existing)
    return finding(check, OK, f"{what} supports Kerberos authentication on {', '.join(instance_classes)}.")


def _not_orderable(check, what, existing):
    if existing:
        return finding(check, WARN, f"{what} is no longer orderable in this Region (DescribeOrderableDBInstanceOptions "
                                    "lists no row), so its Kerberos support could not be read; the existing cluster "
                                    "keeps running it.",
                       "Upgrade the cluster to a minor version that DescribeOrderableDBInstanceOptions lists with "
                       "SupportsKerberosAuthentication, or go on: RDS refuses the join if the version cannot have it.")
    return finding(check, FAIL, f"{what} is not offered in this Region.",
                   "Choose an engine version that DescribeOrderableDBInstanceOptions lists here.")


# --- the directory --------------------------------------------------------------------------------

def directory_vpc_settings(directory):
    """A shared directory's network lives in the owner's account: its VpcSettings are the owner's."""
    owner = (directory or {}).get("OwnerDirectoryDescription") or {}
    return (directory or {}).get("VpcSettings") or owner.get("VpcSettings") or {}


def check_directory(ds_client, directory_id):
    """Returns (finding, the directory or None)."""
    check = "directory"
    directory = ds.get_directory(ds_client, directory_id)
    if directory is None:
        return finding(check, FAIL, f"Directory {directory_id} is not visible in this account and Region.",
                       "Give the id of an AWS Managed Microsoft AD in this Region. If the directory is shared from "
                       "another account, give the shared directory id this account sees (directory_share returns "
                       "it), not the owner's id, and accept the share."), None
    kind, stage = directory.get("Type"), directory.get("Stage")
    if kind not in DIRECTORY_TYPES:
        return finding(check, FAIL, f"Directory {directory_id} is {kind}; Aurora joins only AWS Managed Microsoft AD.",
                       "Create an AWS Managed Microsoft AD (aurora.kerberos.directory) and use its id."), directory
    share = directory.get("ShareStatus")
    if kind == "SharedMicrosoftAD" and share not in (None, "Shared"):
        return finding(check, FAIL, f"Directory {directory_id} is shared with this account but its share is {share}.",
                       "Accept the share in this account (AcceptSharedDirectory; aurora.kerberos.directory_share) "
                       "and wait until it is Shared."), directory
    if stage in ds.STAGES_BEING_CREATED:
        # Requested, Creating, Created: AWS is still building it, and domain_membership waits until it is Active.
        return finding(check, WARN, f"Directory {directory_id} is {stage}, not Active yet: a join waits until it is.",
                       "Nothing to fix: aurora.kerberos.domain_membership waits for it (AWS takes 20-45 minutes to "
                       "create a directory)."), directory
    if stage != "Active":
        # The waiters' wording (ds.wait_for): "Directory d-... is Failed: <StageReason>".
        reason = f": {directory['StageReason'].rstrip('.')}" if directory.get("StageReason") else ""
        return finding(check, FAIL, f"Directory {directory_id} is {stage}{reason}; it is not Active.",
                       "Wait until the directory is Active (aurora.kerberos.directory waits), or repair or replace a "
                       "Failed/Impaired one."), directory
    where = "shared with this account" if kind == "SharedMicrosoftAD" else "in this account"
    return finding(check, OK, f"Directory {directory_id} ({directory.get('Name')}) is an Active Managed Microsoft AD "
                              f"{where}."), directory


# --- the IAM role ---------------------------------------------------------------------------------

def _policy_document(document):
    """GetRole's AssumeRolePolicyDocument: boto3 decodes it, but a raw response holds URL-encoded JSON."""
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return document or {}


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def trusted_services(document):
    """Services that may sts:AssumeRole by the trust policy's Allow statements."""
    services = set()
    for statement in _as_list(_policy_document(document).get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal") or {}
        if isinstance(principal, dict):
            services.update(_as_list(principal.get("Service")))
    return services


def check_iam_role(iam, role_name, region=None, ec2=None, engine_part=partitions.DEFAULT_ENGINE_PART):
    """Two findings: the trust principals the Region needs (AWS_FACTS.md section 3), and the managed policy.

    With ec2, whether the Region is opt-in is read (DescribeRegions, else the tables); without, the Region's
    table entry decides."""
    try:
        opt_in = partitions.read_opt_in(ec2, region)[0] if ec2 is not None else partitions.opt_in_from_table(region)
    except partitions.UnknownRegion:
        opt_in = None
    role = get_iam_role(iam, role_name)
    if role is None:
        missing = f"IAM role {role_name} does not exist."
        needed = partitions.trust_principals(region, partitions.partition_for_region(region), opt_in, engine_part)
        fix = ("Create it with the managed policy AmazonRDSDirectoryServiceAccess and the trust principals "
               f"{', '.join(needed)} (amazon.aws.iam_role; the iam_role role).")
        return [finding("iam_role_trust", FAIL, missing, fix), finding("iam_role_policy", FAIL, missing, fix)]
    partition = partitions.partition_from_arn(role.get("Arn")) or partitions.DEFAULT_PARTITION
    policy_arn = partitions.managed_policy_arn(partition)

    services = trusted_services(role.get("AssumeRolePolicyDocument"))
    where = region or "this Region"
    if opt_in is None and region:
        trust = finding("iam_role_trust", WARN,
                        f"Whether {region} is an opt-in Region is unknown (ec2:DescribeRegions was not readable and "
                        "the Region is in no table), so the trust principals it needs were not checked.",
                        "Allow ec2:DescribeRegions, and see that the role trusts the principals the Region's row of "
                        "AWS's \"Supported Regions and DB engines for Kerberos authentication\" page names.")
    elif partitions.trust_problems(services, region, partition, opt_in, engine_part):
        missing = partitions.trust_problems(services, region, partition, opt_in, engine_part)
        needed = partitions.trust_principals(region, partition, opt_in, engine_part)
        trust = finding("iam_role_trust", FAIL,
                        f"IAM role {role_name} does not trust {' and '.join(missing)}: RDS answers \"IAM role "
                        f"provided is not valid\" in {where} and the join ends enable-kerberos-failed.",
                        f"Add an Allow sts:AssumeRole statement for the services {', '.join(needed)} to the role's "
                        "trust policy (the iam_role role computes them for the Region).")
    else:
        trust = finding("iam_role_trust", OK, f"IAM role {role_name} trusts {', '.join(sorted(services))}, the "
                                              f"principals {where} needs.")

    attached = [p.get("PolicyArn") for p in list_iam_role_attached_policies(iam, role_name)]
    if policy_arn in attached:
        policy = finding("iam_role_policy", OK, f"IAM role {role_name} has {policy_arn}.")
    elif list_iam_role_policies(iam, role_name):
        policy = finding("iam_role_policy", WARN,
                         f"IAM role {role_name} lacks {policy_arn}; its inline policies may or may not grant the same "
                         "Directory Service permissions.",
                         f"Attach {policy_arn} to the role.")
    else:
        policy = finding("iam_role_policy", FAIL,
                         f"IAM role {role_name} lacks {policy_arn}, so RDS cannot use the directory.",
                         f"Attach {policy_arn} to the role.")
    return [trust, policy]


# --- STS ----------------------------------------------------------------------------------------

# AWS STS Regions and endpoints (IAM user guide), column "Manually activate/deactivate": No for US East
# (N. Virginia), and for every opt-in Region, where STS is active exactly while the Region is enabled.
# There STS cannot be off for an account that can call the Region at all.
STS_ALWAYS_ACTIVE = frozenset(("us-east-1",)) | partitions.OPT_IN_REGIONS
# The least lifetime GetSessionToken allows: the credentials it returns are thrown away at once.
_SESSION_SECONDS = 900
_STS_CONSOLE = ("the IAM console, Account settings, Security Token Service (STS), Endpoints (the Region's status must "
                "be Active; an administrator can activate it there)")


def regional_sts_client(module):
    """An STS client on the Region's endpoint, even where the legacy global endpoint is configured
    (AWS_STS_REGIONAL_ENDPOINTS=legacy): RDS uses the regional one (AWS_FACTS.md section 3)."""
    client = module.client("sts", retry_decorator=jittered_backoff())
    if client.meta.endpoint_url.rstrip("/") == _GLOBAL_STS_ENDPOINT and module.region:
        client = module.client("sts", retry_decorator=jittered_backoff(),
                               endpoint=partitions.sts_endpoint(module.region))
    return client


@jittered_backoff()
def _get_caller_identity(sts):
    return sts.get_caller_identity()


@jittered_backoff()
def _sts_issues_credentials(sts):
    """GetSessionToken, which STS refuses with RegionDisabledException where it is not activated (unlike
    GetCallerIdentity, which declares no errors and answers there too: AWS_FACTS.md section 3). The
    credentials it returns are dropped here: never kept, logged or returned."""
    sts.get_session_token(DurationSeconds=_SESSION_SECONDS)


def caller_kind(arn):
    """user, root, assumed-role, federated-user (or the ARN's resource type) from GetCallerIdentity's Arn."""
    resource = (arn or "").split(":", 5)[-1]
    if resource == "root":
        return "root"
    return resource.split("/", 1)[0] or "unknown"


def _region_disabled(check, region, endpoint, how):
    return finding(check, FAIL, f"STS is not activated in {region} ({endpoint}; {how} answered "
                                "RegionDisabledException): RDS cannot assume the IAM role there and the join fails.",
                   f"Activate STS for {region} in {_STS_CONSOLE}, or ask the account's administrator to.")


def check_sts(sts, region):
    """Whether STS in the Region issues credentials for this account, by a call that can fail.

    GetCallerIdentity only proves the endpoint answers. An IAM user (or the root user) proves the rest with
    GetSessionToken; a role's session cannot call it ("Cannot call GetSessionToken with session credentials"),
    so for a role the answer is WARN, not verifiable, except in Regions where STS cannot be deactivated."""
    check = "sts_regional_endpoint"
    endpoint = sts.meta.endpoint_url
    try:
        arn = _get_caller_identity(sts).get("Arn")
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code")
        if code == "RegionDisabledException":
            return _region_disabled(check, region, endpoint, "GetCallerIdentity")
        return finding(check, FAIL, f"The STS endpoint {endpoint} refused GetCallerIdentity: {code}: "
                                    f"{e.response.get('Error', {}).get('Message')}",
                       "Check the credentials and that STS is activated in this Region.")
    except botocore.exceptions.BotoCoreError as e:
        return finding(check, FAIL, f"The STS endpoint {endpoint} did not answer: {e}",
                       "Check the network path to the Region's STS endpoint (proxy, VPC endpoint, DNS).")
    if region in STS_ALWAYS_ACTIVE:
        return finding(check, OK, f"The STS endpoint {endpoint} answers, and STS cannot be deactivated in {region} "
                                  "(AWS STS Regions and endpoints).")
    kind = caller_kind(arn)
    reason = f"the caller {arn} ({kind}) cannot call GetSessionToken, which takes an IAM user's long-term credentials"
    if kind in ("user", "root"):
        try:
            _sts_issues_credentials(sts)
        except botocore.exceptions.ClientError as e:
            error = e.response.get("Error", {})
            if error.get("Code") == "RegionDisabledException":
                return _region_disabled(check, region, endpoint, "GetSessionToken")
            # Session credentials of a user are refused with AccessDenied: not a verdict on the Region.
            reason = f"GetSessionToken was refused ({error.get('Code')}: {error.get('Message')})"
        except botocore.exceptions.BotoCoreError as e:
            return finding(check, FAIL, f"The STS endpoint {endpoint} did not answer GetSessionToken: {e}",
                           "Check the network path to the Region's STS endpoint (proxy, VPC endpoint, DNS).")
        else:
            return finding(check, OK, f"STS in {region} ({endpoint}) issues credentials for this account "
                                      "(GetSessionToken; the credentials were discarded).")
    return finding(check, WARN, f"Not verifiable: whether STS is activated in {region} could not be checked: "
                                f"{reason}, and GetCallerIdentity answers even where STS is deactivated.",
                   f"Look in {_STS_CONSOLE}, or run the preflight with an IAM user's long-term credentials, which "
                   "checks it with GetSessionToken.")


# --- security groups ------------------------------------------------------------------------------

def _covers_port(permission, port):
    protocol = str(permission.get("IpProtocol"))
    if protocol == "-1":
        return True
    if protocol not in ("tcp", "6"):
        return False
    return permission.get("FromPort", 0) <= port <= permission.get("ToPort", 65535)


def _is_all_traffic(permission):
    return str(permission.get("IpProtocol")) == "-1"


def _cidrs(permission):
    return [r["CidrIp"] for r in permission.get("IpRanges") or [] if r.get("CidrIp")]


def _covers_any(cidr, addresses):
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        return any(ipaddress.ip_address(a) in network for a in addresses)
    except ValueError:
        return False


def _not_checked(check, what, fix):
    return finding(check, WARN, f"Not checked: {what}.", fix)


def check_db_ingress(ec2, db_security_group_ids, directory_sg_id, port, dc_addresses):
    check = "db_security_group_ingress"
    if not db_security_group_ids:
        return _not_checked(check, "the DB security groups are not known",
                            "Give cluster_id or db_security_group_ids.")
    if not directory_sg_id:
        return _not_checked(check, "the directory's security group is not known", "Give an Active directory_id.")
    groups = describe_security_groups(ec2, GroupIds=list(db_security_group_ids))
    if not groups:
        return finding(check, FAIL, f"The DB security groups {', '.join(db_security_group_ids)} do not exist.",
                       "Give the cluster's VPC security group ids.")
    by_address = []
    for group in groups:
        for permission in group.get("IpPermissions") or []:
            if not _covers_port(permission, port):
                continue
            if any(p.get("GroupId") == directory_sg_id for p in permission.get("UserIdGroupPairs") or []):
                return finding(check, OK, f"{group['GroupId']} accepts port {port} from the directory's security "
                                          f"group {directory_sg_id}.")
            by_address += [(group["GroupId"], c) for c in _cidrs(permission) if _covers_any(c, dc_addresses)]
    ids = ", ".join(g["GroupId"] for g in groups)
    rule = (f"an inbound rule on {groups[0]['GroupId']}: TCP {port} from security group {directory_sg_id} "
            "(amazon.aws.ec2_security_group, rules: [{proto: tcp, ports: [" + str(port) + "], group_id: "
            + directory_sg_id + "}]; the network role)")
    if by_address:
        group_id, cidr = by_address[0]
        return finding(check, WARN, f"{group_id} accepts port {port} from {cidr}, which covers the domain "
                                    f"controllers, but not by reference to their security group {directory_sg_id}.",
                       f"Reference the security group instead of addresses: add {rule}.")
    return finding(check, FAIL, f"No DB security group ({ids}) accepts port {port} from the directory's security "
                                f"group {directory_sg_id}.", f"Add {rule}.")


def check_directory_egress(ec2, directory_sg_id, db_security_group_ids, port):
    check = "directory_security_group_egress"
    if not directory_sg_id:
        return _not_checked(check, "the directory's security group is not known", "Give an Active directory_id.")
    groups = describe_security_groups(ec2, GroupIds=[directory_sg_id])
    if not groups:
        return _not_checked(check, f"the directory's security group {directory_sg_id} is not visible to this account "
                                   "(a shared directory's group lives in the owner's account)",
                            f"In the owner's account, let {directory_sg_id} send to the DB security groups.")
    db_groups = set(db_security_group_ids or [])
    by_cidr = []
    for permission in groups[0].get("IpPermissionsEgress") or []:
        if not _covers_port(permission, port):
            continue
        if any(p.get("GroupId") in db_groups for p in permission.get("UserIdGroupPairs") or []):
            return finding(check, OK, f"The directory's security group {directory_sg_id} may send to the DB security "
                                      "groups (by reference).")
        cidrs = _cidrs(permission)
        if "0.0.0.0/0" in cidrs:
            what = "all traffic" if _is_all_traffic(permission) else f"port {port}"
            return finding(check, OK, f"The directory's security group {directory_sg_id} may send {what} anywhere.")
        by_cidr += cidrs
    fix = (f"Give {directory_sg_id} an outbound rule for all traffic (as AWS creates it), or TCP {port} to the DB "
           "security groups.")
    if by_cidr:
        return finding(check, WARN, f"The directory's security group {directory_sg_id} sends port {port} only to "
                                    f"{', '.join(by_cidr)}; make sure that covers the DB subnets.", fix)
    return finding(check, FAIL, f"The directory's security group {directory_sg_id} may not send port {port} to the DB "
                                "security groups.", fix)


def _ad_port(permission, protocol, low, high):
    """Whether an inbound permission admits protocol low-high (all traffic does)."""
    given = network.normalize_protocol(permission.get("IpProtocol", ""))
    if given == "-1":
        return True
    return given == protocol and permission.get("FromPort", 0) <= low and high <= permission.get("ToPort", 65535)


def check_controllers_ingress(ec2, directory_sg_id, directory_vpc_id, db_vpc_id, db_security_group_ids):
    """A DB in another VPC: the domain controllers' group admits the AD ports only from the directory VPC's CIDR
    (AWS_FACTS section 2), so it must also admit the DB, by its security group across an active peering of the
    two VPCs, or by CIDR (here: one that holds the DB VPC's CIDR is OK, a narrower one a warning)."""
    check = "directory_controllers_ingress"
    if not db_vpc_id or not directory_vpc_id:
        return _not_checked(check, "the DB's or the directory's VPC is not known",
                            "Give cluster_id (or db_vpc_id) and an Active directory_id.")
    if db_vpc_id == directory_vpc_id:
        return finding(check, OK, f"The DB is in the directory's VPC {db_vpc_id}, whose CIDR the domain controllers' "
                                  "security group admits.")
    if not directory_sg_id:
        return _not_checked(check, "the directory's security group is not known", "Give an Active directory_id.")
    groups = describe_security_groups(ec2, GroupIds=[directory_sg_id])
    if not groups:
        return _not_checked(check, f"the domain controllers' security group {directory_sg_id} is not visible to this "
                                   "account (a shared directory's group lives in the owner's account)",
                            f"In the owner's account, let {directory_sg_id} admit the DB's VPC on the AD ports.")
    vpcs = [db_vpc_id, directory_vpc_id]
    peered = any((p.get("Status") or {}).get("Code") == "active" and {
        p.get("RequesterVpcInfo", {}).get("VpcId"), p.get("AccepterVpcInfo", {}).get("VpcId")} == set(vpcs)
        for p in describe_vpc_peering_connections(ec2, Filters=[
            {"Name": "requester-vpc-info.vpc-id", "Values": vpcs}, {"Name": "accepter-vpc-info.vpc-id", "Values": vpcs}]))
    db_cidr = next((v.get("CidrBlock") for v in describe_vpcs(ec2, VpcIds=[db_vpc_id])), None)
    db_network = ipaddress.ip_network(db_cidr) if db_cidr else None
    db_groups = set(db_security_group_ids or [])
    missing, partly = [], []
    for protocol, low, high in network.DIRECTORY_ACCESS_PORTS:
        permissions = [p for p in groups[0].get("IpPermissions") or [] if _ad_port(p, protocol, low, high)]
        if peered and any(g.get("GroupId") in db_groups for p in permissions for g in p.get("UserIdGroupPairs") or []):
            continue
        networks = [ipaddress.ip_network(c, strict=False) for p in permissions for c in _cidrs(p)]
        if db_network and any(db_network.subnet_of(n) for n in networks if n.version == db_network.version):
            continue
        name = f"{protocol}/{low}" + (f"-{high}" if high != low else "")
        if db_network and any(n.overlaps(db_network) for n in networks if n.version == db_network.version):
            partly.append(name)
        else:
            missing.append(name)
    how = (f"from the DB security group ({', '.join(sorted(db_groups)) or 'its id'}), which the active peering allows"
           if peered else f"from the DB subnets' CIDRs (no active peering of {db_vpc_id} and {directory_vpc_id} "
                          "allows a security group reference)")
    fix = (f"Let {directory_sg_id} admit the DB {how} on TCP and UDP 53, 88, 464, 389 and TCP 445, 135, 636, "
           "3268-3269, 1024-65535: the network role does it (network_directory_access, network_db_subnet_ids).")
    if missing:
        return finding(check, FAIL, f"The DB's VPC {db_vpc_id} is not the directory's {directory_vpc_id}, and the domain "
                                    f"controllers' security group {directory_sg_id} does not admit the DB on "
                                    f"{', '.join(missing)}: the join would end in enable-kerberos-failed.", fix)
    if partly:
        return finding(check, WARN, f"The domain controllers' security group {directory_sg_id} admits only part of the "
                                    f"DB's VPC {db_vpc_id} ({db_cidr}) on {', '.join(partly)}; make sure that covers "
                                    "the DB subnets.", fix)
    return finding(check, OK, f"The domain controllers' security group {directory_sg_id} admits the DB's VPC {db_vpc_id} "
                              "on every AD port.")


# --- VPCs -----------------------------------------------------------------------------------------

def _routes_via(ec2, vpc_id, peering_id):
    """None when the VPC's route tables are not visible; else whether one routes through the peering."""
    tables = describe_route_tables(ec2, Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    if not tables:
        return None
    return any(route.get("VpcPeeringConnectionId") == peering_id and route.get("State") != "blackhole"
               for table in tables for route in table.get("Routes") or [])


def _has_transit_gateway_route(ec2, vpc_id):
    tables = describe_route_tables(ec2, Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return any(route.get("TransitGatewayId") for table in tables for route in table.get("Routes") or [])


def check_vpc(ec2, db_vpc_id, directory_vpc_id):
    check = "vpc_connectivity"
    if not db_vpc_id or not directory_vpc_id:
        return _not_checked(check, "the DB's or the directory's VPC is not known",
                            "Give cluster_id (or db_vpc_id) and an Active directory_id.")
    if db_vpc_id == directory_vpc_id:
        return finding(check, OK, f"The cluster and the directory share the VPC {db_vpc_id}.")
    vpcs = [db_vpc_id, directory_vpc_id]
    peerings = [p for p in describe_vpc_peering_connections(ec2, Filters=[
        {"Name": "requester-vpc-info.vpc-id", "Values": vpcs},
        {"Name": "accepter-vpc-info.vpc-id", "Values": vpcs},
    ]) if {p.get("RequesterVpcInfo", {}).get("VpcId"), p.get("AccepterVpcInfo", {}).get("VpcId")} == set(vpcs)]
    active = [p for p in peerings if (p.get("Status") or {}).get("Code") == "active"]
    peer_fix = (f"Peer {db_vpc_id} and {directory_vpc_id} (amazon.aws.ec2_vpc_peering, accepted) and add routes both "
                "ways through the peering, or connect them with a Transit Gateway.")
    if not active:
        if peerings:
            peering = peerings[0]
            status = (peering.get("Status") or {}).get("Code")
            return finding(check, FAIL, f"The VPC peering {peering['VpcPeeringConnectionId']} between {db_vpc_id} and "
                                        f"{directory_vpc_id} is {status}, not active.",
                           "Accept the peering in the accepter's account and add routes both ways.")
        if _has_transit_gateway_route(ec2, db_vpc_id):
            return finding(check, WARN, f"The cluster's VPC {db_vpc_id} and the directory's VPC {directory_vpc_id} are "
                                        "not peered; the cluster's VPC routes to a Transit Gateway, which was not "
                                        "checked.",
                           "Make sure the Transit Gateway routes both ways between the two VPCs.")
        return finding(check, FAIL, f"The cluster's VPC {db_vpc_id} and the directory's VPC {directory_vpc_id} are "
                                    "different and not peered.", peer_fix)
    peering_id = active[0]["VpcPeeringConnectionId"]
    routes = {vpc: _routes_via(ec2, vpc, peering_id) for vpc in vpcs}
    missing = [vpc for vpc, routed in routes.items() if routed is False]
    unseen = [vpc for vpc, routed in routes.items() if routed is None]
    if missing:
        return finding(check, FAIL, f"The VPC peering {peering_id} is active but {' and '.join(missing)} has no route "
                                    "through it.",
                       f"Add a route to the other VPC's CIDR through {peering_id} in the route tables of "
                       f"{' and '.join(missing)}.")
    if unseen:
        return finding(check, WARN, f"The VPC peering {peering_id} is active; the route tables of {' and '.join(unseen)} "
                                    "are not visible to this account (another account's VPC).",
                       f"In that account, route the other VPC's CIDR through {peering_id}.")
    return finding(check, OK, f"The VPC peering {peering_id} is active with routes both ways.")


# --- all of them --------------------------------------------------------------------------------

def guarded(check, function, *args):
    """A check that cannot read what it needs warns instead of stopping the others."""
    try:
        return function(*args)
    except AnsibleAWSError as e:
        detail = f"{e.message}: {e.exception}" if e.exception else e.message
        return finding(check, WARN, f"Not checked: {detail}",
                       "Grant the read permission named above (or run the check where it is granted).")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        return finding(check, WARN, f"Not checked: {e}",
                       "Grant the read permission named above (or run the check where it is granted).")


def run_checks(get_client, region, directory_id, iam_role_name, target):
    """Every check; get_client(service) returns a client (for "sts": the regional one).

    target: engine, engine_version, instance_classes, security_group_ids, port, vpc_id (any may be None), and
    existing (the cluster exists: a version no longer orderable only warns).
    """
    findings = []
    rds = get_client("rds")
    findings.append(guarded("engine_support", check_engine_support, rds, target.get("engine") or DEFAULT_ENGINE,
                            target.get("engine_version"), target.get("instance_classes") or [],
                            bool(target.get("existing"))))

    directory = None
    if directory_id:
        result = guarded("directory", check_directory, get_client("ds"), directory_id)
        if isinstance(result, tuple):
            result, directory = result
        findings.append(result)

    if iam_role_name:
        result = guarded("iam_role", check_iam_role, get_client("iam"), iam_role_name, region, get_client("ec2"))
        findings += result if isinstance(result, list) else [result]

    if iam_role_name:
        # RDS assumes the IAM role through the Region's STS endpoint: only a check that names the role needs it.
        findings.append(guarded("sts_regional_endpoint", check_sts, get_client("sts"), region))

    if directory_id:
        ec2 = get_client("ec2")
        vpc_settings = directory_vpc_settings(directory)
        dc_addresses = (directory or {}).get("DnsIpAddrs") or []
        port = target.get("port") or rds_domain.DEFAULT_PORT
        sg_ids = target.get("security_group_ids") or []
        findings.append(guarded("db_security_group_ingress", check_db_ingress, ec2, sg_ids,
                                vpc_settings.get("SecurityGroupId"), port, dc_addresses))
        findings.append(guarded("directory_security_group_egress", check_directory_egress, ec2,
                                vpc_settings.get("SecurityGroupId"), sg_ids, port))
        findings.append(guarded("vpc_connectivity", check_vpc, ec2, target.get("vpc_id"), vpc_settings.get("VpcId")))
        findings.append(guarded("directory_controllers_ingress", check_controllers_ingress, ec2,
                                vpc_settings.get("SecurityGroupId"), vpc_settings.get("VpcId"), target.get("vpc_id"),
                                sg_ids))
    return findings


def verdict(findings, fail_on):
    """ok (no finding fails) and the message that stops the task, None when no finding's status is in fail_on."""
    stopping = failing(findings, fail_on)
    message = (f"Kerberos preflight: {len(stopping)} check(s) failed: {summary(findings, fail_on)}"
               if stopping else None)
    return not failing(findings), message


def module_clients(module):
    """get_client for run_checks: retrying clients, made once each, STS on the regional endpoint."""
    cache = {}

    def get_client(service):
        if service not in cache:
            if service == "sts":
                cache[service] = regional_sts_client(module)
            else:
                cache[service] = module.client(service, retry_decorator=jittered_backoff())
        return cache[service]

    return get_client
