"""RDS fidelity: Aurora PostgreSQL clusters that lead to the lab's real PostgreSQL, and domain
membership (Kerberos) that moves, fails and leaves as AWS_FACTS.md sections 3, 4 and 5 say.

moto 5.2.5 is patched at runtime, never edited. What changes (lab/README.md, "RDS"):

Clusters and instances (aurora-postgresql)
  - Status: creating -> available over knob cluster_seconds, computed when read.
  - Each cluster has its own PostgreSQL server (servers.py), started at CreateDBCluster and removed
    with the cluster; so has a DB instance of engine postgres outside a cluster. Endpoint,
    ReaderEndpoint and each instance's Endpoint.Address have AWS's form with the partition's suffix;
    the server listens on the Port asked, at an address of its own in the lab's namespace.
  - MasterUsername + MasterUserPassword become a LOGIN CREATEROLE CREATEDB role in rds_superuser
    (never a superuser) in that server; DatabaseName a database it owns; ModifyDBCluster
    MasterUserPassword changes the password.
    ManageMasterUserPassword: the Secrets Manager secret holds {"username", "password"} with the
    real master name and a random password, and that password is the PostgreSQL one; rotation
    writes a new secret version and changes PostgreSQL too.
  - When the cluster is the demo cluster (LAB_PG_CLUSTER) and its master user the contract's
    (LAB_PG_MASTER_USER), secrets.json and env follow a new master password.

Domain membership (cluster, shown on every instance of the cluster)
  - Domain + DomainIAMRoleName on CreateDBCluster / ModifyDBCluster (and on a standalone
    CreateDBInstance / ModifyDBInstance) are checked at call time: unknown directory ->
    DomainNotFoundFault; directory not Active -> InvalidParameterCombination; missing role or a
    trust policy without the Region's directory-service principal (partitions.py: global,
    regionalized in opt-in Regions, engine-specific from ca-west-1 on) -> InvalidParameterCombination "IAM role
    provided is not valid, ..."; Domain on an instance of an Aurora cluster -> InvalidParameterCombination.
  - The join moves pending-enable-kerberos -> enabling-kerberos -> kerberos-enabled over knob
    join_seconds, or ends in enable-kerberos-failed with the cause as an RDS event when the role
    lacks the AmazonRDSDirectoryServiceAccess permissions, when no DB security group accepts the
    directory's security group, or when the fault fail_next_join is set (consumed by the join).
  - Domain "none" (or DisableDomain on an instance) goes pending-disable-kerberos ->
    disabling-kerberos over join_seconds, then the membership is gone. The same directory id on a
    failed membership retries the join; a new directory id moves the cluster.
  - The membership lives on the moto object as `lab_membership` (a dict with "domain", "status",
    "iam_role_name", "fqdn", "dns_ips", "failure", ...; None when not a member), read by ds.py.
  - Kerberos follows the membership (kerberos.py, AWS_FACTS section 10): reaching kerberos-enabled
    makes the member's AD account with postgres/<endpoint> SPNs and gives PostgreSQL their keys; a
    completed leave, a replaced join or a deletion takes them away. A timer moves each membership
    along when its time is up, so this happens then even if nobody reads the membership.

Catalogue
  - DescribeOrderableDBInstanceOptions adds aurora-postgresql 15.x/16.x/17.x rows and filters on
    DBInstanceClass, LicenseModel and Vpc; DescribeDBEngineVersions answers (moto: 500).
  - DescribeEvents: the lab's events, StartTime/EndTime/Duration (default: the last hour) and
    EventCategories filters.
"""

import datetime
import fnmatch
import ipaddress
import json
import secrets
import shlex
import string
import threading
import urllib.parse
from pathlib import Path

from . import kerberos
from . import partitions
from . import servers

ENGINE = "aurora-postgresql"
RDS_DS_ACTIONS = ("ds:DescribeDirectories", "ds:AuthorizeApplication", "ds:UnauthorizeApplication",
                  "ds:GetAuthorizedApplicationDetails")
DEFAULT_DOMAIN_ROLE = "rds-directoryservice-access-role"  # what the console creates when none is given
INVALID_ROLE = "IAM role provided is not valid, please check that the role exists and has the correct policies"
ENABLE_STAGES = ("pending-enable-kerberos", "enabling-kerberos")
DISABLE_STAGES = ("pending-disable-kerberos", "disabling-kerberos")
# Aurora's own roles, and names PostgreSQL itself reserves.
RESERVED_MASTER_NAMES = {"rdsadmin", "rdsrepladmin", "rdstopmgr", "rds_superuser", "rds_ad", "rds_iam",
                         "rds_password", "rds_replication", "public", "none", "current_user", "session_user",
                         "current_role"}
DEFAULT_ENGINE_VERSION = "16.6"

_LAB = None
_LOCK = threading.RLock()
# Master-user writes and restarts of a server (rds_params.py) take turns: a restart would cut the connection.
_PG_MASTER_LOCK = threading.Lock()
_INSTALLED = False


# --- helpers ---------------------------------------------------------------------------------

def _error(code, message):
    from moto.rds.exceptions import RDSClientError

    return RDSClientError(code, message)


def _utc(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).replace(tzinfo=None)


def _naive_utc(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, (int, float)):
        return _utc(value)
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def _is_lab_cluster(cluster):
    return cluster.__dict__.get("engine") == ENGINE


def _is_clustered(instance):
    return bool(instance.__dict__.get("db_cluster_identifier"))


def _is_lab_instance(instance):
    return _is_clustered(instance) and instance.__dict__.get("engine") == ENGINE


def _is_server_instance(instance):
    """An RDS for PostgreSQL instance outside a cluster: it has a server of its own."""
    return not _is_clustered(instance) and instance.__dict__.get("engine") == "postgres"


def _server_of(resource):
    """The PostgreSQL server behind a cluster, an instance of it, or a standalone postgres instance."""
    if _is_clustered(resource):
        cluster = resource.backend.clusters.get(resource.__dict__.get("db_cluster_identifier") or "")
        return servers.get(cluster.arn) if cluster is not None else None
    return servers.get(resource.arn)


def _directory(account_id, region, directory_id):
    """The directory as the calling account sees it (a consumer sees its own SharedDirectoryId)."""
    from moto.ds.models import ds_backends

    return ds_backends[account_id][region].directories.get(directory_id)


def _role(account_id, partition, role_name):
    from moto.iam.models import iam_backends

    try:
        return iam_backends[account_id][partition].get_role(role_name)
    except Exception:  # moto's NotFoundException
        return None


