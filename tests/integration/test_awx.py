"""site.yml, then verify.yml, as an AWX / Automation Platform job runs them: ansible-runner over a
private data dir, with the collection installed from its built tarball (as the execution environment
holds it), and no password in anything the runner records.

The private data dir is laid out the way AWX writes it for a job:
- project/      the job template's project: the playbooks of this repository;
- inventory/    the inventory, here the lab's (inventories/lab), so the job runs whatever steps it
                lists, and follows it as it grows;
- env/envvars   what credentials inject as environment variables: an "Amazon Web Services"
                credential (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SECURITY_TOKEN) and a custom
                credential type for the lab that injects its endpoint and non-secret values (the lab
                inventory reads them with env lookups);
- env/extravars the passwords, injected as extra vars by a custom credential type (AWX keeps
                credential extra vars out of the job's stored extra_vars). They must not go in as
                environment variables: ansible-runner writes the job's environment to
                artifacts/<job>/command.
- env/cmdline   -vvvv, the job template's verbosity 4 (Connection Debug): the most a job can print.
"""

import json
import os
import re
import secrets
import shutil
import subprocess

import pytest
import yaml

from ansible_run import BIN, ROOT, install_collection
from labtools import secret_names

INVENTORY = ROOT / "inventories" / "lab"
JOBS = {"site": "site.yml", "verify": "playbooks/verify.yml"}
ENV_LOOKUP = re.compile(r"""lookup\(\s*['"](?:ansible\.builtin\.)?env['"]\s*,\s*['"](\w+)['"]\s*\)""")
WHOLE_ENV_LOOKUP = re.compile(r"\{\{\s*" + ENV_LOOKUP.pattern + r"\s*\}\}")


def inventory_vars():
    """{variable: value} of the lab inventory's group_vars and host_vars files."""
    found = {}
    for path in sorted(INVENTORY.rglob("*.yml")):
        if {"group_vars", "host_vars"} & set(path.relative_to(INVENTORY).parts):
            found.update(yaml.safe_load(path.read_text()) or {})
    return found


def inventory_secret_names(lab):
    """The lab passwords the inventory reads, wherever it reads them."""
    text = "\n".join(p.read_text() for p in INVENTORY.rglob("*.yml"))
    return set(ENV_LOOKUP.findall(text)) & set(secret_names(lab))


def password_extravars(lab):
    """({inventory variable: password}, the lab passwords covered): each inventory variable that is exactly an env
    lookup of a lab password gets that password, which overrides the lookup (extra vars win)."""
    extravars, covered = {}, set()
    for key, value in inventory_vars().items():
        match = WHOLE_ENV_LOOKUP.fullmatch(value.strip()) if isinstance(value, str) else None
        if match and match.group(1) in secret_names(lab):
            extravars[key] = lab[match.group(1)]
            covered.add(match.group(1))
    return extravars, covered


def secret_extravars(lab):
    """The credential's extra vars (password_extravars), covering every password the inventory reads."""
    extravars, covered = password_extravars(lab)
    # A password read any other way would reach the job only through the environment, which the
    # runner records: the inventory must read each through a top-level variable of its own.
    missing = inventory_secret_names(lab) - covered
    assert not missing, (
        f"inventories/lab reads {sorted(missing)} other than as `var: \"{{{{ lookup('ansible.builtin.env', 'NAME') }}}}\"`"
        " in group_vars: give each password a top-level variable so a credential can inject it as an extra var")
    return extravars


def job_envvars(lab, collections_path):
    aws = {  # the Amazon Web Services credential type's injectors; the lab takes any keys
        "AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AWS_SECURITY_TOKEN": secrets.token_urlsafe(40),
    }
    lab_credential = {k: v for k, v in lab.items()
                      if k not in secret_names(lab) and k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    # Set by AWX for every job; the collection comes from the execution environment.
    awx = {"ANSIBLE_COLLECTIONS_PATH": str(collections_path), "ANSIBLE_HOST_KEY_CHECKING": "False",
           "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_FORCE_COLOR": "False"}
    return {**lab_credential, **aws, **awx}


@pytest.fixture(scope="module")
def ee_collections(tmp_path_factory):
    """This checkout's collection, built and installed as the execution environment holds it."""
    built = tmp_path_factory.mktemp("tarball")
    done = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(built), str(ROOT)],
                          cwd=built, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    path = tmp_path_factory.mktemp("ee")
    install_collection(next(built.glob("aurora-kerberos-*.tar.gz")), path)
    return path


