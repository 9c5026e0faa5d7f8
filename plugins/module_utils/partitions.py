# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Partitions, Regions and the trust principals of the IAM role RDS uses (AWS_FACTS.md section 3).

- The partition comes from an ARN (the caller's, from STS GetCallerIdentity); every ARN and host name
  the collection builds uses it and its DNS suffix (amazonaws.com.cn in China).
- The role trusts directoryservice.rds.amazonaws.com and rds.amazonaws.com everywhere. An opt-in Region
  also needs directoryservice.rds.<region>.<suffix> (and rds.<region>.<suffix>, as the RDS PostgreSQL
  set-up page shows); a Region launched after il-central-1 (ca-west-1 on) needs the engine-specific
  directoryservice-<engine>.rds.<region>.<suffix> (RDS user guide, "Supported Regions and DB engines for
  Kerberos authentication"). IAM refuses a service principal it does not know, so each form is added only
  where it exists.
- Whether a Region is opt-in is read at run time (ec2 DescribeRegions, OptInStatus); the tables below are
  the fallback when that call is denied.
"""

try:
    import botocore
except ImportError:
    pass  # Modules are responsible for handling this.

DEFAULT_PARTITION = "aws"
DEFAULT_ENGINE_PART = "postgresql"
MANAGED_POLICY = "service-role/AmazonRDSDirectoryServiceAccess"

# botocore's endpoints.json (partitions[].dnsSuffix).
DNS_SUFFIXES = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
    "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov",
    "aws-iso-e": "cloud.adc-e.uk",
    "aws-iso-f": "csp.hci.ic.gov",
    "aws-eusc": "amazonaws.eu",
}
_REGION_PREFIXES = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"),
                    ("us-isof-", "aws-iso-f"), ("us-iso-", "aws-iso"), ("eu-isoe-", "aws-iso-e"),
                    ("eusc-", "aws-eusc"))

# The fallback tables (AWS "Enable or disable AWS Regions" list of opt-in Regions, and the RDS Kerberos
# Regions page). Opt-in Regions launched up to and including il-central-1 (Israel, Aug. 2023):
OPT_IN_REGIONS_BEFORE_CA_WEST_1 = frozenset((
    "af-south-1", "ap-east-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "eu-central-2",
    "eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1",
))
# Regions launched after il-central-1, from ca-west-1 (Calgary, Dec. 2023) on, all opt-in; each is on the
# RDS Kerberos Regions page: Calgary, Malaysia, Thailand, Mexico (Central), Taipei, New Zealand.
ENGINE_PRINCIPAL_REGIONS = frozenset((
    "ca-west-1", "ap-southeast-5", "ap-southeast-7", "mx-central-1", "ap-east-2", "ap-southeast-6",
))
OPT_IN_REGIONS = OPT_IN_REGIONS_BEFORE_CA_WEST_1 | ENGINE_PRINCIPAL_REGIONS
# Regions enabled by default ("opt-in-not-required"), China and GovCloud included.
DEFAULT_REGIONS = frozenset((
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-central-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "cn-north-1", "cn-northwest-1", "us-gov-west-1",
    "us-gov-east-1",
))

OPT_IN_NOT_REQUIRED = "opt-in-not-required"


class UnknownRegion(ValueError):
    """The Region is in no table and DescribeRegions could not be read."""


def partition_from_arn(arn):
    """arn:<partition>:... -> partition; None when arn is not an ARN."""
    parts = (arn or "").split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[1]:
        return None
    return parts[1]


def partition_for_region(region):
    """The partition a Region belongs to, from its name (when no ARN is at hand)."""
    for prefix, partition in _REGION_PREFIXES:
        if (region or "").startswith(prefix):
            return partition
    return DEFAULT_PARTITION


def dns_suffix(partition):
    return DNS_SUFFIXES.get(partition or DEFAULT_PARTITION, DNS_SUFFIXES[DEFAULT_PARTITION])


def managed_policy_arn(partition):
    return f"arn:{partition or DEFAULT_PARTITION}:iam::aws:policy/{MANAGED_POLICY}"


def sts_endpoint(region, partition=None):
    """https://sts.<region>.<suffix>: the Region's own STS endpoint."""
    return f"https://sts.{region}.{dns_suffix(partition or partition_for_region(region))}"


def opt_in_from_table(region):
    """True / False from the documented tables; raises UnknownRegion for a Region in neither."""
    if region in OPT_IN_REGIONS:
        return True
    if region in DEFAULT_REGIONS:
        return False
    raise UnknownRegion(region)


def read_opt_in(ec2, region):
    """(opt_in, source): from ec2 DescribeRegions (AllRegions, OptInStatus), else from the tables.

    source is "DescribeRegions" or "table". Raises UnknownRegion when the call is denied (or does not
    list the Region) and the Region is in no table.
    """
    try:
        regions = ec2.describe_regions(RegionNames=[region], AllRegions=True).get("Regions") or []
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        regions = []
    status = next((r.get("OptInStatus") for r in regions if r.get("RegionName") == region), None)
    if status:
        return status != OPT_IN_NOT_REQUIRED, "DescribeRegions"
    return opt_in_from_table(region), "table"


def uses_engine_principal(region, opt_in):
    """Regions launched after il-central-1 need directoryservice-<engine>.rds.<region>.<suffix>.

    An opt-in Region in neither table is newer than the tables, hence launched after il-central-1.
    """
    if region in ENGINE_PRINCIPAL_REGIONS:
        return True
    return bool(opt_in) and region not in OPT_IN_REGIONS_BEFORE_CA_WEST_1 and region not in DEFAULT_REGIONS


def trust_principals(region, partition, opt_in, engine_part=DEFAULT_ENGINE_PART):
    """The service principals the role trusts in this Region, in a stable order."""
    suffix = dns_suffix(partition)
    principals = ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]
    if opt_in:
        principals += [f"directoryservice.rds.{region}.{suffix}", f"rds.{region}.{suffix}"]
    if uses_engine_principal(region, opt_in):
        principals.append(f"directoryservice-{engine_part or DEFAULT_ENGINE_PART}.rds.{region}.{suffix}")
    return principals


def trust_problems(services, region, partition, opt_in, engine_part=DEFAULT_ENGINE_PART):
    """The principals a role trusting `services` lacks in this Region (empty: the trust will do).

    Accepted forms: RDS needs the directory-service principal of the Region's form (global, regionalized
    or engine-specific) and an RDS principal (global, or regionalized where it exists). For the
    engine-specific form any engine part is accepted; the one named when it is missing is engine_part's.
    """
    suffix = dns_suffix(partition)
    services = set(services or ())
    missing = []
    if uses_engine_principal(region, opt_in):
        prefix, tail = "directoryservice-", f".rds.{region}.{suffix}"
        if not any(s.startswith(prefix) and s.endswith(tail) and len(s) > len(prefix) + len(tail) for s in services):
            missing.append(f"directoryservice-{engine_part or DEFAULT_ENGINE_PART}.rds.{region}.{suffix}")
    elif opt_in:
        if f"directoryservice.rds.{region}.{suffix}" not in services:
            missing.append(f"directoryservice.rds.{region}.{suffix}")
    elif "directoryservice.rds.amazonaws.com" not in services:
        missing.append("directoryservice.rds.amazonaws.com")
    rds_forms = {"rds.amazonaws.com"} | ({f"rds.{region}.{suffix}"} if opt_in else set())
    if not services & rds_forms:
        missing.append("rds.amazonaws.com")
    return missing