def _statements(document):
    if not document:
        return []
    if isinstance(document, str):
        text = document
        if text.lstrip().startswith("%7B") or text.lstrip().startswith("%7b"):
            text = urllib.parse.unquote(text)
        try:
            document = json.loads(text)
        except ValueError:
            return []
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _trusts_rds_directory_service(role, region):
    """The role trusts the directory-service principal RDS uses in this Region (AWS_FACTS section 3)."""
    needed = partitions.directory_principal(region)
    for statement in _statements(role.assume_role_policy_document):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        if not any(fnmatch.fnmatchcase("sts:AssumeRole", a) for a in actions):
            continue
        principal = statement.get("Principal") or {}
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if needed in services:
            return True
    return False


def _still_propagating(role):
    """IAM is eventually consistent (AWS_FACTS section 3): for knob iam_propagation_seconds after CreateRole,
    RDS does not see the role yet and answers as for an invalid one [inferred: the error AWS gives then]."""
    age = (_utc(_LAB.now()) - _naive_utc(role.create_date)).total_seconds()
    return age < float(_LAB.knobs.get("iam_propagation_seconds", 0))


def _has_directory_permissions(role):
    """The AWS managed policy, or policies that allow the same ds actions (AWS_FACTS section 3)."""
    if partitions.managed_policy_arn(role.partition) in role.managed_policies:
        return True
    documents = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in getattr(policy, "versions", []) if getattr(v, "is_default", False)]
    allowed = set()
    for document in documents:
        for statement in _statements(document):
            if statement.get("Effect") != "Allow":
                continue
            for pattern in _as_list(statement.get("Action")):
                allowed |= {a for a in RDS_DS_ACTIONS if fnmatch.fnmatchcase(a.lower(), str(pattern).lower())}
    return allowed == set(RDS_DS_ACTIONS)


# --- the lab PostgreSQL ----------------------------------------------------------------------

def _pg_master(resource, username, password, database=None):
    """Make the master user exist in the resource's server with this password, as Aurora's master is;
    and the database DatabaseName asked for, owned by it."""
    from psycopg2 import sql

    server = _server_of(resource)
    if server is None:
        return
    ident = sql.Identifier(username)
    with _PG_MASTER_LOCK:
        conn = server.admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER CREATEROLE CREATEDB PASSWORD %s").format(ident),
                            (password,))
                cur.execute(sql.SQL("GRANT rds_superuser TO {}").format(ident))
                if database:
                    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                    if not cur.fetchone():
                        cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), ident))
        finally:
            conn.close()
        demo = _LAB.env.get("LAB_PG_CLUSTER")
        if (username == _LAB.env.get("LAB_PG_MASTER_USER", "postgres") and demo
                and getattr(resource, "db_cluster_identifier", None) == demo):
            _save_contract_master_password(password)


def _save_contract_master_password(password):
    """The contract's master user got a new password through the API: keep secrets.json and env in step."""
    if not _LAB.state_dir:
        return
    secrets_file = Path(_LAB.state_dir) / "secrets.json"
    if secrets_file.exists():
        values = json.loads(secrets_file.read_text())
        if values.get("master_password") != password:
            values["master_password"] = password
            secrets_file.write_text(json.dumps(values, indent=2))
    env_file = Path(_LAB.state_dir) / "env"
    if env_file.exists():
        lines = [f"export LAB_PG_MASTER_PASSWORD={shlex.quote(password)}"
                 if line.startswith("export LAB_PG_MASTER_PASSWORD=") else line
                 for line in env_file.read_text().splitlines()]
        env_file.write_text("\n".join(lines) + "\n")


def _secret_password(master_user_secret):
    """The AWSCURRENT password (moto keeps the first value in secret_string, the current one in versions)."""
    secret = master_user_secret.secretsmanager.secrets[master_user_secret.secret.arn]
    current = secret.versions.get(secret.default_version_id) or {}
    return json.loads(current.get("secret_string") or secret.secret_string)["password"]


def _sync_master(resource, database=None):
    """Give the resource's server its current master password (given, or from the managed secret)."""
    if not resource.master_username or _server_of(resource) is None:
        return
    if resource.__dict__.get("manage_master_user_password") and hasattr(resource, "master_user_secret"):
        password = _secret_password(resource.master_user_secret)
    else:
        password = resource.__dict__.get("_master_user_password") or resource.__dict__.get("master_user_password")
    if password:
        _pg_master(resource, resource.master_username, password, database)


def _start_database(resource, database_name, forget):
    """The new resource's own server, master user and DatabaseName; on a failure nothing is left: forget()
    takes the resource out of moto and its server is stopped."""
    try:
        _start_server(resource, resource.__dict__.get("_lab_port"))
        _sync_master(resource, database_name)
    except Exception:
        forget()
        servers.stop(resource.arn)
        raise


def _start_server(resource, asked_port):
    """The resource's own PostgreSQL (servers.py); None when the endpoint runs without a lab template."""
    if not servers.enabled():
        return None
    try:
        return servers.start(resource.arn, resource.resource_id, asked_port)
    except servers.ServerError as exc:
        raise _error("InternalFailure", f"lab: {exc}") from exc


def _random_password():
    """As RDS makes them for managed secrets: long, printable, without / @ " or space."""
    alphabet = string.ascii_letters + string.digits + "!#$%&()*+,-.:;<=>?[]^_{|}~"
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(32))
        if any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value):
            return value


# MasterUserPassword lengths (rds model): CreateDBCluster 8-41; CreateDBInstance, RDS for PostgreSQL, 8-128.
PASSWORD_LENGTHS = {ENGINE: (8, 41), "postgres": (8, 128)}


def _reserved_words():
    """PostgreSQL's reserved key words, as the engine lists them (lab.py writes them when it makes the template);
    none when this endpoint runs without a template."""
    if not (_LAB and _LAB.env.get("LAB_PG_TEMPLATE")):
        return frozenset()
    path = Path(_LAB.env["LAB_PG_TEMPLATE"]).with_name("reserved_words")
    return frozenset(path.read_text().split()) if path.exists() else frozenset()


