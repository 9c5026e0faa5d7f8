"""Regions and partitions (AWS_FACTS.md section 3): what the lab's Region and its partition mean for the
IAM role RDS uses, for IAM's trust policies and for EC2 DescribeRegions.

moto 5.2.5 is patched at runtime, never edited. What changes (lab/README.md, "Regions and partitions"):

  - IAM CreateRole and UpdateAssumeRolePolicy refuse a trust policy naming an RDS service principal that
    does not exist, with MalformedPolicyDocument 'Invalid principal in policy: "SERVICE":"<principal>"'
    (HTTP 400, AWS's wording). A principal "exists" by the facts of section 3: the global
    directoryservice.rds.amazonaws.com and rds.amazonaws.com always; directoryservice.rds.<region>.<suffix>
    and rds.<region>.<suffix> only for an opt-in Region of the partition; directoryservice-<engine>.rds.
    <region>.<suffix> only for a Region launched after il-central-1 (ca-west-1 on) and an RDS engine with
    Kerberos [engine names inferred from the RDS Kerberos Regions page]. moto accepts any principal.
  - EC2 DescribeRegions answers the Regions of the caller's partition only, with OptInStatus as AWS words
    it: opt-in-not-required for the default Regions, opted-in for the lab's Region when it is an opt-in
    Region (the lab account has opted in, or nothing would work there), not-opted-in for the other opt-in
    Regions; without AllRegions only the enabled ones. moto lists every partition's Regions and calls
    af-south-1, eu-south-1 and ap-southeast-3 opt-in-not-required.
  - EC2 subnet and security group ARNs carry the Region's partition (moto writes arn:aws: for every Region).
  - rds.py asks directory_principal() which principal RDS in the lab's Region assumes the role as.
"""

import re

# Opt-in Regions launched up to and including il-central-1 (the "Enable or disable AWS Regions" list).
OPT_IN_BEFORE_CA_WEST_1 = frozenset((
    "af-south-1", "ap-east-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "eu-central-2",
    "eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1",
))
# From ca-west-1 on (RDS user guide, "Supported Regions and DB engines for Kerberos authentication").
ENGINE_PRINCIPAL_REGIONS = frozenset((
    "ca-west-1", "ap-southeast-5", "ap-southeast-7", "mx-central-1", "ap-east-2", "ap-southeast-6",
))
OPT_IN = OPT_IN_BEFORE_CA_WEST_1 | ENGINE_PRINCIPAL_REGIONS
# The RDS engines with Kerberos authentication [inferred: the engine-specific principal's <engine> part].
KERBEROS_ENGINES = frozenset(("postgresql", "mysql", "oracle", "sqlserver", "db2"))
# The engine part Aurora PostgreSQL uses in the engine-specific principal [inferred: AWS documents
# directoryservice-postgresql for RDS for PostgreSQL and nothing for Aurora].
AURORA_POSTGRESQL_ENGINE_PART = "postgresql"