@pytest.fixture(scope="module")
def private_data_dir(lab, ee_collections, tmp_path_factory):
    pdd = tmp_path_factory.mktemp("awx")
    (pdd / "project").mkdir()
    shutil.copy(ROOT / "site.yml", pdd / "project")
    shutil.copytree(ROOT / "playbooks", pdd / "project" / "playbooks")
    shutil.copytree(INVENTORY, pdd / "inventory")
    (pdd / "env").mkdir()
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(job_envvars(lab, ee_collections)))
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(secret_extravars(lab)))
    (pdd / "env" / "cmdline").write_text("-vvvv")
    return pdd


@pytest.fixture(scope="module")
def jobs(private_data_dir):
    """Each job's artifacts directory. The runner gets no environment of the test process (which holds
    the lab's passwords): only what a job's container starts with."""
    clean_env = {"PATH": f"{BIN}{os.pathsep}{os.defpath}", "HOME": os.environ["HOME"], "LANG": "C.UTF-8"}
    artifacts = {}
    for ident, playbook in JOBS.items():
        done = subprocess.run([str(BIN / "ansible-runner"), "run", str(private_data_dir), "-p", playbook,
                               "--ident", ident], env=clean_env, capture_output=True, text=True, check=False)
        artifacts[ident] = private_data_dir / "artifacts" / ident
        assert done.returncode == 0, f"{ident}: {done.stdout[-6000:]}{done.stderr[-3000:]}"
    return artifacts


def events(artifact_dir):
    return [json.loads(p.read_text()) for p in sorted((artifact_dir / "job_events").glob("*.json"))]


def found_in(artifact_root, value):
    """The files under artifact_root holding value, as written or JSON-escaped (job events are JSON)."""
    forms = {value.encode(), json.dumps(value)[1:-1].encode()}
    return sorted(str(p.relative_to(artifact_root)) for p in artifact_root.rglob("*")
                  if p.is_file() and any(form in p.read_bytes() for form in forms))


@pytest.mark.parametrize("ident", JOBS)
def test_job_succeeds(jobs, ident):
    assert (jobs[ident] / "rc").read_text().strip() == "0"
    assert (jobs[ident] / "status").read_text().strip() == "successful"
    stats = [e for e in events(jobs[ident]) if e["event"] == "playbook_on_stats"]
    assert len(stats) == 1 and not stats[0]["event_data"]["failures"] and stats[0]["event_data"]["ok"]


def test_roles_run_from_the_installed_collection(jobs, ee_collections):
    installed = str(ee_collections / "ansible_collections" / "aurora" / "kerberos" / "roles") + "/"
    paths = {e.get("event_data", {}).get("task_path", "") for e in events(jobs["site"])}
    role_tasks = {p for p in paths if "/roles/" in p}
    assert role_tasks, "site.yml ran no role task"
    assert all(p.startswith(installed) for p in role_tasks), sorted(role_tasks)[:5]


def test_verify_job_proves_the_kerberos_login(jobs, lab):
    assert f"alice@{lab['LAB_AD_REALM']}: logged in over GSSAPI" in (jobs["verify"] / "stdout").read_text()


def test_artifacts_hold_no_password(lab, jobs, private_data_dir):
    artifact_root = private_data_dir / "artifacts"
    # The check can see: a value the jobs print is found the same way.
    assert found_in(artifact_root, f"alice@{lab['LAB_AD_REALM']}")
    # env/ is left out on purpose: AWX writes the job's inputs there (env/extravars holds every
    # credential-injected password by design) and deletes the private data dir after the job; what it
    # keeps and shows is the artifacts: events, stdout. The jobs did get the passwords:
    extravars = yaml.safe_load((private_data_dir / "env" / "extravars").read_text())
    passed = {name for name in secret_names(lab) if lab[name] in extravars.values()}
    assert passed and passed == inventory_secret_names(lab), "the jobs must get every password the inventory reads"
    for name in secret_names(lab):
        hits = found_in(artifact_root, lab[name])
        assert not hits, f"{name} appears in {hits}"