def _validate_master(kwargs, creating, engine=ENGINE):
    """RDS's rules for the master user (rds model, CreateDBCluster/CreateDBInstance MasterUsername: 1 to 16
    characters, a letter first, not a reserved word of the engine; MasterUserPassword: printable ASCII without
    / " @, 8-41 characters for Aurora, 8-128 for RDS for PostgreSQL). The wording of the refusals is [inferred]."""
    username = kwargs.get("master_username")
    if creating and username is not None:
        if (not username or len(username) > 16 or not username[0].isalpha()
                or not all(c.isascii() and (c.isalnum() or c == "_") for c in username)):
            raise _error("InvalidParameterValue", "The parameter MasterUsername is not a valid identifier. "
                         "Identifiers must begin with a letter; must contain only ASCII letters, digits, and "
                         "underscores; and must be 1 to 16 characters long.")
        word = username.lower()
        if word in RESERVED_MASTER_NAMES or word.startswith("pg_") or word in _reserved_words():
            raise _error("InvalidParameterValue",
                         f"MasterUsername {username} cannot be used as it is a reserved word used by the engine")
    password = kwargs.get("master_user_password")
    if password is not None and kwargs.get("manage_master_user_password"):
        raise _error("InvalidParameterCombination",
                     "You can't specify MasterUserPassword when ManageMasterUserPassword is turned on.")
    if password:
        if any(c in '/@" ' or not (32 <= ord(c) < 127) for c in password):
            raise _error("InvalidParameterValue", "The parameter MasterUserPassword is not a valid password. "
                         "Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.")
        low, high = PASSWORD_LENGTHS[engine]
        if len(password) < low:
            raise _error("InvalidParameterValue", "The parameter MasterUserPassword is not a valid password because "
                         f"it is shorter than {low} characters.")
        if len(password) > high:
            raise _error("InvalidParameterValue", "The parameter MasterUserPassword is not a valid password because "
                         f"it is longer than {high} characters.")


def endpoints():
    """{endpoint name: {"address", "port", "resource"}} of every cluster and instance with a server of its own:
    what `lab.py resolve` prints. A cluster's writer, reader and instance endpoints lead to its one server."""
    from moto.rds.models import rds_backends

    found = {}
    for account in list(rds_backends.values()):
        for backend in list(account.values()):
            for cluster in list(backend.clusters.values()):
                server = servers.get(cluster.arn)
                if server is None:
                    continue
                names = [cluster.endpoint, cluster.reader_endpoint] + [
                    db.address for db in list(backend.databases.values())
                    if db.__dict__.get("db_cluster_identifier") == cluster.db_cluster_identifier]
                for name in names:
                    found[name] = {"address": server.address, "port": server.port, "resource": cluster.arn}
            for database in list(backend.databases.values()):
                server = servers.get(database.arn)
                if server is not None:
                    found[database.address] = {"address": server.address, "port": server.port, "resource": database.arn}
    return found


# --- domain membership -----------------------------------------------------------------------

class LabEvent:
    """An RDS event the lab emits (moto's Event only knows its own fixed list)."""

    def __init__(self, resource, source_type, message, categories, date):
        self.source_identifier = resource.resource_id
        self.source_type = source_type
        self.message = message
        self.event_categories = list(categories)
        self.source_arn = resource.arn
        self.date = date


def _kind(resource):
    from moto.rds.models import DBCluster

    return ("db-cluster", "DB cluster") if isinstance(resource, DBCluster) else ("db-instance", "DB instance")


def _emit(resource, message, categories, when):
    source_type, dummy = _kind(resource)
    resource.backend.events.append(LabEvent(resource, source_type, message, categories, _utc(when)))


def _check_domain(resource_backend, domain, role_name):
    """Call-time checks (AWS_FACTS sections 1, 3, 4): the directory, its stage, the role and its trust."""
    directory = _directory(resource_backend.account_id, resource_backend.region_name, domain)
    if directory is None:
        raise _error("DomainNotFoundFault", f"Domain {domain} not found.")
    if getattr(directory, "directory_type", "MicrosoftAD") not in ("MicrosoftAD", "SharedMicrosoftAD"):
        raise _error("InvalidParameterCombination",
                     f"Directory {domain} is a {directory.directory_type}: Kerberos authentication needs an "
                     "AWS Managed Microsoft AD directory.")
    share = getattr(directory, "lab_share", None)  # ds.py's consumer-side view of a shared directory
    if share is not None and share.get("ShareStatus") != "Shared":
        raise _error("InvalidParameterCombination",
                     f"The shared directory {domain} is {share.get('ShareStatus')}: accept the share "
                     "(AcceptSharedDirectory) before using it for Kerberos authentication.")
    stage = directory.stage
    if stage != "Active":
        raise _error("InvalidParameterCombination",
                     f"The directory {domain} is in the {stage} stage: it must be Active to be used for "
                     "Kerberos authentication.")
    role = _role(resource_backend.account_id, resource_backend.partition, role_name)
    if role is None or not _trusts_rds_directory_service(role, resource_backend.region_name):
        raise _error("InvalidParameterCombination", INVALID_ROLE)
    if _still_propagating(role):
        raise _error("InvalidParameterCombination", INVALID_ROLE)
    return directory, role


def _security_group_failure(resource, directory):
    """None when one of the DB's security groups accepts the directory's SG (AWS_FACTS section 2)."""
    from moto.ec2.models import ec2_backends

    directory = getattr(directory, "lab_owner", directory)  # a shared directory: the owner's controllers
    directory_sg = getattr(directory, "security_group_id", None)
    if not directory_sg:
        return None
    ec2 = ec2_backends[resource.account_id][resource.region]
    group_ids = list(resource.vpc_security_group_ids or [])
    if not group_ids:  # no groups given: AWS uses the VPC's default group
        name = resource.__dict__.get("db_subnet_group_name") or resource.__dict__.get("_db_subnet_group_name")
        subnet_group = resource.backend.subnet_groups.get(name or "")
        default = ec2.get_default_security_group(subnet_group.vpc_id if subnet_group else None)
        group_ids = [default.id] if default else []
    ports = {resource.__dict__.get("_lab_port")}
    server = _server_of(resource)
    if server is not None:
        ports.add(server.port)
    ports.discard(None)
    directory_ips = []
    for address in list(getattr(directory, "subnet_ips", None) or []) + list(getattr(directory, "dns_ip_addrs", None) or []):
        try:
            directory_ips.append(ipaddress.ip_address(address))
        except ValueError:
            pass
    for group_id in group_ids:
        group = ec2.get_security_group_from_id(group_id)
        if group is None:
            continue
        for rule in group.ingress_rules:
            from_sg = (rule.source_group or {}).get("GroupId") == directory_sg
            cidr = (rule.ip_range or {}).get("CidrIp")
            from_cidr = False
            if cidr and directory_ips:
                network = ipaddress.ip_network(cidr, strict=False)
                from_cidr = all(ip in network for ip in directory_ips)
            if not (from_sg or from_cidr):
                continue
            if rule.ip_protocol == "-1":
                return None
            if rule.ip_protocol == "tcp" and any(rule.from_port <= p <= rule.to_port for p in ports):
                return None
    shown = ", ".join(group_ids) or "none"
    dummy, noun = _kind(resource)
    return (f"the {noun}'s VPC security groups ({shown}) do not allow inbound traffic from the directory's "
            f"security group {directory_sg}")


