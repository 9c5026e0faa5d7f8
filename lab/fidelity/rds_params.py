"""RDS fidelity: DB cluster parameter groups and reboots for aurora-postgresql, and the lab PostgreSQL
that follows them (AWS_FACTS.md sections 5 and 6; lab/README.md, "Parameter groups and reboots").

moto 5.2.5 stores a cluster parameter group's modified parameters and nothing else: no engine defaults,
no ApplyType or ApplyMethod, a default group named default.aurora8.0 for every engine, reboots that do
nothing and members that are always in-sync. What changes here:

  - Every aurora-postgresql<major> family has its default group, default.aurora-postgresql<major>,
    which cannot be modified or deleted. A cluster without DBClusterParameterGroupName gets its
    family's default group; a named group must exist and be of the engine version's family.
  - DescribeDBClusterParameters answers the family's parameters the lab knows (PARAMETERS) with their
    defaults, ApplyType, DataType, AllowedValues, IsModifiable, ApplyMethod and Source, and the Source
    filter. ModifyDBClusterParameterGroup checks names, values and the apply method (a static
    parameter needs pending-reboot) and takes at most 20 parameters.
  - A static change (or a new group on ModifyDBCluster) puts every instance of the clusters that use
    the group in DBClusterParameterGroupStatus pending-reboot; RebootDBInstance goes rebooting ->
    available over knob reboot_seconds and leaves the instance in-sync.
  - Each cluster's own PostgreSQL (servers.py) runs with the settings of its writer's last start
    (created or rebooted): pg_ad_mapping in shared_preload_libraries (the only library the lab can
    load) and krb_caseins_users. A static change reaches it only through the writer's reboot (a
    restart of that server); a dynamic one at once (a reload).
  - Fault cluster_created_at {cluster id: ISO time}: that cluster's ClusterCreateTime, set at its creation.
"""

import datetime
import re
import threading

ENGINE = "aurora-postgresql"
FAMILY = re.compile(r"^aurora-postgresql(\d+)$")
FAMILY_MAJORS = ("15", "16", "17")  # the majors of the lab's catalogue (rds.py)
MAX_PARAMETERS_PER_CALL = 20

# The family's cluster parameters the lab knows. Aurora has hundreds; these are the ones this collection
# sets (AWS_FACTS.md sections 5 and 6). Defaults and allowed values [inferred from the console's listing].
PARAMETERS = {
    "shared_preload_libraries": {
        "ParameterValue": "pg_stat_statements",
        "Description": "Lists shared libraries to preload into server.",
        "ApplyType": "static", "DataType": "list",
        "AllowedValues": "auto_explain,orafce,pg_ad_mapping,pg_bigm,pg_cron,pg_hint_plan,pg_partman_bgw,pg_prewarm,"
                         "pg_similarity,pg_stat_statements,pg_tle,pg_transport,pgaudit,pglogical,plprofiler",
    },
    "krb_caseins_users": {
        "ParameterValue": "0",
        "Description": "Sets whether Kerberos and GSSAPI user names should be treated as case-insensitive.",
        "ApplyType": "dynamic", "DataType": "boolean", "AllowedValues": "0,1",
    },
}
# What the lab PostgreSQL can load from shared_preload_libraries; the others are kept in the API only.
LOADABLE_LIBRARIES = ("pg_ad_mapping",)
# PostgreSQL's own defaults of the settings the lab gives it (a default is RESET, not SET).
PG_DEFAULTS = {"shared_preload_libraries": "", "krb_caseins_users": "off"}

_LAB = None
_INSTALLED = False
_PG_LOCK = threading.Lock()  # one restart or reload of a lab PostgreSQL at a time


def _error(code, message):
    from moto.rds.exceptions import RDSClientError

    return RDSClientError(code, message)


def family_of(engine_version):
    return f"{ENGINE}{str(engine_version).split('.')[0]}"


def _ensure_default_groups(backend, families=None):
    from moto.rds.models import DBClusterParameterGroup

    for family in families or [f"{ENGINE}{major}" for major in FAMILY_MAJORS]:
        name = f"default.{family}"
        if name not in backend.db_cluster_parameter_groups:
            group = DBClusterParameterGroup(backend=backend, db_cluster_parameter_group_name=name,
                                            description=f"Default cluster parameter group for {family}",
                                            db_parameter_group_family=family)
            group.lab_default = True
            backend.db_cluster_parameter_groups[name] = group


def _is_lab_family(group):
    return bool(FAMILY.match(group.db_parameter_group_family or ""))