def test_aws_keys_stay_out_of_events_and_output(jobs, private_data_dir):
    """AWX injects the AWS keys as environment variables, which ansible-runner records in
    artifacts/<job>/command (AWX stores the job's environment with such values redacted). Nothing
    the playbooks print may carry them."""
    envvars = yaml.safe_load((private_data_dir / "env" / "envvars").read_text())
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        for artifact_dir in jobs.values():
            assert [f for f in found_in(artifact_dir, envvars[name]) if f != "command"] == [], name


# --- Job slicing: four slices of a multi-cluster inventory side by side (issue 17) ---------------------------------
# AWX job slicing splits the inventory into N slices (host i, in inventory order, to slice i mod N) and runs one
# job per slice at the same time. Each slice runs site.yml's shared steps itself, so the four race to create the
# directory (CreateMicrosoftAD has no client token), the IAM role and the security group rules. They must make
# exactly one of each and join every cluster: the directory module's claim, CreateRole's EntityAlreadyExists and
# AuthorizeSecurityGroupIngress's InvalidPermission.Duplicate (README, "Runs side by side").
SLICES = 4
SLICED_CLUSTERS = 4
SLICED_STEPS = {"aurora_kerberos_hosts": "all", "aurora_kerberos_steps": ["directory", "iam_role", "network", "cluster"],
                "aurora_kerberos_shared_steps": ["directory", "iam_role", "network"],
                # The directory's trust, users and groups belong in a shared-steps job that runs before the sliced
                # one (docs/awx.md); the sliced job runs what every slice may run at once.
                "directory_trust": {}, "directory_users": [], "directory_groups": []}