# The AD ports a DB outside the directory's VPC needs into the domain controllers' SG (AWS_FACTS section 2;
# the exact ports are inferred there): (protocol, from, to).
CONTROLLER_PATH_PORTS = (("tcp", 53, 53), ("udp", 53, 53), ("tcp", 88, 88), ("udp", 88, 88), ("tcp", 464, 464),
                         ("udp", 464, 464), ("tcp", 389, 389), ("udp", 389, 389), ("tcp", 445, 445),
                         ("tcp", 135, 135), ("tcp", 636, 636), ("tcp", 3268, 3269), ("tcp", 1024, 65535))


def _controller_path_failure(resource, directory):
    """None when the DB is in the directory's VPC, or the domain controllers' SG admits it on every AD port:
    from one of its security groups across an active peering of the two VPCs, or from a CIDR that holds all
    of its subnets (AWS_FACTS section 2: the controllers' SG admits only the directory VPC's CIDR)."""
    from moto.ec2.models import ec2_backends

    directory = getattr(directory, "lab_owner", directory)
    controllers_sg = getattr(directory, "security_group_id", None)
    directory_vpc = (getattr(directory, "vpc_settings", None) or {}).get("VpcId")
    name = resource.__dict__.get("db_subnet_group_name") or resource.__dict__.get("_db_subnet_group_name")
    subnet_group = resource.backend.subnet_groups.get(name or "")
    if not controllers_sg or not directory_vpc or subnet_group is None or subnet_group.vpc_id == directory_vpc:
        return None
    ec2 = ec2_backends[resource.account_id][resource.region]
    group = ec2.get_security_group_from_id(controllers_sg)
    if group is None:
        return None
    db_groups = set(resource.vpc_security_group_ids or [])
    peered = any(
        p._status.code == "active" and {p.vpc.id, p.peer_vpc.id} == {subnet_group.vpc_id, directory_vpc}
        for p in ec2.vpc_pcxs.values())
    db_networks = [ipaddress.ip_network(s.cidr_block) for s in subnet_group._subnets]

    def covers(rule, protocol, low, high):
        if rule.ip_protocol not in ("-1", protocol):
            return False
        return rule.ip_protocol == "-1" or (rule.from_port <= low and high <= rule.to_port)

    def admits(protocol, low, high):
        rules = [rule for rule in group.ingress_rules if covers(rule, protocol, low, high)]
        if peered and any((rule.source_group or {}).get("GroupId") in db_groups for rule in rules):
            return True
        cidrs = [ipaddress.ip_network(rule.ip_range["CidrIp"], strict=False) for rule in rules
                 if (rule.ip_range or {}).get("CidrIp")]
        return bool(db_networks) and all(any(n.subnet_of(c) for c in cidrs) for n in db_networks)

    missing = [f"{protocol}/{low}" + (f"-{high}" if high != low else "") for protocol, low, high in CONTROLLER_PATH_PORTS
               if not admits(protocol, low, high)]
    if not missing:
        return None
    dummy, noun = _kind(resource)
    return (f"the {noun} in VPC {subnet_group.vpc_id} cannot reach the directory's domain controllers in VPC "
            f"{directory_vpc}: their security group {controllers_sg} does not allow inbound traffic from the "
            f"{noun}'s security groups or subnets on {', '.join(missing)}")


def _start_join(resource, directory, role, role_name):
    cause = None
    if not _has_directory_permissions(role):
        cause = (f"the IAM role {role_name} does not have the permissions of "
                 f"{partitions.managed_policy_arn(role.partition)} "
                 f"({', '.join(RDS_DS_ACTIONS)})")
    if cause is None:
        cause = _security_group_failure(resource, directory)
    if cause is None:
        cause = _controller_path_failure(resource, directory)
    injected = _LAB.faults.pop("fail_next_join")
    if cause is None and injected:
        cause = injected if isinstance(injected, str) else "injected failure (fail_next_join)"
    resource._lab_membership = {
        "domain": directory.directory_id,
        "iam_role_name": role_name,
        "fqdn": directory.name,
        "dns_ips": list(getattr(directory, "dns_ip_addrs", None) or []),
        "action": "enable",
        "started": _LAB.now(),
        "seconds": float(_LAB.knobs["join_seconds"]),
        "status": ENABLE_STAGES[0],
        "failure": cause,
        "event_sent": False,
    }
    _wake(resource)


def _start_leave(resource):
    membership = resource.__dict__.get("_lab_membership")
    if membership is None:
        return
    membership = dict(membership, action="disable", started=_LAB.now(), seconds=float(_LAB.knobs["join_seconds"]),
                      status=DISABLE_STAGES[0], held_since=None)
    resource._lab_membership = membership
    _wake(resource)


def _wake(resource):
    """Move the membership along when its time is up even if nobody reads it, so that the directory and
    the keys follow (kerberos.py) at that moment, not at the next read. Reads still move it too."""
    timer = threading.Timer(resource._lab_membership["seconds"] + 0.05, _refresh, [resource])
    timer.daemon = True
    timer.start()


def _refresh(resource):
    """The membership as it stands now (lazily moved along); None when not a member."""
    with _LOCK:
        membership = resource.__dict__.get("_lab_membership")
        if membership is None:
            return None
        held = membership.get("held_since")
        if held is not None:
            opens = held + float(_LAB.knobs.get("maintenance_window_seconds", 3600))
            if _LAB.now() < opens:
                membership["status"] = f"pending-maintenance-{membership['action']}-kerberos"
                return membership
            membership.update(held_since=None, started=opens)  # the window: the change runs as usual
        if membership["action"] == "enable":
            final = "enable-kerberos-failed" if membership["failure"] else "kerberos-enabled"
            status = _LAB.progress(membership["started"], membership["seconds"], [*ENABLE_STAGES, final])
            if status == "enable-kerberos-failed" and not membership["event_sent"]:
                membership["event_sent"] = True
                dummy, noun = _kind(resource)
                _emit(resource, f"Kerberos authentication could not be enabled for the {noun} in domain "
                      f"{membership['domain']}: {membership['failure']}. Fix the problem, then modify the "
                      f"{noun} again with the same domain to retry.", ["failure"],
                      membership["started"] + membership["seconds"])
            membership["status"] = status
            if status == "kerberos-enabled":
                # The join made the account, its service principals and keys (AWS_FACTS section 10). Each
                # read checks again (cheap when nothing changed), so a sync that failed is retried.
                if membership.get("kerberos_since") is None:
                    membership["kerberos_since"] = membership["started"] + membership["seconds"]
                kerberos.sync()
            return membership
        status = _LAB.progress(membership["started"], membership["seconds"], [*DISABLE_STAGES, None])
        if status is None:
            resource._lab_membership = None
            if membership.get("kerberos_since") is not None:
                kerberos.sync()  # left: the account and its keys are gone
            return None
        membership["status"] = status
        return membership