def _find_group(backend, name, code="DBClusterParameterGroupNotFound"):
    _ensure_default_groups(backend)
    group = backend.db_cluster_parameter_groups.get((name or "").lower())
    if group is None:
        raise _error(code, f"DBClusterParameterGroup not found: {name}")
    return group


def _check_family(group, engine_version):
    wanted = family_of(engine_version)
    if group.db_parameter_group_family != wanted:
        raise _error("InvalidParameterCombination",
                     f"The Parameter Group {group.name} with DBParameterGroupFamily {group.db_parameter_group_family} "
                     f"cannot be used for this instance. Please use a Parameter Group with DBParameterGroupFamily {wanted}")


def rows(group):
    """DescribeDBClusterParameters' rows: the family's defaults with the group's own values over them."""
    result = []
    for name, spec in sorted(PARAMETERS.items()):
        row = {"ParameterName": name, "Description": spec["Description"], "Source": "engine-default",
               "ApplyType": spec["ApplyType"], "DataType": spec["DataType"], "AllowedValues": spec["AllowedValues"],
               "IsModifiable": True, "ApplyMethod": "pending-reboot", "SupportedEngineModes": ["provisioned"]}
        if spec.get("ParameterValue") is not None:
            row["ParameterValue"] = spec["ParameterValue"]
        own = group.parameters.get(name) if name in group.parameters else None
        if own and own.get("ParameterValue") is not None:
            row.update(ParameterValue=own["ParameterValue"], Source="user",
                       ApplyMethod=own.get("ApplyMethod") or row["ApplyMethod"])
        result.append(row)
    return result


def _value(group, name):
    return next((r.get("ParameterValue") for r in rows(group) if r["ParameterName"] == name), None)


def _check_parameters(group, parameters):
    """AWS's refusals before anything changes [codes from the model; wording inferred where noted]."""
    if getattr(group, "lab_default", False):
        raise _error("InvalidParameterValue", "Cannot modify a default parameter group.")
    if not parameters:
        raise _error("InvalidParameterValue", "The parameter Parameters must be provided and must not be blank.")
    if len(parameters) > MAX_PARAMETERS_PER_CALL:
        raise _error("InvalidParameterValue",
                     f"A maximum of {MAX_PARAMETERS_PER_CALL} parameters can be modified in a single request.")
    for parameter in parameters:
        name = parameter.get("ParameterName")
        spec = PARAMETERS.get(name)
        if spec is None:
            raise _error("InvalidParameterValue", f"Could not find parameter with name: {name}")
        method = parameter.get("ApplyMethod")
        if method not in ("immediate", "pending-reboot"):
            raise _error("InvalidParameterValue", f"Invalid apply method for parameter {name}: {method}")
        if spec["ApplyType"] == "static" and method == "immediate":
            raise _error("InvalidParameterCombination", "cannot use immediate apply method for static parameter")
        value = parameter.get("ParameterValue")
        if value is None:
            raise _error("InvalidParameterValue", f"The parameter value for {name} must be provided.")
        allowed = spec["AllowedValues"].split(",")
        given = [v.strip() for v in str(value).split(",") if v.strip()] if spec["DataType"] == "list" else [str(value)]
        bad = [v for v in given if v not in allowed]
        if bad:
            raise _error("InvalidParameterValue", f"Value: {','.join(bad)} is outside of range: {spec['AllowedValues']} "
                                                  f"for parameter: {name}")


# --- the lab PostgreSQL ----------------------------------------------------------------------------

def pg_settings(group):
    """What the lab PostgreSQL runs with for this group: the loadable preloaded libraries and the case rule."""
    libraries = [v.strip() for v in (_value(group, "shared_preload_libraries") or "").split(",")]
    return {"shared_preload_libraries": ",".join(v for v in libraries if v in LOADABLE_LIBRARIES),
            "krb_caseins_users": "on" if _value(group, "krb_caseins_users") in ("1", "on", "true") else "off"}