def sliced_inventories(root, clusters=SLICED_CLUSTERS, slices=SLICES):
    """The whole inventory (cluster hosts fan-01.., each its own cluster_id, the lab inventory's group_vars) and the
    inventory of each slice, as AWX cuts it: host i (0-based, inventory order) to slice i mod slices."""
    hosts = [f"fan-{i:02d}" for i in range(1, clusters + 1)]
    inventories = {}
    for name, members in [("all", hosts)] + [(f"slice-{s + 1}", hosts[s::slices]) for s in range(slices)]:
        path = root / name
        (path / "group_vars").mkdir(parents=True)
        shutil.copy(INVENTORY / "group_vars" / "all.yml", path / "group_vars" / "all.yml")
        (path / "hosts.yml").write_text(yaml.safe_dump({"all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "hosts": {host: {"cluster_id": f"aurkrb-lab-{host}"} for host in members}}}, sort_keys=False))
        inventories[name] = path
    return inventories


def sliced_teardown(lab, inventory):
    """teardown.yml over the whole inventory, naming the directory and every cluster (nothing else is deleted)."""
    from ansible_run import playbook

    confirm = ",".join([lab["LAB_AD_DOMAIN"], "aurkrb-lab"] + [f"aurkrb-lab-fan-{i:02d}" for i in range(1, SLICED_CLUSTERS + 1)])
    # The sliced inventory's clusters first (they keep the directory in use), then the lab inventory's own chain:
    # the directory, with the AD users and groups that inventory makes (a directory holding users no inventory
    # lists is refused, AD users being data), the role and the rules.
    clusters_only = {**SLICED_STEPS, "aurora_kerberos_steps": ["cluster"], "aurora_kerberos_shared_steps": []}
    for args in (["-i", str(inventory), "-e", json.dumps(clusters_only)], ["-i", str(INVENTORY)]):
        done = playbook(*args, "playbooks/teardown.yml", "-e", "cluster_delete=true", "-e", f"teardown_confirm={confirm}")
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]


def aws_counts(lab):
    """What the four slices made, read from the lab's AWS API."""
    import boto3

    kw = {"endpoint_url": lab["AWS_ENDPOINT_URL"], "region_name": lab["AWS_REGION"]}
    ds, rds, ec2, iam = (boto3.client(s, **kw) for s in ("ds", "rds", "ec2", "iam"))
    directories = [d for d in ds.describe_directories()["DirectoryDescriptions"] if d["Name"] == lab["LAB_AD_DOMAIN"]]
    roles = [r for r in iam.list_roles()["Roles"] if r["RoleName"] == inventory_vars()["iam_role_name"]]
    port, db_sg = int(lab["LAB_PG_PORT"]), lab["LAB_DB_SECURITY_GROUP_ID"]
    ingress = egress = 0
    for directory in directories:
        dir_sg = directory["VpcSettings"]["SecurityGroupId"]
        groups = {g["GroupId"]: g for g in ec2.describe_security_groups(GroupIds=[dir_sg, db_sg])["SecurityGroups"]}

        def count(permissions, peer):
            return sum(1 for p in permissions if p.get("IpProtocol") == "tcp" and p.get("FromPort") == port == p.get("ToPort")
                       for pair in p.get("UserIdGroupPairs", []) if pair.get("GroupId") == peer)
        ingress += count(groups[db_sg]["IpPermissions"], dir_sg)
        egress += count(groups[dir_sg]["IpPermissionsEgress"], db_sg)
    ids = {d["DirectoryId"] for d in directories}
    clusters = [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"].startswith("aurkrb-lab-fan-")]
    joined = [c["DBClusterIdentifier"] for c in clusters
              if any(m["Domain"] in ids and m["Status"] == "kerberos-enabled" for m in c.get("DomainMemberships", []))]
    return {"directories": len(directories), "IAM roles": len(roles), "rules into the DB group": ingress,
            "rules out of the directory group": egress, "clusters": len(clusters), "clusters joined": len(joined)}


def run_slices(lab, ee_collections, inventories, root, extravars):
    """The four slice jobs at once, each an ansible-runner process over its own private data dir (AWX gives every
    slice job its own). Returns {slice: (rc, stdout tail)}."""
    clean_env = {"PATH": f"{BIN}{os.pathsep}{os.defpath}", "HOME": os.environ["HOME"], "LANG": "C.UTF-8"}
    procs = {}
    for s in range(1, SLICES + 1):
        pdd = root / f"job-slice-{s}"
        (pdd / "project").mkdir(parents=True)
        shutil.copy(ROOT / "site.yml", pdd / "project")
        shutil.copytree(ROOT / "playbooks", pdd / "project" / "playbooks")
        shutil.copytree(inventories[f"slice-{s}"], pdd / "inventory")
        (pdd / "env").mkdir()
        (pdd / "env" / "envvars").write_text(yaml.safe_dump(job_envvars(lab, ee_collections)))
        # The sliced job runs no trust: the trust password (read inside directory_trust) is not needed.
        (pdd / "env" / "extravars").write_text(yaml.safe_dump(dict(password_extravars(lab)[0], **extravars)))
        procs[s] = (pdd, subprocess.Popen([str(BIN / "ansible-runner"), "run", str(pdd), "-p", "site.yml", "--ident", "job"],
                                          env=clean_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return {s: (proc.wait(), proc.stdout.read()[-6000:] + (pdd / "artifacts" / "job" / "stdout").read_text()[-4000:])
            for s, (pdd, proc) in procs.items()}


def test_four_concurrent_slices_make_one_directory_one_role_one_rule_each_way_and_join_every_cluster(
        lab, ee_collections, tmp_path):
    inventories = sliced_inventories(tmp_path / "inventories")
    assert [len(list(yaml.safe_load((inventories[f"slice-{s}"] / "hosts.yml").read_text())["all"]["hosts"]))
            for s in range(1, SLICES + 1)] == [SLICED_CLUSTERS // SLICES] * SLICES
    sliced_teardown(lab, inventories["all"])  # from nothing: no directory, role rules or clusters of the chain
    try:
        outcomes = run_slices(lab, ee_collections, inventories, tmp_path, SLICED_STEPS)
        for s, (rc, tail) in outcomes.items():
            assert rc == 0, f"slice {s}: {tail}"
        assert aws_counts(lab) == {"directories": 1, "IAM roles": 1, "rules into the DB group": 1,
                                   "rules out of the directory group": 1, "clusters": SLICED_CLUSTERS,
                                   "clusters joined": SLICED_CLUSTERS}
    finally:
        sliced_teardown(lab, inventories["all"])