def _hold_for_window(resource):
    """ApplyImmediately=false: RDS holds the join (or leave) for the maintenance window, and the membership reads
    pending-maintenance-enable-kerberos (-disable-) until then (AWS_FACTS section 4). The lab's window opens
    knob maintenance_window_seconds after the request (read when the membership is read); the change then runs as
    usual [inferred: AWS applies it in the window]. An omitted ApplyImmediately is applied at once here, unlike
    AWS, whose default is false [lab leniency]."""
    membership = resource.__dict__.get("_lab_membership")
    if membership is not None:
        resource._lab_membership = dict(membership, held_since=_LAB.now(),
                                        status=f"pending-maintenance-{membership['action']}-kerberos")


def _plan_domain(resource, domain, role_name, disable=False):
    """The change Domain / DomainIAMRoleName (or DisableDomain) asks for, checked now: the checks raise
    before anything changes. Returns a function that applies the change to a resource, or None."""
    current = _refresh(resource)
    if disable or (domain is not None and domain.lower() == "none"):
        if current is not None and current["action"] == "enable":
            return _start_leave
        return None
    if domain is None:
        if role_name is None or current is None or current["action"] != "enable":
            return None
        domain = current["domain"]  # a new role for the current membership
    role_name = role_name or (current or {}).get("iam_role_name") or DEFAULT_DOMAIN_ROLE
    directory, role = _check_domain(resource.backend, domain, role_name)
    if (current is not None and current["action"] == "enable" and current["domain"] == domain
            and current["iam_role_name"] == role_name and current["status"] != "enable-kerberos-failed"):
        return None  # joined or joining already: nothing to do
    return lambda target: _start_join(target, directory, role, role_name)


def _membership_view(membership):
    if membership is None:
        return []
    view = {"Domain": membership["domain"], "Status": membership["status"], "FQDN": membership["fqdn"],
            "IAMRoleName": membership["iam_role_name"]}
    if membership["dns_ips"]:
        view["DnsIps"] = list(membership["dns_ips"])
    return [view]


# --- patches ---------------------------------------------------------------------------------

def _patch_models():
    from moto.rds import models

    DBCluster, DBInstance, DBInstanceClustered = models.DBCluster, models.DBInstance, models.DBInstanceClustered

    # Cluster status: creating -> available over cluster_seconds, from when the cluster was created.
    def cluster_still_creating(self):
        if self.__dict__.get("_status") != "creating":
            return False
        created = self.__dict__.get("lab_created")
        if created is None:
            return False
        if _LAB.now() - created >= self.__dict__.get("lab_create_seconds", 0):
            self.__dict__["_status"] = "available"
            return False
        return True

    def cluster_status_get(self):
        if self.__dict__.get("_status") == "creating" and self.__dict__.get("lab_created") is None:
            self.__dict__["_status"] = "available"  # moto's own behaviour for clusters the lab did not make
            return "creating"
        return "creating" if cluster_still_creating(self) else self.__dict__.get("_status")

    def cluster_status_set(self, value):
        if value == "available" and cluster_still_creating(self):
            return  # moto marks it available at once; the lab lets creation take its time
        self.__dict__["_status"] = value

    DBCluster.status = property(cluster_status_get, cluster_status_set)

    # Endpoint names of AWS's form, in the partition's DNS suffix (servers.py).
    def names(self, reader=False):
        return servers.cluster_endpoint(self.db_cluster_identifier, self.account_id, self.region,
                                        partitions.dns_suffix(self.region), reader)

    DBCluster.endpoint = property(names)
    DBCluster.reader_endpoint = property(lambda self: names(self, reader=True))

    def cluster_port_set(self, value):
        self.__dict__["_lab_port"] = value

    DBCluster.port = property(lambda self: self.__dict__.get("_lab_port"), cluster_port_set)

    # Memberships: from lab_membership, never moto's fixed "active".
    def moto_memberships_set(self, value):
        self.__dict__["_moto_domain_memberships"] = value

    def lab_membership_set(self, value):
        self.__dict__["_lab_membership"] = value

    DBCluster.lab_membership = property(_refresh, lab_membership_set)
    DBCluster.domain_memberships = property(lambda self: _membership_view(_refresh(self)), moto_memberships_set)

    DBInstance.lab_membership = property(_refresh, lab_membership_set)
    DBInstance.domain_memberships = property(lambda self: _membership_view(_refresh(self)), moto_memberships_set)

    def clustered_membership(self):
        cluster = self.backend.clusters.get(self.__dict__.get("db_cluster_identifier") or "")
        return _refresh(cluster) if cluster is not None else None

    # The membership belongs to the cluster (ds.py finds it there); its instances only show it.
    DBInstanceClustered.lab_membership = property(lambda self: None, lab_membership_set)
    DBInstanceClustered.domain_memberships = property(lambda self: _membership_view(clustered_membership(self)),
                                                      moto_memberships_set)

    # Instance status: creating -> available over cluster_seconds, from the instance's creation.
    def instance_status_get(self):
        status = self.__dict__.get("_lab_status", "available")
        created = self.__dict__.get("lab_created")
        if status == "available" and created is not None and _LAB.now() - created < self.__dict__.get(
                "lab_create_seconds", 0):
            return "creating"
        return status

    def instance_status_set(self, value):
        self.__dict__["_lab_status"] = value

    DBInstance.status = property(instance_status_get, instance_status_set)

    DBInstance.address = property(lambda self: servers.instance_endpoint(
        self.db_instance_identifier, self.account_id, self.region, partitions.dns_suffix(self.region)))

    def instance_port_set(self, value):
        self.__dict__["_lab_port"] = value

    def instance_port_get(self):
        if _is_clustered(self):  # an instance of a cluster listens on the cluster's port
            cluster = self.backend.clusters.get(self.__dict__.get("db_cluster_identifier") or "")
            if cluster is not None:
                return cluster.port
        return self.__dict__.get("_lab_port")

    DBInstance.port = property(instance_port_get, instance_port_set)

    original_default_version = DBCluster.default_engine_version

    def default_engine_version(engine):
        return DEFAULT_ENGINE_VERSION if engine == ENGINE else original_default_version(engine)

    DBCluster.default_engine_version = staticmethod(default_engine_version)

    # Managed master password: the real master name and a random password, as RDS makes it.
    MasterUserSecret = models.MasterUserSecret

    def generate_secret_string(self):
        return json.dumps({"username": self.resource.master_username, "password": _random_password()})

    def rotate_secret(self):
        self._status = "rotating"
        value = json.dumps({"username": self.resource.master_username, "password": _random_password()})
        self.secretsmanager.put_secret_value(self.secret.arn, value, None, None, ["AWSCURRENT"])
        _sync_master(self.resource)

    MasterUserSecret._generate_secret_string = generate_secret_string
    MasterUserSecret.rotate_secret = rotate_secret