def apply_to_pg(cluster, settings, static):
    """Give the cluster's server these settings (ALTER SYSTEM): a restart when a static one changed and
    `static` (a start of the writer), else a reload. Nothing when they are already in force. Master-user
    writes (rds.py) wait meanwhile: a restart would cut their connection."""
    from . import rds, servers

    server = servers.get(cluster.arn)
    if server is None:
        return False  # an endpoint started without a lab template (unit runs of the app)
    with rds._PG_MASTER_LOCK, _PG_LOCK:
        conn = server.admin()
        try:
            with conn.cursor() as cur:
                running = {}
                for name in settings:
                    cur.execute("SELECT setting FROM pg_settings WHERE name = %s", (name,))
                    running[name] = cur.fetchone()[0]
                changed = {k: v for k, v in settings.items() if running[k] != v}
                if not static:
                    changed.pop("shared_preload_libraries", None)
                if not changed:
                    return False
                for name, value in changed.items():
                    if value == PG_DEFAULTS[name]:
                        cur.execute(f"ALTER SYSTEM RESET {name}")  # SET '' would ask PostgreSQL to load a library ''
                    else:
                        cur.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
                if "shared_preload_libraries" not in changed:
                    cur.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()
        if "shared_preload_libraries" in changed:
            try:
                server.restart()
            except servers.ServerError as exc:
                raise _error("InternalFailure", f"lab: {exc}") from exc
        return True


def _writer(cluster):
    return next((m for m in cluster.members if getattr(m, "is_cluster_writer", False)), None)


def _start_instance(instance):
    """An instance of a lab cluster starts (created or rebooted): in-sync with the cluster's group, and a
    writer gives the lab PostgreSQL that group's settings."""
    instance.__dict__["lab_param_status"] = "in-sync"
    cluster = instance.backend.clusters.get(instance.__dict__.get("db_cluster_identifier") or "")
    if cluster is None or cluster.__dict__.get("engine") != ENGINE or _writer(cluster) is not instance:
        return
    group = _find_group(cluster.backend, cluster.parameter_group)
    apply_to_pg(cluster, pg_settings(group), static=True)


# --- patches -------------------------------------------------------------------------------------