DNS_SUFFIXES = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
GLOBAL_PRINCIPALS = frozenset(("directoryservice.rds.amazonaws.com", "rds.amazonaws.com"))
_REGIONAL = re.compile(r"^(?P<service>directoryservice(?:-(?P<engine>[a-z0-9-]+))?\.rds|rds)\."
                       r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.(?P<suffix>amazonaws\.com(?:\.cn)?)$")

_LAB = None
_INSTALLED = False


def partition(region):
    from moto.utilities.utils import get_partition

    return get_partition(region)


def dns_suffix(region):
    return DNS_SUFFIXES.get(partition(region), "amazonaws.com")


def managed_policy_arn(partition_name):
    return f"arn:{partition_name}:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"


def principal_exists(principal, iam_partition):
    """Whether IAM (of this partition) knows the service principal. Only the RDS family is judged."""
    if principal in GLOBAL_PRINCIPALS:
        return True
    match = _REGIONAL.match(principal)
    if not match:
        return True  # not an RDS principal: the lab does not judge it
    region, engine = match["region"], match["engine"]
    if partition(region) != iam_partition or match["suffix"] != dns_suffix(region):
        return False
    if engine is not None:
        return region in ENGINE_PRINCIPAL_REGIONS and engine in KERBEROS_ENGINES
    return region in OPT_IN


def directory_principal(region):
    """The directory-service principal RDS assumes the role as in this Region."""
    if region in ENGINE_PRINCIPAL_REGIONS:
        return f"directoryservice-{AURORA_POSTGRESQL_ENGINE_PART}.rds.{region}.{dns_suffix(region)}"
    if region in OPT_IN:
        return f"directoryservice.rds.{region}.{dns_suffix(region)}"
    return "directoryservice.rds.amazonaws.com"


def opt_in_status(region, lab_region):
    if region not in OPT_IN:
        return "opt-in-not-required"
    return "opted-in" if region == lab_region else "not-opted-in"


def _services(document):
    """The service principals of a trust policy's statements (any effect: IAM checks them all)."""
    import json

    try:
        parsed = json.loads(document) if isinstance(document, str) else (document or {})
    except ValueError:
        return []
    statements = parsed.get("Statement") or []
    statements = statements if isinstance(statements, list) else [statements]
    found = []
    for statement in statements:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if isinstance(principal, dict):
            services = principal.get("Service") or []
            found += services if isinstance(services, list) else [services]
    return [s for s in found if isinstance(s, str)]


def _refuse_unknown_principals(document, iam_partition):
    from moto.iam.exceptions import MalformedPolicyDocument

    for service in _services(document):
        if not principal_exists(service, iam_partition):
            raise MalformedPolicyDocument(f'Invalid principal in policy: "SERVICE":"{service}"')


def _patch_iam():
    from moto.iam.models import IAMBackend

    original_create_role = IAMBackend.create_role
    original_update = IAMBackend.update_assume_role_policy

    def create_role(self, role_name, assume_role_policy_document, *args, **kwargs):
        _refuse_unknown_principals(assume_role_policy_document, partition(self.region_name))
        return original_create_role(self, role_name, assume_role_policy_document, *args, **kwargs)

    def update_assume_role_policy(self, role_name, policy_document):
        _refuse_unknown_principals(policy_document, partition(self.region_name))
        return original_update(self, role_name, policy_document)

    IAMBackend.create_role = create_role
    IAMBackend.update_assume_role_policy = update_assume_role_policy


def _patch_ec2():
    from moto.ec2.models.availability_zones_and_regions import Region
    from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions

    def describe_regions(self):
        from moto.core.responses import ActionResult

        self.error_on_dryrun()
        names = self._get_param("RegionNames", [])
        all_regions = str(self._get_param("AllRegions", "false")).lower() == "true"
        caller = partition(self.region)
        regions = []
        for known in self.ec2_backend.describe_regions(names):
            if partition(known.name) != caller:
                continue
            status = opt_in_status(known.name, _LAB.region)
            if not all_regions and status == "not-opted-in":
                continue
            regions.append(Region(known.name, f"ec2.{known.name}.{dns_suffix(known.name)}", status))
        return ActionResult({"Regions": regions})

    AvailabilityZonesAndRegions.describe_regions = describe_regions


def _patch_ec2_arns():
    """moto writes arn:aws: into subnet and security group ARNs whatever the Region."""
    from moto.ec2.models.security_groups import SecurityGroup
    from moto.ec2.models.subnets import Subnet

    Subnet.arn = property(lambda self: f"arn:{partition(self.ec2_backend.region_name)}:ec2:"
                                       f"{self.ec2_backend.region_name}:{self.owner_id}:subnet/{self.id}")
    original_init = SecurityGroup.__init__

    def security_group_init(self, ec2_backend, group_id, *args, **kwargs):
        original_init(self, ec2_backend, group_id, *args, **kwargs)
        self.arn = (f"arn:{partition(ec2_backend.region_name)}:ec2:{ec2_backend.region_name}:"
                    f"{ec2_backend.account_id}:security-group/{group_id}")

    SecurityGroup.__init__ = security_group_init


def install(lab, middleware):
    global _LAB, _INSTALLED
    _LAB = lab
    if _INSTALLED:
        return
    _patch_iam()
    _patch_ec2()
    _patch_ec2_arns()
    _INSTALLED = True