def _patch_backend():
    from moto.rds.exceptions import DBClusterNotFoundError, DBInstanceNotFoundError
    from moto.rds.models import RDSBackend

    original_create_cluster = RDSBackend.create_db_cluster
    original_modify_cluster = RDSBackend.modify_db_cluster
    original_create_instance = RDSBackend.create_db_instance
    original_modify_instance = RDSBackend.modify_db_instance
    original_describe_events = RDSBackend.describe_events
    original_orderable = RDSBackend.describe_orderable_db_instance_options

    def create_db_cluster(self, kwargs):
        # rds model, CreateDBCluster errors: DBClusterAlreadyExistsFault, "The user already has a DB cluster with the
        # given identifier" (the wording of AWS's answer [inferred] from it). moto answers a snapshot fault instead.
        if kwargs.get("db_cluster_identifier") in self.clusters:
            raise _error("DBClusterAlreadyExistsFault", "The user already has a DB cluster with the given identifier.")
        engine = kwargs.get("engine")
        domain, role_name = kwargs.get("domain"), kwargs.get("domain_iam_role_name")
        if engine == ENGINE:
            _validate_master(kwargs, creating=True)
        checked = None
        if domain and domain.lower() != "none":
            checked = _check_domain(self, domain, role_name or DEFAULT_DOMAIN_ROLE)
        cluster = original_create_cluster(self, kwargs)
        cluster.lab_membership = None
        if engine == ENGINE:
            _start_database(cluster, kwargs.get("database_name"),
                            lambda: self.clusters.pop(cluster.db_cluster_identifier, None))
        # Creation takes cluster_seconds from the answer on, however long the server took to start.
        cluster.lab_created = _LAB.now()
        cluster.lab_create_seconds = float(_LAB.knobs["cluster_seconds"])
        if checked is not None:
            _start_join(cluster, checked[0], checked[1], role_name or DEFAULT_DOMAIN_ROLE)
        return cluster

    def modify_db_cluster(self, kwargs):
        cluster_id = kwargs["db_cluster_identifier"]
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise DBClusterNotFoundError(cluster_id)
        if _is_lab_cluster(cluster):
            _validate_master(kwargs, creating=False)
        domain, role_name = kwargs.pop("domain", None), kwargs.pop("domain_iam_role_name", None)
        change = _plan_domain(cluster, domain, role_name)  # raises before moto changes anything
        later = str(kwargs.get("apply_immediately")).lower() == "false"
        password = kwargs.get("master_user_password")
        managed = kwargs.get("manage_master_user_password")
        result = original_modify_cluster(self, kwargs)
        if change is not None:
            change(cluster)
            if later:
                _hold_for_window(cluster)
            result.__dict__["_lab_membership"] = cluster.__dict__.get("_lab_membership")
            kerberos.sync()  # a join that replaces a joined one takes the old keys away
        if password or managed is not None:
            _sync_master(cluster)
        return result

    def create_db_instance(self, db_kwargs):
        domain, role_name = db_kwargs.get("domain"), db_kwargs.get("domain_iam_role_name")
        clustered = db_kwargs.get("db_cluster_identifier") is not None
        if clustered and (domain or role_name):
            raise _error("InvalidParameterCombination",
                         "Domain and DomainIAMRoleName can't be set on a DB instance of an Aurora DB cluster: "
                         "the domain is managed by the DB cluster (ModifyDBCluster).")
        if not clustered and db_kwargs.get("engine") == "postgres":
            _validate_master(db_kwargs, creating=True, engine="postgres")
        checked = None
        if domain and domain.lower() != "none":
            checked = _check_domain(self, domain, role_name or DEFAULT_DOMAIN_ROLE)
        busy = _LAB.faults.pop("cluster_busy_instances") if clustered else None
        if busy:
            # A cluster busy with another operation (its creation, the instance before) refuses a new instance
            # (hashicorp/terraform-provider-aws#50115); the wording is [inferred].
            if int(busy) > 1:
                _LAB.faults.update({"cluster_busy_instances": int(busy) - 1})
            raise _error("InvalidDBClusterStateFault",
                         f"DB cluster {db_kwargs['db_cluster_identifier']} is busy with another operation: try again later.")
        database = original_create_instance(self, db_kwargs)
        if _is_server_instance(database):
            _start_database(database, db_kwargs.get("db_name"),
                            lambda: self.databases.pop(database.db_instance_identifier, None))
        database.lab_created = _LAB.now()
        database.lab_create_seconds = float(_LAB.knobs["cluster_seconds"])
        if checked is not None:
            _start_join(database, checked[0], checked[1], role_name or DEFAULT_DOMAIN_ROLE)
        kerberos.sync()  # an instance of a joined cluster: its endpoint gets a principal too
        return database

    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        database = self.databases.get(db_instance_identifier)
        if database is None:
            raise DBInstanceNotFoundError(db_instance_identifier)
        domain, role_name = db_kwargs.pop("domain", None), db_kwargs.pop("domain_iam_role_name", None)
        disable = bool(db_kwargs.pop("disable_domain", False))
        touches_domain = domain is not None or role_name is not None or disable
        if touches_domain and _is_clustered(database):
            raise _error("InvalidParameterCombination",
                         "Domain and DomainIAMRoleName can't be set on a DB instance of an Aurora DB cluster: "
                         "the domain is managed by the DB cluster (ModifyDBCluster).")
        if _is_server_instance(database):
            _validate_master(db_kwargs, creating=False, engine="postgres")
        change = _plan_domain(database, domain, role_name, disable) if touches_domain else None
        password = db_kwargs.get("master_user_password")
        managed = db_kwargs.get("manage_master_user_password")
        result = original_modify_instance(self, db_instance_identifier, db_kwargs)
        if change is not None:
            change(database)
        if _is_server_instance(database) and (password or managed is not None):
            _sync_master(database)
        return result

    def describe_events(self, source_identifier=None, source_type=None, start_time=None, end_time=None,
                        duration=None, event_categories=None, **rest):
        with _LOCK:
            for cluster in list(self.clusters.values()):
                _refresh(cluster)
            for database in list(self.databases.values()):
                if not _is_clustered(database):
                    _refresh(database)
        events = original_describe_events(self, source_identifier=source_identifier, source_type=source_type)
        now = _utc(_LAB.now())
        end = _naive_utc(end_time) or now
        if start_time is not None:
            start = _naive_utc(start_time)
        elif duration is not None:
            start = end - datetime.timedelta(minutes=int(duration))
        else:
            start = now - datetime.timedelta(hours=1)  # AWS's default window
        events = [e for e in events if start <= _naive_utc(e.date) <= end]
        if event_categories:
            wanted = set(event_categories)
            events = [e for e in events if wanted & set(e.event_categories)]
        return sorted(events, key=lambda e: _naive_utc(e.date))

    def describe_orderable_db_instance_options(self, engine, engine_version):
        options = list(original_orderable(self, engine, engine_version))
        if engine == ENGINE:
            options += [o for o in _extra_orderable_options() if not engine_version or o["EngineVersion"] == engine_version]
        if engine == POSTGRES_ENGINE:
            options += [o for o in _postgres_orderable_options()
                        if not engine_version or o["EngineVersion"] == engine_version]
        return options

    original_delete_cluster = RDSBackend.delete_db_cluster

    def delete_db_cluster(self, cluster_identifier, snapshot_name=None):
        # A taken final snapshot name is refused before anything is deleted (moto deleted the master secret first),
        # after moto's own protection and members checks.
        target = self.clusters.get(cluster_identifier)
        if (snapshot_name and snapshot_name in self.cluster_snapshots and target is not None
                and not target.deletion_protection and not target.members):
            raise _error("DBClusterSnapshotAlreadyExistsFault",
                         f"Cannot create the snapshot because a snapshot with the identifier {snapshot_name} already exists.")
        # AWS deletes a cluster's automated backups with it. moto keeps them, named by the minute of creation,
        # so the same cluster made again within that minute failed with DBClusterSnapshotAlreadyExistsFault.
        cluster = original_delete_cluster(self, cluster_identifier, snapshot_name)
        for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
            if snapshot.snapshot_type == "automated" and snapshot.cluster.db_cluster_identifier == cluster_identifier:
                self.cluster_snapshots.pop(snapshot_id)
        kerberos.sync()  # a deleted member's account and keys go with it
        servers.stop(cluster.arn)  # and its database
        return cluster

    original_delete_instance = RDSBackend.delete_db_instance

    def delete_db_instance(self, db_instance_identifier, *args, **kwargs):
        database = original_delete_instance(self, db_instance_identifier, *args, **kwargs)
        kerberos.sync()
        servers.stop(database.arn)  # a standalone instance's own server; nothing for a cluster's
        return database

    RDSBackend.create_db_cluster = create_db_cluster
    RDSBackend.delete_db_cluster = delete_db_cluster
    RDSBackend.delete_db_instance = delete_db_instance
    RDSBackend.modify_db_cluster = modify_db_cluster
    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.modify_db_instance = modify_db_instance
    RDSBackend.describe_events = describe_events
    RDSBackend.describe_orderable_db_instance_options = describe_orderable_db_instance_options