def _patch():
    from moto.rds import models
    from moto.rds.responses import RDSResponse

    DBCluster, DBInstance, RDSBackend = models.DBCluster, models.DBInstance, models.RDSBackend

    def db_cluster_members(self):
        return [{"DBInstanceIdentifier": m.db_instance_identifier, "IsClusterWriter": m.is_cluster_writer,
                 "DBClusterParameterGroupStatus": m.__dict__.get("lab_param_status", "in-sync"),
                 "PromotionTier": m.promotion_tier} for m in self.members]

    DBCluster.db_cluster_members = property(db_cluster_members)

    original_status = DBInstance.status

    def instance_status_get(self):
        until = self.__dict__.get("lab_reboot_until")
        if until is not None and _LAB.now() < until:
            return "rebooting"
        return original_status.fget(self)

    DBInstance.status = property(instance_status_get, original_status.fset)

    original_create_cluster = RDSBackend.create_db_cluster
    original_modify_cluster = RDSBackend.modify_db_cluster
    original_create_instance = RDSBackend.create_db_instance
    original_reboot = RDSBackend.reboot_db_instance
    original_modify_group = RDSBackend.modify_db_cluster_parameter_group
    original_delete_group = RDSBackend.delete_db_cluster_parameter_group
    original_describe_groups = RDSBackend.describe_db_cluster_parameter_groups

    def create_db_cluster(self, kwargs):
        if kwargs.get("engine") != ENGINE:
            return original_create_cluster(self, kwargs)
        version = kwargs.get("engine_version") or DBCluster.default_engine_version(ENGINE)
        name = kwargs.get("db_cluster_parameter_group_name")
        if name:
            group = _find_group(self, name)
            _check_family(group, version)
        else:
            _ensure_default_groups(self, [family_of(version)])
            group = self.db_cluster_parameter_groups[f"default.{family_of(version)}"]
        kwargs["db_cluster_parameter_group_name"] = group.name
        cluster = original_create_cluster(self, kwargs)
        # Fault cluster_created_at {cluster id: ISO time}: a cluster "created" then, for AWS's pg_ad_mapping trap
        # on clusters created before April 2025 (AD.Security.Groups, "Important"), which the lab cannot wait for.
        backdated = (_LAB.faults.get("cluster_created_at") or {}).get(cluster.db_cluster_identifier)
        if backdated:
            when = datetime.datetime.fromisoformat(backdated.replace("Z", "+00:00"))
            cluster.cluster_create_time = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return cluster

    def modify_db_cluster(self, kwargs):
        cluster = self.clusters.get(kwargs.get("db_cluster_identifier"))
        name = kwargs.get("db_cluster_parameter_group_name")
        moved = False
        if cluster is not None and cluster.__dict__.get("engine") == ENGINE and name:
            group = _find_group(self, name)
            _check_family(group, kwargs.get("engine_version") or cluster.engine_version)
            kwargs["db_cluster_parameter_group_name"] = group.name
            moved = group.name != cluster.parameter_group
        result = original_modify_cluster(self, kwargs)
        if moved:
            # A new group takes effect at the next reboot of each instance (AWS_FACTS.md section 6).
            for member in cluster.members:
                member.__dict__["lab_param_status"] = "pending-reboot"
        return result

    def create_db_instance(self, db_kwargs):
        database = original_create_instance(self, db_kwargs)
        if database.__dict__.get("db_cluster_identifier") and database.__dict__.get("engine") == ENGINE:
            _start_instance(database)
        return database

    def reboot_db_instance(self, db_instance_identifier):
        database = self.databases.get(db_instance_identifier)
        if database is not None and database.__dict__.get("engine") == ENGINE:
            if database.status != "available":
                raise _error("InvalidDBInstanceState", f"DBInstance {db_instance_identifier} is not in available state.")
            _start_instance(database)  # the lab PostgreSQL restarts first: the answer still says rebooting
            database.__dict__["lab_reboot_until"] = _LAB.now() + float(_LAB.knobs.get("reboot_seconds", 1))
        return original_reboot(self, db_instance_identifier)

    def modify_db_cluster_parameter_group(self, db_cluster_parameter_group_name, db_cluster_parameter_group_parameters):
        group = _find_group(self, db_cluster_parameter_group_name, code="DBParameterGroupNotFound")
        if not _is_lab_family(group):
            return original_modify_group(self, db_cluster_parameter_group_name, db_cluster_parameter_group_parameters)
        parameters = list(db_cluster_parameter_group_parameters)
        _check_parameters(group, parameters)
        before = {r["ParameterName"]: r.get("ParameterValue") for r in rows(group)}
        result = original_modify_group(self, group.name, parameters)
        after = {r["ParameterName"]: r.get("ParameterValue") for r in rows(group)}
        changed = {n for n in after if after[n] != before[n]}
        static = any(PARAMETERS[n]["ApplyType"] == "static" for n in changed)
        for cluster in list(self.clusters.values()):
            if cluster.__dict__.get("engine") != ENGINE or cluster.parameter_group != group.name:
                continue
            if static:
                for member in cluster.members:
                    member.__dict__["lab_param_status"] = "pending-reboot"
            if changed - {"shared_preload_libraries"}:
                apply_to_pg(cluster, pg_settings(group), static=False)
        return result

    def delete_db_cluster_parameter_group(self, db_cluster_parameter_group_name):
        group = _find_group(self, db_cluster_parameter_group_name, code="DBParameterGroupNotFound")
        if getattr(group, "lab_default", False):
            raise _error("InvalidDBParameterGroupState", f"Default DBClusterParameterGroup cannot be deleted: {group.name}")
        if any(c.parameter_group == group.name for c in self.clusters.values()):
            raise _error("InvalidDBParameterGroupState",
                         f"One or more database clusters are still members of this parameter group {group.name}, "
                         "so the group cannot be deleted")
        return original_delete_group(self, group.name)

    def describe_db_cluster_parameter_groups(self, group_name):
        _ensure_default_groups(self)
        if group_name is not None:
            group_name = group_name.lower()
        return original_describe_groups(self, group_name)

    def describe_db_cluster_parameters_response(self):
        name = self.params.get("DBClusterParameterGroupName")
        group = _find_group(self.backend, name, code="DBParameterGroupNotFound")
        if not _is_lab_family(group):
            parameters = self.backend.describe_db_cluster_parameters(group.name)
        else:
            parameters = rows(group)
        source = self.params.get("Source")
        if source:
            parameters = [p for p in parameters if p.get("Source") == source]
        from moto.core.responses import ActionResult

        return ActionResult({"Parameters": parameters})

    RDSBackend.create_db_cluster = create_db_cluster
    RDSBackend.modify_db_cluster = modify_db_cluster
    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.reboot_db_instance = reboot_db_instance
    RDSBackend.modify_db_cluster_parameter_group = modify_db_cluster_parameter_group
    RDSBackend.delete_db_cluster_parameter_group = delete_db_cluster_parameter_group
    RDSBackend.describe_db_cluster_parameter_groups = describe_db_cluster_parameter_groups
    RDSResponse.describe_db_cluster_parameters = describe_db_cluster_parameters_response


def install(lab, middleware=None):
    """Patch moto's RDS once, over rds.py's patches (fidelity.EXTENSIONS installs rds first)."""
    global _LAB, _INSTALLED
    _LAB = lab
    lab.knobs.setdefault("reboot_seconds", float(lab.env.get("LAB_REBOOT_SECONDS", "1")))
    if _INSTALLED:
        return
    _patch()
    _INSTALLED = True
