# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The rules AWS sets for the names, ids and passwords the modules and the roles take, each the one copy.

No AWS SDK import here: the roles' input checks (the filter input_problems) load these rules in every Ansible
worker, once a host for each task that checks, and botocore with amazon.aws's module_utils cost about 0.12 CPU
seconds a load (measured, 20 hosts). The modules reach them through ds and rds_domain, or directly.
"""

import re

from ansible_collections.aurora.kerberos.plugins.module_utils.network import EC2_ID


# --- AWS Directory Service (ds model; AWS_FACTS.md section 1) ---------------------------------

# CreateMicrosoftAD makes only these two; a Hybrid directory comes from CreateHybridAD after a successful
# StartADAssessment (ds model, CreateMicrosoftADRequest.Edition and CreateHybridAD).
EDITIONS = ("Standard", "Enterprise")
# Names AWS refuses with InvalidParameterException "The following domain names are reserved and cannot be
# used with your directory: *.example, *.invalid, *.localhost" (AWS_FACTS.md section 1, recorded error).
RESERVED_DOMAINS = ("example", "invalid", "localhost")
# The model's Password pattern: 8-64 characters and 3 of these 4 ASCII classes; whitespace is no symbol.
PASSWORD_CLASSES = (
    ("lower-case letters a-z", re.compile(r"[a-z]")),
    ("upper-case letters A-Z", re.compile(r"[A-Z]")),
    ("digits 0-9", re.compile(r"\d", re.ASCII)),
    ("symbols (any other character except whitespace, so a space is not one)", re.compile(r"[^A-Za-z0-9\s]")),
)

FQDN = re.compile(r"^(?=.{1,255}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")
# The model's DirectoryShortName pattern (none of \/:*?"<>|, no leading '.'), and NetBIOS's 15 characters.
_NETBIOS = re.compile(r"^(?=.{1,15}$)[^\\/:*?\"<>|.][^\\/:*?\"<>|]*$")
# A directory id (ds model, DirectoryId: "^d-[0-9a-f]{10}$"); the one copy every module uses.
DIRECTORY_ID = re.compile(r"^d-[0-9a-f]{10}$")
_SUBNET_ID = EC2_ID["subnet"]
_VPC_ID = EC2_ID["vpc"]


def directory_id_problem(value, variable, required=False):
    """A directory id (DIRECTORY_ID, the ds model's DirectoryId pattern), for the roles' validation; null passes unless
    required. The message names variable and the fix; None when the value passes."""
    if (value is None and not required) or (isinstance(value, str) and DIRECTORY_ID.match(value)):
        return None
    return f"{variable} must be a directory id, d- and 10 hex digits (got {value!r}): use e.g. d-1234567890"


def admin_password_problem(password):
    """AWS's rules for the Admin password (AWS_FACTS.md section 1), or None when it passes."""
    if not 8 <= len(password) <= 64:
        return "must be 8 to 64 characters long"
    if "admin" in password.lower():
        return 'must not contain the word "admin"'
    if sum(1 for dummy, pattern in PASSWORD_CLASSES if pattern.search(password)) < 3:
        return "must use 3 of: " + ", ".join(label for label, dummy in PASSWORD_CLASSES)
    return None


def directory_name_problem(name):
    """What AWS refuses in a directory's DNS name (AWS_FACTS.md section 1), or None."""
    if name.endswith("."):
        return f"{name!r} ends with a dot: AWS takes the name without it: use it without a trailing dot, {name.rstrip('.')!r}"
    if not FQDN.match(name):
        return f"{name!r} must be the directory's fully qualified DNS name: use e.g. corp.example.com"
    if name.rsplit(".", 1)[-1].lower() in RESERVED_DOMAINS:
        return (f"{name!r} is in a domain AWS reserves (*.example, *.invalid, *.localhost): use a domain "
                "you own, e.g. corp.example.com")
    return None


def edition_problem(edition):
    if edition == "Hybrid":
        return ("Hybrid is not an edition CreateMicrosoftAD makes: a Hybrid directory comes from CreateHybridAD "
                "after a successful StartADAssessment of your self-managed AD. Use Standard or Enterprise, or "
                "adopt an existing Hybrid directory by its id and leave the edition unset")
    if edition not in EDITIONS:
        return f"must be one of {', '.join(EDITIONS)} (got {edition!r})"
    return None


def directory_input_problems(name=None, short_name=None, password=None, vpc_id=None, subnet_ids=None,
                             directory_id=None, edition=None, prefix=""):
    """Every problem with the inputs, each naming the option and the fix."""
    problems = []
    if directory_id is not None and not DIRECTORY_ID.match(directory_id):
        problems.append(f"{prefix}directory_id {directory_id!r} is not a directory id: use d- and 10 hex digits")
    if name is not None:
        problem = directory_name_problem(name)
        if problem:
            problems.append(f"{prefix}name {problem}")
    if short_name is not None and not _NETBIOS.match(short_name):
        problems.append(f"{prefix}short_name {short_name!r} must be a NetBIOS name: 1-15 characters, none of "
                        "\\/:*?\"<>| and not starting with a period")
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
    if edition is not None:
        problem = edition_problem(edition)
        if problem:
            problems.append(f"{prefix}edition {problem}")
    return problems


# --- RDS (rds model) ------------------------------------------------------------------------

# RDS: 1-63 letters, digits or hyphens; a letter first; no trailing or doubled hyphen.
CLUSTER_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$")
# The role's own rule for the ids it names: RDS stores identifiers in lower case (rds model, DBClusterIdentifier),
# so the role asks for them in lower case and compares them with what RDS returns.
_LOWER_ID = re.compile(r"^[a-z](-?[a-z0-9])*$")
RDS_ID_MAX = 63
# The master user name: 1 to 16 characters, a letter first (rds model, CreateDBCluster.MasterUsername "Must be 1 to
# 16 letters or numbers" and CreateDBInstance.MasterUsername "1 to 16 letters, numbers, or underscores"; Aurora User
# Guide, "Understanding PostgreSQL roles and permissions": "between 1 and 16 alphanumeric characters"); "Can't be a
# reserved word for the chosen database engine". Underscores: the instance text allows them; the cluster text names
# only letters and numbers [inferred: allowed for clusters too, as the engine and the instance text allow them].
MASTER_USERNAME_MAX = 16
_MASTER_USERNAME = re.compile(rf"^[A-Za-z][A-Za-z0-9_]{{0,{MASTER_USERNAME_MAX - 1}}}$")
# The reserved words: Aurora's own roles (the Aurora User Guide, "Understanding PostgreSQL roles and permissions"),
# role names PostgreSQL itself refuses (CREATE ROLE: public, none and the current_* / session_user keywords), and
# PostgreSQL's reserved key words (PostgreSQL documentation, Appendix C "SQL Key Words": reserved, and reserved
# that can be a function or type name; pg_get_keywords() catcode R and T of PostgreSQL 15).
AURORA_RESERVED_ROLES = frozenset((
    "rdsadmin", "rdsrepladmin", "rdstopmgr", "rds_superuser", "rds_ad", "rds_iam", "rds_password", "rds_replication",
    "public", "none"))
POSTGRESQL_RESERVED_WORDS = frozenset("""
    all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation
    column concurrently constraint create cross current_catalog current_date current_role current_schema current_time
    current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze
    from full grant group having ilike in initially inner intersect into is isnull join lateral leading left like
    limit localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing primary
    references returning right select session_user similar some symmetric table tablesample then to trailing true
    union unique user using variadic verbose when where window with""".split())
# MasterUserPassword (rds model): CreateDBCluster 8-41 characters; CreateDBInstance "RDS for PostgreSQL - Must
# contain from 8 to 128 characters"; any printable ASCII except / " and @. The Aurora User Guide's naming constraints
# exclude ' and the space too.
MASTER_PASSWORD_LENGTH = (8, 41)
MASTER_PASSWORD_LENGTHS = {"aurora-postgresql": MASTER_PASSWORD_LENGTH, "postgres": (8, 128)}
MASTER_PASSWORD_EXCLUDED = "/\"@' "
# DBInstanceClass (rds model: "for example db.m5.large"; Aurora Serverless v2 is db.serverless).
_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+(\.[a-z0-9]+)?$")


def _validate_iam_identifiers(resource_type, name=None, path=None):
    """amazon.aws's rule for IAM names and paths, imported when first used: its iam module_utils load botocore."""
    from ansible_collections.amazon.aws.plugins.module_utils.iam import validate_iam_identifiers

    return validate_iam_identifiers(resource_type, name=name, path=path)


def iam_role_name_problem(value, variable, hint=None):
    """An IAM role name, by amazon.aws's validate_iam_identifiers (1-64 of [\\w+=,.@-]) and ASCII only: the IAM API
    reference gives RoleName as upper and lower case alphanumerics and _+=,.@- (Python's \\w takes any letter).
    The message names variable and the fix (hint, when given, is appended); None when the value passes."""
    if isinstance(value, str) and value.startswith("arn:"):
        problem = f"{variable} {value!r} is an ARN: give the role's name, not the ARN (the part after role/)"
    elif not isinstance(value, str) or not value:
        problem = f"{variable} {value!r} is not an IAM role name: give the name of the IAM role, 1-64 letters, digits or +=,.@_-"
    else:
        reason = _validate_iam_identifiers("role", name=value) or (None if value.isascii() else "ASCII letters only")
        problem = f"{variable} {value!r} is not an IAM role name: 1-64 letters, digits or +=,.@_- ({reason})" if reason else None
    return f"{problem}: {hint}" if problem and hint else problem


def iam_path_problem(value, variable):
    """An IAM path, by amazon.aws's validate_iam_identifiers, which amazon.aws.iam_role applies to the role it makes
    (stricter than the IAM model's \\u0021-\\u007E: the rule that binds is the module's)."""
    reason = ("not a string" if not isinstance(value, str) or not value
              else _validate_iam_identifiers("role", path=value) or (None if value.isascii() else "ASCII only"))
    if reason is None:
        return None
    return f"{variable} must start and end with /, with letters, digits or +=,.@_- between ({reason}; got {value!r}): use / or e.g. /rds/"


def rds_id_problem(value, variable, room=0, example="orders-prod"):
    """What RDS refuses in a DB cluster, instance or snapshot identifier (DBClusterIdentifier and
    DBInstanceIdentifier of the rds model), in lower case; room keeps characters free for a suffix the role adds
    (the instance ids <cluster_id>-N). The message names variable and the fix; None when the value passes."""
    limit = RDS_ID_MAX - room
    if isinstance(value, str) and _LOWER_ID.match(value) and len(value) <= limit:
        return None
    shown = value if isinstance(value, str) else repr(value)
    length = f", {len(value)} characters" if isinstance(value, str) else ""
    why = (f", at most {limit} characters so that the instance ids <{variable}>-N fit RDS's {RDS_ID_MAX}" if room
           else f", at most {RDS_ID_MAX} characters")
    return (f"{variable} must be lower-case letters, digits and single hyphens, starting with a letter and not ending "
            f"with a hyphen{why} (got {shown}{length}): use e.g. {example}")


def master_username_problem(value, variable):
    """What Aurora PostgreSQL refuses as the master user name, or None."""
    if not isinstance(value, str) or not _MASTER_USERNAME.match(value):
        return (f"{variable} must be 1-{MASTER_USERNAME_MAX} letters, digits or underscores, starting with a letter "
                f"(got {value!r}): use e.g. postgres or dbadmin")
    if value.lower() in AURORA_RESERVED_ROLES or value.lower().startswith("pg_"):
        return (f"{variable} {value!r} is a name Aurora or PostgreSQL keeps for its own roles "
                f"({', '.join(sorted(AURORA_RESERVED_ROLES))}, pg_*): "
                "use e.g. postgres or dbadmin")
    if value.lower() in POSTGRESQL_RESERVED_WORDS:
        return (f"{variable} {value!r} is a reserved word of PostgreSQL, which RDS refuses as the master user name: "
                "use e.g. postgres or dbadmin")
    return None


def master_password_problem(value, variable, engine="aurora-postgresql"):
    """What RDS refuses in a master password of engine's cluster or instance, or None. The password is never part
    of the message."""
    low, high = MASTER_PASSWORD_LENGTHS[engine]
    if (isinstance(value, str) and low <= len(value) <= high
            and all(32 <= ord(c) < 127 and c not in MASTER_PASSWORD_EXCLUDED for c in value)):
        return None
    what = "an Aurora cluster" if engine == "aurora-postgresql" else "an RDS for PostgreSQL instance"
    return (f"{variable} must be {low}-{high} printable ASCII characters without / \" @ ' or a space (RDS's rules "
            f"for the master password of {what}): choose another password")


def instance_class_problem(value, variable):
    """An instance class not in RDS's db.<family>.<size> form, or None."""
    if isinstance(value, str) and _INSTANCE_CLASS.match(value):
        return None
    hint = f"db.{value}" if isinstance(value, str) and re.match(r"^[a-z0-9]+\.[a-z0-9]+$", value) else "db.r6g.large"
    return (f"{variable} must be an RDS DB instance class, db.<family>.<size> or db.serverless (got {value!r}): "
            f"use e.g. {hint}")


# Multi-AZ DB clusters (the non-Aurora kind, engine postgres or mysql) do not support Kerberos authentication
# (Amazon RDS User Guide, "Limitations of Multi-AZ DB clusters for Amazon RDS").
MULTI_AZ_NO_KERBEROS = ("Multi-AZ DB clusters do not support Kerberos authentication (Amazon RDS User Guide, "
                        "\"Limitations of Multi-AZ DB clusters for Amazon RDS\")")


def is_aurora(resource):
    return (resource.get("Engine") or "aurora").startswith("aurora")


def kind_problem(value, variable, kind="aurora"):
    """What the cluster role refuses to manage as its cluster_kind, read before anything is written: with kind
    instance, a DB instance of a cluster (an Aurora cluster holds the membership, a Multi-AZ DB cluster has no
    Kerberos) or of another engine; with kind aurora, a Multi-AZ DB cluster. value: the DB instance or cluster as
    amazon.aws's rds_instance_info or rds_cluster_info answer it (snake_case), empty when there is none yet. The
    message names variable; None when the resource may be managed."""
    if not value:
        return None
    engine = value.get("engine") or ""
    if kind == "instance":
        name, owner = value.get("db_instance_identifier"), value.get("db_cluster_identifier")
        if owner and is_aurora({"Engine": engine}):
            return (f"{variable} {name} is a DB instance of Aurora cluster {owner}, which holds the domain membership for "
                    f"all its instances: set cluster_kind aurora and {variable} {owner}")
        if owner:
            return (f"{variable} {name} is a DB instance of Multi-AZ DB cluster {owner}: {MULTI_AZ_NO_KERBEROS}. Use a "
                    "single DB instance (or a Multi-AZ DB instance deployment) of RDS for PostgreSQL, or an Aurora "
                    "PostgreSQL cluster (cluster_kind aurora)")
        if engine != "postgres":
            return (f"{variable} {name} is a DB instance of engine {engine}: cluster_kind instance manages RDS for "
                    "PostgreSQL (engine postgres); give the identifier of one")
        return None
    if not is_aurora({"Engine": engine}):
        return (f"{variable} {value.get('db_cluster_identifier')} is a Multi-AZ DB cluster of engine {engine}: "
                f"{MULTI_AZ_NO_KERBEROS}. Use an Aurora PostgreSQL cluster, or an RDS for PostgreSQL DB instance "
                "(cluster_kind instance)")
    return None