# --- the catalogue: orderable options and engine versions --------------------------------------

_SIZES = {
    "db.r5": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"],
    "db.r6g": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"],
    "db.r6i": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge"],
    "db.r7g": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"],
    "db.r7i": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"],
    "db.r8g": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"],
    "db.x2g": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"],
    "db.t4g": ["medium", "large"],
}
# Current versions beyond moto's data (which stops at 15.2). Every Aurora PostgreSQL class supports
# Kerberos; the catalogue says so per row, as AWS does (AWS_FACTS section 4).
_EXTRA_VERSIONS = {
    "15.4": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.x2g", "db.t4g"],
    "15.6": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.x2g", "db.t4g"],
    "15.8": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.x2g", "db.t4g"],
    "15.10": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.r8g", "db.x2g", "db.t4g"],
    "16.1": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.x2g", "db.t4g"],
    "16.2": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.x2g", "db.t4g"],
    "16.3": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.x2g", "db.t4g"],
    "16.4": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.r8g", "db.x2g", "db.t4g"],
    "16.6": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.r8g", "db.x2g", "db.t4g"],
    "16.8": ["db.r5", "db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.r8g", "db.x2g", "db.t4g"],
    "17.4": ["db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.r8g", "db.x2g", "db.t4g"],
    "17.5": ["db.r6g", "db.r6i", "db.r7g", "db.r7i", "db.r8g", "db.x2g", "db.t4g"],
}
_EXTRA_OPTIONS = None

# RDS for PostgreSQL (engine postgres, DB instances outside a cluster): moto has no catalogue for it. AWS's page
# "Using Kerberos authentication with Amazon RDS for PostgreSQL" (Region and version availability) names Regions and
# versions and no instance class without Kerberos, so every row here says SupportsKerberosAuthentication true
# (inferred per class). The classes and sizes are the current ones of the RDS for PostgreSQL instance class table.
POSTGRES_ENGINE = "postgres"
_POSTGRES_SIZES = {
    "db.m6g": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"],
    "db.m7g": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"],
    "db.r6g": ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"],
    "db.t3": ["micro", "small", "medium", "large", "xlarge", "2xlarge"],
    "db.t4g": ["micro", "small", "medium", "large", "xlarge", "2xlarge"],
}
_POSTGRES_VERSIONS = {
    "15.8": ["db.m6g", "db.m7g", "db.r6g", "db.t3", "db.t4g"],
    "15.10": ["db.m6g", "db.m7g", "db.r6g", "db.t3", "db.t4g"],
    "16.4": ["db.m6g", "db.m7g", "db.r6g", "db.t3", "db.t4g"],
    "16.6": ["db.m6g", "db.m7g", "db.r6g", "db.t3", "db.t4g"],
    "16.8": ["db.m6g", "db.m7g", "db.r6g", "db.t3", "db.t4g"],
    "17.2": ["db.m6g", "db.m7g", "db.r6g", "db.t3", "db.t4g"],
    "17.4": ["db.m6g", "db.m7g", "db.r6g", "db.t3", "db.t4g"],
    "17.5": ["db.m6g", "db.m7g", "db.r6g", "db.t3", "db.t4g"],
}
_POSTGRES_OPTIONS = None


def _postgres_orderable_options():
    """One gp3 row per version and class, with the fields AWS returns for RDS for PostgreSQL."""
    global _POSTGRES_OPTIONS
    if _POSTGRES_OPTIONS is None:
        zones = [{"Name": f"{_LAB.region}{z}"} for z in "abcdf"]
        _POSTGRES_OPTIONS = [{
            "Engine": POSTGRES_ENGINE, "EngineVersion": version, "DBInstanceClass": f"{family}.{size}",
            "LicenseModel": "postgresql-license", "AvailabilityZones": zones,
            "MultiAZCapable": True, "ReadReplicaCapable": True, "Vpc": True,
            "SupportsStorageEncryption": True, "StorageType": "gp3", "SupportsIops": True,
            "SupportsStorageThroughput": True, "MinStorageSize": 20, "MaxStorageSize": 65536,
            "SupportsEnhancedMonitoring": True, "SupportsIAMDatabaseAuthentication": True,
            "SupportsPerformanceInsights": True, "AvailableProcessorFeatures": [],
            "SupportedEngineModes": ["provisioned"], "SupportsStorageAutoscaling": True,
            "SupportsKerberosAuthentication": True, "OutpostCapable": False,
            "SupportedActivityStreamModes": [], "SupportsGlobalDatabases": False,
            "SupportedNetworkTypes": ["IPV4", "DUAL"], "SupportsClusters": False,
            "SupportsDedicatedLogVolume": False,
        } for version, families in _POSTGRES_VERSIONS.items() for family in families
            for size in _POSTGRES_SIZES[family]]
    return _POSTGRES_OPTIONS


def _extra_orderable_options():
    global _EXTRA_OPTIONS
    if _EXTRA_OPTIONS is None:
        zones = [{"Name": f"{_LAB.region}{z}"} for z in "abcdf"]
        options = []
        for version, families in _EXTRA_VERSIONS.items():
            classes = [f"{family}.{size}" for family in families for size in _SIZES[family]] + ["db.serverless"]
            for instance_class in classes:
                options.append({
                    "Engine": ENGINE, "EngineVersion": version, "DBInstanceClass": instance_class,
                    "LicenseModel": "postgresql-license", "AvailabilityZones": zones,
                    "MultiAZCapable": False, "ReadReplicaCapable": False, "Vpc": True,
                    "SupportsStorageEncryption": True, "StorageType": "aurora", "SupportsIops": False,
                    "SupportsStorageThroughput": False, "SupportsEnhancedMonitoring": True,
                    "SupportsIAMDatabaseAuthentication": True, "SupportsPerformanceInsights": True,
                    "AvailableProcessorFeatures": [], "SupportedEngineModes": ["provisioned"],
                    "SupportsStorageAutoscaling": False, "SupportsKerberosAuthentication": True,
                    "OutpostCapable": False, "SupportedActivityStreamModes": ["async"],
                    "SupportsGlobalDatabases": not instance_class.startswith("db.t"),
                    "SupportedNetworkTypes": ["IPV4", "DUAL"], "SupportsClusters": True,
                    "SupportsDedicatedLogVolume": False,
                })
        _EXTRA_OPTIONS = options
    return _EXTRA_OPTIONS


def _version_key(version):
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _engine_versions(backend):
    versions = {o["EngineVersion"] for o in backend.describe_orderable_db_instance_options(ENGINE, None)}
    return sorted(versions, key=_version_key)


def _engine_version_row(version, all_versions):
    major = version.split(".")[0]

    def flags(v):
        m = int(v.split(".")[0])
        return {"SupportedEngineModes": ["provisioned"], "SupportsParallelQuery": False,
                "SupportsGlobalDatabases": True, "SupportsBabelfish": m >= 13, "SupportsLimitlessDatabase": False,
                "SupportsLocalWriteForwarding": m >= 14, "SupportsIntegrations": m >= 16}

    targets = [{"Engine": ENGINE, "EngineVersion": v, "Description": f"Aurora PostgreSQL (Compatible with PostgreSQL {v})",
                "AutoUpgrade": False, "IsMajorVersionUpgrade": v.split(".")[0] != major, **flags(v)}
               for v in all_versions if _version_key(v) > _version_key(version)
               and int(v.split(".")[0]) <= int(major) + 2]
    return {
        "Engine": ENGINE, "EngineVersion": version, "MajorEngineVersion": major,
        "DBParameterGroupFamily": f"{ENGINE}{major}", "DBEngineDescription": "Aurora (PostgreSQL)",
        "DBEngineVersionDescription": f"Aurora PostgreSQL (Compatible with PostgreSQL {version})",
        "ValidUpgradeTarget": targets, "ExportableLogTypes": ["postgresql"],
        "SupportsLogExportsToCloudwatchLogs": True, "SupportsReadReplica": False,
        "SupportedFeatureNames": ["Lambda", "s3Export", "s3Import"], "Status": "available",
        "SupportsCertificateRotationWithoutRestart": True,
        "SupportedCACertificateIdentifiers": ["rds-ca-ecc384-g1", "rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1"],
        "ServerlessV2FeaturesSupport": {"MinCapacity": 0.0 if _version_key(version) >= (16, 3) else 0.5,
                                        "MaxCapacity": 256.0},
        "TagList": [],
        **{k: v for k, v in flags(version).items() if k != "SupportedEngineModes"},
        "SupportedEngineModes": ["provisioned"],
    }


def _patch_responses():
    from moto.core.responses import PaginatedResult
    from moto.rds.responses import RDSResponse

    def describe_db_engine_versions(self):
        params = self.params
        engine = params.get("Engine")
        version = params.get("EngineVersion")
        family = params.get("DBParameterGroupFamily")
        rows = []
        if engine in (None, ENGINE) and (family is None or family.startswith(ENGINE)):
            all_versions = _engine_versions(self.backend)
            wanted = [v for v in all_versions if version is None or v == version or v.startswith(version + ".")]
            if params.get("DefaultOnly"):
                wanted = [v for v in wanted if v == DEFAULT_ENGINE_VERSION] or wanted[-1:]
            rows = [_engine_version_row(v, all_versions) for v in wanted]
            if family is not None:
                rows = [r for r in rows if r["DBParameterGroupFamily"] == family]
        return PaginatedResult({"DBEngineVersions": rows})

    def describe_orderable_db_instance_options(self):
        params = self.params
        options = self.backend.describe_orderable_db_instance_options(params.get("Engine"), params.get("EngineVersion"))
        instance_class = params.get("DBInstanceClass")
        license_model = params.get("LicenseModel")
        vpc = params.get("Vpc")
        options = [o for o in options
                   if (instance_class is None or o["DBInstanceClass"] == instance_class)
                   and (license_model is None or o.get("LicenseModel") == license_model)
                   and (vpc is None or o.get("Vpc") == vpc)]
        return PaginatedResult({"OrderableDBInstanceOptions": options})

    RDSResponse.describe_db_engine_versions = describe_db_engine_versions
    RDSResponse.describe_orderable_db_instance_options = describe_orderable_db_instance_options


def install(lab, middleware):
    """Patch moto's RDS once; `lab` gives the knobs, faults and the way to PostgreSQL."""
    global _LAB, _INSTALLED
    _LAB = lab
    servers.install(lab)
    kerberos.install(lab)
    if _INSTALLED:
        return
    _patch_models()
    _patch_backend()
    _patch_responses()
    _INSTALLED = True
