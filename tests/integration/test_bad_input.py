"""Bad input is refused before anything is written: a table of bad values across the five roles.

Each case runs one role (include_role, as a user's playbook does) on the lab inventory with the case's
variables on top. Every case must fail, with a message that names the variable and says what to give
instead, and the lab's call log must show no mutating AWS call (and the database no new login).

One ansible-playbook runs them all, each case in its own block/rescue: one process per case would cost
3-5 s each. The call log is read once; each call is charged to the case whose time window holds it.

The playbooks (site, teardown, verify, the doctor) are run once each for all their cases: each case is an
inventory host of its own, and the run's call log holds no mutating call. Last, the interpreter trap: an
inventory that only names localhost runs the modules in ansible-playbook's own Python.
"""

import json

import boto3
import pytest

from ansible_run import ROOT, playbook, recap
from labtools import lab_api, master, own_cluster, sql

INVENTORY = ["-i", "inventories/lab"]
FIX_WORDS = ("use ", "give ", "set ", "choose ", "must ", "remove ", "add ", "revoke ")

# What the roles need besides the case (the roles before them have not run: there is no <role>__output).
BASE = {
    "network": {"network_directory_security_group_id": "sg-0123456789abcdef0"},
    # The database of a cluster of the test's own (each lab cluster has its own PostgreSQL): the login cases read
    # its roles. Not the lab inventory's cluster, which must not exist (a case refuses creating it unnetworked).
    "db_users": {"db_users_host": "@db_host", "db_users_hostaddr": "@db_hostaddr", "db_users_port": "@db_port"},
    "cluster": {"cluster_directory_id": "d-0123456789", "cluster_iam_role_name": "aurkrb-lab-rds-directory",
                "cluster_realm": "CORP.EXAMPLE.COM"},
}

# (id, role, variables, fragments the message must hold: the variable first, then the fix).
# Fragments are matched case-insensitively.
CASES = [
    # directory
    ("directory-id-short", "directory", {"directory_id": "d-12345"}, ["directory_id", "d-1234567890"]),
    ("directory-id-upper", "directory", {"directory_id": "D-1234567890"}, ["directory_id", "10 hex digits"]),
    ("directory-name-no-dot", "directory", {"directory_name": "corp"}, ["directory_name", "corp.example.com"]),
    ("directory-name-double-dot", "directory", {"directory_name": "corp..example.com"}, ["directory_name", "fully qualified"]),
    ("directory-name-sql", "directory", {"directory_name": "corp.example.com'; --"}, ["directory_name", "use e.g."]),
    ("admin-password-short", "directory", {"directory_admin_password": "Ab1!x"}, ["directory_admin_password", "8 to 64"]),
    ("admin-password-admin", "directory", {"directory_admin_password": "MyAdmin#2024x"},
     ["directory_admin_password", 'must not contain the word "admin"']),
    ("admin-password-weak", "directory", {"directory_admin_password": "alllowercase"}, ["directory_admin_password", "3 of"]),
    ("admin-password-missing", "directory", {"directory_admin_password": ""}, ["directory_admin_password", "from a vault"]),
    ("one-subnet", "directory", {"directory_subnet_ids": ["@first_subnet"]}, ["directory_subnet_ids", "exactly two"]),
    ("two-subnets-one-az", "directory", {"directory_subnet_ids": "@same_az_subnets"},
     ["directory_subnet_ids", "two different Availability Zones", "give one subnet from each"]),
    ("subnet-cidr", "directory", {"directory_subnet_ids": ["10.0.1.0/24", "10.0.2.0/24"]}, ["directory_subnet_ids", "subnet-"]),
    ("vpc-cidr", "directory", {"directory_vpc_id": "10.0.0.0/16"}, ["directory_vpc_id", "vpc-0123456789abcdef0"]),
    ("directory-state", "directory", {"directory_state": "enabled"}, ["directory_state", "present, absent"]),
    ("directory-edition", "directory", {"directory_edition": "Large"}, ["directory_edition", "Standard or Enterprise"]),
    ("directory-edition-hybrid", "directory", {"directory_edition": "Hybrid"},
     ["directory_edition", "CreateHybridAD", "StartADAssessment"]),
    ("directory-name-reserved", "directory", {"directory_name": "corp.example"}, ["directory_name", "reserves", "use a domain"]),
    ("directory-name-trailing-dot", "directory", {"directory_name": "corp.example.com."},
     ["directory_name", "without a trailing dot"]),
    ("admin-password-space-is-no-symbol", "directory", {"directory_admin_password": "abcdefgh 1x"},
     ["directory_admin_password", "3 of", "a space is not one"]),
    ("netbios-leading-period", "directory", {"directory_short_name": ".CORP"}, ["directory_short_name", "period"]),
    ("netbios-too-long", "directory", {"directory_short_name": "CORPORATE-NETBIOS"}, ["directory_short_name", "1-15"]),
    ("directory-timeout-negative", "directory", {"directory_wait_timeout": -5}, ["directory_wait_timeout", "greater than 0"]),
    ("ad-user-name", "directory", {"directory_users": [{"name": "Alice Smith", "password": "x"}]},
     ["directory_users", "use e.g. alice"]),
    ("trust-domain", "directory", {"directory_trust": {"remote_domain_name": "onprem", "password": "Tr#st-pass-1"}},
     ["directory_trust", "onprem.example.com"]),
    ("share-account", "directory", {"directory_share": {"target_account_id": "12345"}},
     ["directory_share.target_account_id", "12-digit"]),
    ("users-backend", "directory", {"directory_users_backend": "winrm"}, ["directory_users_backend", "ldap, ds_data"]),
    # the AWS connection: one variable for the chain; a role's own connection variables were removed
    ("aws-connection-unknown-key", "network", {"aurora_kerberos_aws": {"regoin": "eu-west-1"}},
     ["aurora_kerberos_aws", "unknown keys regoin", "use only region"]),
    ("aws-connection-region", "iam_role", {"aurora_kerberos_aws": {"region": "Europe (Paris)"}},
     ["aurora_kerberos_aws.region", "use e.g. eu-west-1"]),
    ("removed-role-region", "cluster", {"cluster_aws_region": "eu-west-3"},
     ["cluster_aws_region", "aurora_kerberos_aws (region", "remove these variables"]),
    ("removed-role-profile", "directory", {"directory_aws_profile": "prod"},
     ["directory_aws_profile", "module_defaults for group/aurora.kerberos.aws"]),
    # iam_role
    ("iam-role-name", "iam_role", {"iam_role_name": "rds role!"}, ["iam_role_name", "rds-directory-service-access"]),
    ("iam-role-arn", "iam_role", {"iam_role_name": "arn:aws:iam::123456789012:role/rds"}, ["iam_role_name", "use e.g."]),
    ("iam-role-path", "iam_role", {"iam_role_path": "rds"}, ["iam_role_path", "start and end with /"]),
    ("iam-role-state", "iam_role", {"iam_role_state": "attached"}, ["iam_role_state", "present", "absent"]),
    ("iam-role-trust-engine", "iam_role", {"iam_role_trust_engine": "Aurora PostgreSQL"},
     ["iam_role_trust_engine", "use postgresql"]),
    ("iam-role-trust-principals-string", "iam_role", {"iam_role_trust_principals": "rds.amazonaws.com"},
     ["iam_role_trust_principals", "use e.g. [directoryservice.rds.amazonaws.com"]),
    ("iam-role-trust-principals-empty", "iam_role", {"iam_role_trust_principals": []},
     ["iam_role_trust_principals", "non-empty list"]),
    # network
    ("db-sg-cidr", "network", {"network_db_security_group_id": "10.0.0.0/16"},
     ["network_db_security_group_id", "not a CIDR", "sg-0123456789abcdef0"]),
    ("directory-sg-cidr", "network", {"network_directory_security_group_id": "0.0.0.0/0"},
     ["network_directory_security_group_id", "not a CIDR", "SecurityGroupId"]),
    ("same-sg", "network", {"network_db_security_group_id": "sg-0123456789abcdef0"},
     ["network_db_security_group_id", "network_directory_security_group_id", "same group"]),
    ("db-port", "network", {"network_db_port": 70000}, ["network_db_port", "1-65535"]),
    ("network-state", "network", {"network_state": "open"}, ["network_state", "present", "absent"]),
    # cluster
    ("cluster-realm-lower", "cluster", {"cluster_realm": "corp.example.com"}, ["cluster_realm", "use CORP.EXAMPLE.COM"]),
    ("engine-version-format", "cluster", {"cluster_engine_version": "16.x"}, ["cluster_engine_version", "such as 16.6"]),
    ("engine-version-unsupported", "cluster", {"cluster_engine_version": "9.6"},
     ["cluster_engine_version", "aurora-postgresql 9.6", "choose an engine version"]),
    ("engine-mysql", "cluster", {"cluster_engine": "aurora-mysql"}, ["cluster_engine", "aurora-postgresql"]),
    ("cluster-sg-cidr", "cluster", {"cluster_vpc_security_group_ids": ["10.0.0.0/16"]},
     ["cluster_vpc_security_group_ids", "not CIDRs"]),
    ("cluster-timeout-negative", "cluster", {"cluster_wait_timeout": -1}, ["cluster_wait_timeout", "use e.g. 3600"]),
    ("cluster-poll-zero", "cluster", {"cluster_poll_interval": 0}, ["cluster_poll_interval", "use e.g. 5"]),
    ("cluster-propagation-negative", "cluster", {"cluster_iam_role_propagation_timeout": -5},
     ["cluster_iam_role_propagation_timeout", "use e.g. 60"]),
    ("cluster-state", "cluster", {"cluster_state": "joined"}, ["cluster_state", "present, absent"]),
    ("cluster-id", "cluster", {"cluster_id": "Orders_Prod"}, ["cluster_id", "use e.g. orders-prod"]),
    # 61 characters: the instance id <cluster_id>-1 would be 63+ and fail after the cluster exists.
    ("cluster-id-no-room-for-instances", "cluster", {"cluster_id": "a" * 61}, ["cluster_id", "at most 60 characters"]),
    ("cluster-no-subnet-group", "cluster", {"cluster_db_subnet_group_name": None},
     ["cluster_db_subnet_group_name", "set them"]),
    ("cluster-no-security-groups", "cluster", {"cluster_vpc_security_group_ids": []},
     ["cluster_vpc_security_group_ids", "set them"]),
    ("final-snapshot-id", "cluster", {"cluster_final_snapshot_identifier": "final--snapshot"},
     ["cluster_final_snapshot_identifier", "use e.g."]),
    ("cluster-port", "cluster", {"cluster_port": 80}, ["cluster_port", "1150-65535"]),
    ("cluster-instances-zero", "cluster", {"cluster_instance_count": 0}, ["cluster_instance_count", "at least 1"]),
    ("cluster-directory-id-domain", "cluster", {"cluster_directory_id": "corp.example.com"},
     ["cluster_directory_id", "d- and 10 hex digits"]),
    ("cluster-role-arn", "cluster", {"cluster_iam_role_name": "arn:aws:iam::123456789012:role/rds"},
     ["cluster_iam_role_name", "not the ARN"]),
    ("master-password-chars", "cluster", {"cluster_master_password": 'pa"ss/word@1'},
     ["cluster_master_password", "choose another password"]),
    # db_users
    ("db-realm-lower", "db_users", {"db_users_realm": "corp.example.com"}, ["db_users_realm", "use CORP.EXAMPLE.COM"]),
    ("login-sql-quote", "db_users", {"db_users_logins": [{"name": 'x"; DROP ROLE postgres; --'}]},
     ["db_users_logins", "use e.g. alice"]),
    ("login-with-realm", "db_users", {"db_users_logins": [{"name": "alice@CORP.EXAMPLE.COM"}]},
     ["db_users_logins", "without @REALM"]),
    ("login-realm-untrusted", "db_users", {"db_users_logins": [{"name": "joe", "realm": "EVIL.EXAMPLE.NET"}],
                                           "db_users_ad_directory_id": None, "db_users_trusted_realms": ["ONPREM.EXAMPLE.ORG"]},
     ["db_users_logins[].realm", "db_users_trusted_realms", "EVIL.EXAMPLE.NET"]),
    ("login-realm-not-a-realm", "db_users", {"db_users_logins": [{"name": "joe", "realm": "on prem"}]},
     ["db_users_logins[].realm", "ON PREM"]),
    ("login-twice", "db_users", {"db_users_logins": [{"name": "alice"}, {"name": "Alice"}]},
     ["db_users_logins", "give each login once"]),
    ("logins-and-a-logins-file", "db_users", {"db_users_logins": [{"name": "alice"}],
                                              "db_users_logins_file": "/nonexistent/logins.json"},
     ["db_users_logins and db_users_logins_file both give logins", "give the list in one of them"]),
    ("login-iam-and-kerberos", "db_users", {"db_users_logins": [{"name": "@iam_login"}]}, ["@iam_login", "rds_iam"]),
    ("login-iam-nested", "db_users", {"db_users_logins": [{"name": "@nested_iam_login"}]}, ["@nested_iam_login", "rds_iam"]),
    ("db-port-zero", "db_users", {"db_users_port": 0}, ["db_users_port", "5432"]),
    ("db-state", "db_users", {"db_users_state": "dropped"}, ["db_users_state", "present, absent"]),
    ("group-mapping-sid", "db_users", {"db_users_group_mappings": [{"ad_group": "dba", "sid": "Domain Admins", "role": "dba"}]},
     ["db_users_group_mappings", "S-1-5-21"]),
    # AWS's naming rules (module_utils rds_domain and ds, through the filter aurora.kerberos.input_problems).
    ("directory-name-localhost", "directory", {"directory_name": "dc.lab.localhost"}, ["directory_name", "reserves"]),
    ("directory-name-invalid-upper", "directory", {"directory_name": "corp.INVALID"}, ["directory_name", "reserves"]),
    ("directory-name-underscore", "directory", {"directory_name": "corp_ad.example.com"},
     ["directory_name", "fully qualified", "use e.g. corp.example.com"]),
    ("directory-name-long-label", "directory", {"directory_name": "a" * 64 + ".example.com"}, ["directory_name", "fully qualified"]),
    ("directory-name-reserved-trailing-dot", "directory", {"directory_name": "corp.example."},
     ["directory_name", "without a trailing dot"]),
    ("netbios-bad-char", "directory", {"directory_short_name": "CORP*AD"}, ["directory_short_name", "use e.g. CORP"]),
    ("admin-password-long", "directory", {"directory_admin_password": "Aa1!" * 17}, ["directory_admin_password", "8 to 64"]),
    ("directory-vpc-missing", "directory", {"directory_vpc_id": None}, ["directory_vpc_id", "vpc-0123456789abcdef0"]),
    ("directory-subnets-twice", "directory", {"directory_subnet_ids": ["@first_subnet", "@first_subnet"]},
     ["directory_subnet_ids", "exactly two"]),
    ("directory-subnets-missing", "directory", {"directory_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba987654321f"]},
     ["directory_subnet_ids", "two existing subnets", "give one subnet"]),
    ("directory-poll-zero", "directory", {"directory_poll_interval": 0}, ["directory_poll_interval", "use e.g. 15"]),
    ("directory-users-twice", "directory", {"directory_users": [{"name": "carol"}, {"name": "carol"}]},
     ["directory_users", "give each user once"]),
    ("directory-group-name", "directory", {"directory_groups": [{"name": "db/readers"}]}, ["directory_groups", "must be 1-64"]),
    ("directory-ldap-no-ca", "directory", {"directory_ldap_ca_file": ""}, ["directory_ldap_ca_file", "use directory_users_backend ds_data"]),
    ("directory-data-access-off", "directory", {"directory_users_backend": "ds_data", "directory_data_access": False},
     ["directory_data_access", "set it to true"]),
    ("trust-no-password", "directory", {"directory_trust": {"remote_domain_name": "onprem.example.com"}},
     ["directory_trust", "password"]),
    ("trust-forwarder-name", "directory",
     {"directory_trust": {"remote_domain_name": "onprem.example.com", "password": "Tr#st-pass-1",
                          "conditional_forwarder_ip_addrs": ["dns.onprem.example.com"]}}, ["directory_trust", "IPv4"]),
    ("share-account-number", "directory", {"directory_share": {"target_account_id": 1234}},
     ["directory_share.target_account_id", "12-digit"]),
    ("iam-role-name-long", "iam_role", {"iam_role_name": "r" * 65}, ["iam_role_name", "1-64"]),
    ("iam-role-name-empty", "iam_role", {"iam_role_name": ""}, ["iam_role_name", "use e.g."]),
    ("iam-role-path-one-slash", "iam_role", {"iam_role_path": "/rds"}, ["iam_role_path", "use / or e.g. /rds/"]),
    ("iam-role-trust-engine-upper", "iam_role", {"iam_role_trust_engine": "PostgreSQL"}, ["iam_role_trust_engine", "use postgresql"]),
    ("iam-role-trust-principal-upper", "iam_role", {"iam_role_trust_principals": ["RDS.amazonaws.com"]},
     ["iam_role_trust_principals", "use e.g."]),
    ("network-db-sg-name", "network", {"network_db_security_group_id": "default"}, ["network_db_security_group_id", "sg-"]),
    ("network-route-table", "network", {"network_db_route_table_ids": ["main"]}, ["network_db_route_table_ids", "rtb-"]),
    ("network-subnet-cidr", "network", {"network_db_subnet_ids": ["10.0.1.0/24"]}, ["network_db_subnet_ids", "subnet-"]),
    ("network-chain-space", "network", {"network_chain": "my chain"}, ["network_chain", "must be a non-empty value"]),
    ("network-port-negative", "network", {"network_db_port": -1}, ["network_db_port", "1-65535"]),
    ("master-username-reserved", "cluster", {"cluster_master_username": "user"},
     ["cluster_master_username", "reserved word", "use e.g. postgres"]),
    ("master-username-select", "cluster", {"cluster_master_username": "Select"}, ["cluster_master_username", "reserved word"]),
    ("master-username-rdsadmin", "cluster", {"cluster_master_username": "rdsadmin"},
     ["cluster_master_username", "for its own roles"]),
    ("master-username-rds-superuser", "cluster", {"cluster_master_username": "rds_superuser"},
     ["cluster_master_username", "for its own roles"]),
    ("master-username-pg", "cluster", {"cluster_master_username": "pg_admin"}, ["cluster_master_username", "pg_*"]),
    ("master-username-digit", "cluster", {"cluster_master_username": "1admin"}, ["cluster_master_username", "starting with a letter"]),
    ("master-username-hyphen", "cluster", {"cluster_master_username": "db-admin"}, ["cluster_master_username", "underscores"]),
    ("master-username-long", "cluster", {"cluster_master_username": "a" * 17}, ["cluster_master_username", "1-16"]),
    ("master-password-short", "cluster", {"cluster_master_password": "Ab1!x"}, ["cluster_master_password", "8-41"]),
    ("master-password-long", "cluster", {"cluster_master_password": "Long-Password-1" * 3}, ["cluster_master_password", "8-41"]),
    ("master-password-space", "cluster", {"cluster_master_password": "pass word 1"}, ["cluster_master_password", "a space"]),
    ("master-password-and-managed", "cluster", {"cluster_manage_master_user_password": True},
     ["cluster_master_password", "give exactly one"]),
    ("master-password-neither", "cluster", {"cluster_master_password": None}, ["cluster_master_password", "give exactly one"]),
    ("instance-class-no-db", "cluster", {"cluster_instance_class": "r6g.large"},
     ["cluster_instance_class", "use e.g. db.r6g.large"]),
    ("instance-class-upper", "cluster", {"cluster_instance_class": "DB.R6G.LARGE"}, ["cluster_instance_class", "db.<family>.<size>"]),
    ("instance-class-word", "cluster", {"cluster_instance_class": "large"}, ["cluster_instance_class", "use e.g."]),
    ("cluster-id-double-hyphen", "cluster", {"cluster_id": "orders--prod"}, ["cluster_id", "single hyphens"]),
    ("cluster-id-trailing-hyphen", "cluster", {"cluster_id": "orders-"}, ["cluster_id", "not ending with a hyphen"]),
    ("cluster-id-digit-first", "cluster", {"cluster_id": "1orders"}, ["cluster_id", "starting with a letter"]),
    ("cluster-id-too-long-to-tear-down", "cluster", {"cluster_state": "absent", "cluster_id": "a" * 64},
     ["cluster_id", "at most 63"]),
    ("cluster-backup-retention", "cluster", {"cluster_backup_retention_period": 40}, ["cluster_backup_retention_period", "1-35"]),
    ("cluster-parameter-group-default", "cluster", {"cluster_parameter_group_name": "default.aurora-postgresql16"},
     ["cluster_parameter_group_name", "not a default.* group"]),
    ("engine-version-patch", "cluster", {"cluster_engine_version": "16.6.1"}, ["cluster_engine_version", "such as 16.6"]),
    ("cluster-delete-confirm-dict", "cluster", {"cluster_delete_confirm": {"orders": True}}, ["cluster_delete_confirm", "must be names"]),
    ("final-snapshot-digit", "cluster", {"cluster_final_snapshot_identifier": "1final"}, ["cluster_final_snapshot_identifier", "use e.g."]),
    ("cluster-realm-mixed", "cluster", {"cluster_realm": "Corp.Example.Com"}, ["cluster_realm", "use CORP.EXAMPLE.COM"]),
    ("db-users-host-empty", "db_users", {"db_users_host": ""}, ["db_users_host", "set it"]),
    ("db-users-hostaddr-name", "db_users", {"db_users_hostaddr": "db.internal"}, ["db_users_hostaddr", "use e.g. 10.0.1.25"]),
    ("db-users-port-big", "db_users", {"db_users_port": 70000}, ["db_users_port", "5432"]),
    ("db-users-no-master-password", "db_users", {"db_users_master_password": None}, ["db_users_master_password", "give the master password"]),
    ("login-space", "db_users", {"db_users_logins": [{"name": "alice smith"}]}, ["db_users_logins", "use e.g. alice"]),
    ("db-realm-with-space", "db_users", {"db_users_realm": "CORP EXAMPLE.COM"}, ["db_users_realm", "use "]),
    ("group-mapping-short-sid", "db_users", {"db_users_group_mappings": [{"ad_group": "dba", "sid": "S-1-5", "role": "dba"}]},
     ["db_users_group_mappings", "S-1-5-21"]),
    # cluster_kind instance: an RDS for PostgreSQL DB instance (issue 15).
    ("cluster-kind", "cluster", {"cluster_kind": "rds"}, ["cluster_kind", "aurora, instance"]),
    ("instance-storage-small", "cluster", {"cluster_kind": "instance", "cluster_allocated_storage": 5},
     ["cluster_allocated_storage", "20-65536", "use e.g. 20"]),
    # The lab inventory maps an AD group (db_users_group_mappings), which makes cluster_pg_ad_mapping true.
    ("instance-pg-ad-mapping", "cluster", {"cluster_kind": "instance"}, ["cluster_pg_ad_mapping", "Aurora PostgreSQL only", "db_users_group_logins"]),
    ("instance-engine-mysql", "cluster", {"cluster_kind": "instance", "cluster_engine": "mysql", "cluster_pg_ad_mapping": False},
     ["cluster_engine", "aurora-postgresql, postgres"]),
    ("instance-password-long", "cluster", {"cluster_kind": "instance", "cluster_pg_ad_mapping": False,
                                           "cluster_master_password": "Long-Password-1" * 9}, ["cluster_master_password", "8-128"]),
    ("instance-of-an-aurora-cluster", "cluster", {"cluster_kind": "instance", "cluster_pg_ad_mapping": False, "cluster_id": "@aurora_member"},
     ["cluster_id", "@aurora_member", "Aurora cluster", "set cluster_kind aurora"]),
    ("multi-az-db-cluster", "cluster", {"cluster_id": "@multi_az_cluster"},
     ["cluster_id", "Multi-AZ DB cluster", "Multi-AZ DB clusters do not support Kerberos authentication"]),
    # db_users_group_logins (the shape Ansible's argument spec lets through; the rest: PLAYBOOK_CASES, site.yml).
    ("group-logins-name-slash", "db_users", {"db_users_group_logins": [{"ad_group": "db/admins"}]},
     ["db_users_group_logins", "sAMAccountName", "use e.g."]),
    ("group-logins-name-long", "db_users", {"db_users_group_logins": [{"ad_group": "g" * 42}]},
     ["db_users_group_logins", "1 to 41 characters"]),
    ("group-logins-twice", "db_users", {"db_users_group_logins": [{"ad_group": "DBA"}, {"ad_group": "dba"}]},
     ["db_users_group_logins", "each group once"]),
    ("group-logins-roles-string", "db_users", {"db_users_group_logins": [{"ad_group": "dba", "roles": "dba_role"}]},
     ["db_users_group_logins[0].roles", "list of names"]),
    ("group-logins-rds-iam", "db_users", {"db_users_group_logins": [{"ad_group": "dba", "roles": ["rds_iam"]}]},
     ["db_users_group_logins[0].roles", "rds_iam"]),
]


def resolve(value, refs):
    """Replace "@name" placeholders (values the lab decides) by their value."""
    if isinstance(value, str) and value.startswith("@"):
        return refs[value[1:]]
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    return value


def batch_playbook(cases, refs, results):
    """One play, one block/rescue per case; the rescue records the failure and the case's time window."""
    tasks = [{"name": "Start", "ansible.builtin.set_fact": {"bad_input_results": []}}]
    for case_id, role, variables, dummy in cases:
        record = ("{{ bad_input_results + [{'case': '%s', 'start': bad_input_start | float, 'end': now().timestamp(),"
                  " 'task': ansible_failed_task.name | default(''), 'result': ansible_failed_result}] }}" % case_id)
        tasks.append({
            "name": f"Case {case_id}",
            "block": [
                {"name": f"Start {case_id}", "ansible.builtin.set_fact": {"bad_input_start": "{{ now().timestamp() }}"}},
                {"name": f"Run {role} - {case_id}", "ansible.builtin.include_role": {"name": f"aurora.kerberos.{role}"},
                 "vars": {**resolve(BASE.get(role, {}), refs), **resolve(variables, refs)}},
                {"name": f"Not refused - {case_id}", "ansible.builtin.set_fact":
                    {"bad_input_results": record.replace("ansible_failed_result", "{'msg': 'NOT REFUSED'}")}},
            ],
            "rescue": [{"name": f"Refused - {case_id}", "ansible.builtin.set_fact": {"bad_input_results": record}}],
        })
    tasks.append({"name": "Write the results", "ansible.builtin.copy": {
        "content": "{{ bad_input_results | to_json }}", "dest": str(results), "mode": "0600"}})
    return [{"name": "Bad input", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def messages(result):
    """Every failure message in a task result, loop items included."""
    found = [result.get("msg") or ""]
    for item in result.get("results") or []:
        if item.get("failed"):
            found.append(item.get("msg") or "")
    return "\n".join(m if isinstance(m, str) else json.dumps(m) for m in found)


@pytest.fixture(scope="module")
def database(lab):
    """A cluster of the test's own, for its database (made before the call log is cleared, deleted afterwards)."""
    with own_cluster(lab, "aurkrb-badinput-db") as env:
        yield env


@pytest.fixture(scope="module")
def lab_refs(lab, database):
    """Values the cases refer to: the lab's subnets, a subnet in the same AZ as the first, the test cluster's
    database and logins in it holding rds_iam."""
    ec2 = boto3.client("ec2", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"])
    subnets = lab["LAB_SUBNET_IDS"].split(",")
    first = ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]
    used = {s["CidrBlock"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [lab["LAB_VPC_ID"]]}])["Subnets"]}
    vpc_cidr = ec2.describe_vpcs(VpcIds=[lab["LAB_VPC_ID"]])["Vpcs"][0]["CidrBlock"]
    prefix = ".".join(vpc_cidr.split(".")[:2])
    cidr = [c for c in (f"{prefix}.{n}.0/24" for n in range(200, 255)) if c not in used][0]
    extra = ec2.create_subnet(VpcId=lab["LAB_VPC_ID"], CidrBlock=cidr, AvailabilityZone=first["AvailabilityZone"])["Subnet"]
    realm = lab["LAB_AD_REALM"]
    iam_login, nested_login = "badinput-iam", "badinput-nested"
    # An instance of the test's Aurora cluster, and a Multi-AZ DB cluster (engine postgres): neither can be joined as
    # cluster_kind instance or aurora.
    rds = boto3.client("rds", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"])
    aurora_member, multi_az = "aurkrb-badinput-db-1", "aurkrb-badinput-maz"
    rds.create_db_instance(DBInstanceIdentifier=aurora_member, DBClusterIdentifier="aurkrb-badinput-db",
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    rds.create_db_cluster(DBClusterIdentifier=multi_az, Engine="postgres", EngineVersion="16.4", MasterUsername="boss",
                          MasterUserPassword="Passw0rd-multi-az", DBClusterInstanceClass="db.m6gd.large", AllocatedStorage=100,
                          StorageType="io1", Iops=1000, DBSubnetGroupName=lab["LAB_DB_SUBNET_GROUP"])
    conn = master(database)
    sql(conn, f'CREATE ROLE "{iam_login}@{realm}" LOGIN IN ROLE rds_iam')
    sql(conn, 'CREATE ROLE "badinput-iam-group" NOLOGIN IN ROLE rds_iam')
    sql(conn, f'CREATE ROLE "{nested_login}@{realm}" LOGIN IN ROLE "badinput-iam-group"')
    try:
        yield {"first_subnet": subnets[0], "same_az_subnets": [subnets[0], extra["SubnetId"]],
               "iam_login": iam_login, "nested_iam_login": nested_login, "realm": realm, "conn": conn,
               "db_host": database["LAB_PG_HOST"], "db_hostaddr": database["LAB_PG_HOSTADDR"],
               "db_port": int(database["LAB_PG_PORT"]), "aurora_member": aurora_member, "multi_az_cluster": multi_az}
    finally:
        rds.delete_db_cluster(DBClusterIdentifier=multi_az, SkipFinalSnapshot=True)
        rds.delete_db_instance(DBInstanceIdentifier=aurora_member, SkipFinalSnapshot=True)
        for role in (f"{iam_login}@{realm}", f"{nested_login}@{realm}", "badinput-iam-group"):
            sql(conn, f'DROP ROLE IF EXISTS "{role}"')
        conn.close()
        ec2.delete_subnet(SubnetId=extra["SubnetId"])


def assert_no_lab_cluster(lab):
    """A cluster already there would make the preflight check it instead of cluster_engine_version."""
    clusters = boto3.client("rds", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"]).describe_db_clusters()
    assert not [c for c in clusters["DBClusters"] if c["DBClusterIdentifier"] == "aurkrb-lab"], \
        ("the lab has the lab inventory's cluster: run teardown.yml -e cluster_delete=true "
         "-e teardown_confirm=<LAB_AD_DOMAIN>,aurkrb-lab first")


@pytest.fixture(scope="module")
def refused(lab, lab_refs, tmp_path_factory):
    """{case id: (failed task, messages, mutating calls in its window)} for every case, in one run."""
    assert_no_lab_cluster(lab)
    work = tmp_path_factory.mktemp("bad_input")
    results = work / "results.json"
    (work / "bad_input.yml").write_text(json.dumps(batch_playbook(CASES, lab_refs, results), indent=1))
    before = sql(lab_refs["conn"], "SELECT rolname FROM pg_roles ORDER BY 1")
    lab_api(lab, "DELETE", "calls")
    run = playbook(*INVENTORY, str(work / "bad_input.yml"))
    calls = lab_api(lab, "GET", "calls")["calls"]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert sql(lab_refs["conn"], "SELECT rolname FROM pg_roles ORDER BY 1") == before, "a bad input changed the database roles"
    outcome = {}
    for entry in json.loads(results.read_text()):
        window = [c for c in calls if entry["start"] - 0.05 <= c["time"] <= entry["end"] + 0.05]
        outcome[entry["case"]] = (entry["task"], messages(entry["result"]), [c for c in window if c["mutating"]], window)
    outcome["_all_mutating"] = [c for c in calls if c["mutating"]]
    return outcome


def test_the_table_covers_every_role():
    assert len(CASES) >= 30
    assert {role for dummy, role, dummy2, dummy3 in CASES} == {"directory", "iam_role", "network", "cluster", "db_users"}


def test_no_bad_input_writes_anything(refused):
    assert refused["_all_mutating"] == []


@pytest.mark.parametrize("case_id,role,variables,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_the_variable_and_the_fix(refused, lab_refs, case_id, role, variables, fragments):
    task, message, mutating, dummy = refused[case_id]
    assert "NOT REFUSED" not in message, f"{role} accepted {variables}"
    assert mutating == [], f"{case_id}: mutating calls before the refusal: {mutating}"
    fragments = [resolve(f, lab_refs) for f in fragments]
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{case_id}: {fragment!r} not in the message ({task}): {message}"
    assert any(word in message.lower() for word in FIX_WORDS), f"{case_id}: no fix in {message}"
    # A secret given in a bad case is never echoed back.
    for secret in ("MyAdmin#2024x", "Ab1!x", 'pa"ss/word@1', "Tr#st-pass-1", "abcdefgh 1x"):
        assert secret not in message


# The interpreter trap: an inventory that only names localhost (-i localhost,) sets neither the connection nor the
# interpreter. The playbooks' host_vars/localhost.yml runs localhost's modules in ansible-playbook's own Python
# (the one with boto3); without it the run connects over SSH, or with -c local discovers a Python without boto3
# ("No start of json char found").
INTERPRETER_ROLE = "aurkrb-interpreter-trap"


def delete_iam_role(iam, name):
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)


def test_a_localhost_only_inventory_runs_in_ansible_playbooks_python(lab):
    iam = boto3.client("iam", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"])
    extra = json.dumps({"aurora_kerberos_steps": ["iam_role"], "iam_role_name": INTERPRETER_ROLE})
    try:
        first = playbook("-i", "localhost,", "site.yml", "-e", extra)
        assert first.returncode == 0, first.stdout[-4000:]
        assert iam.get_role(RoleName=INTERPRETER_ROLE)["Role"]["RoleName"] == INTERPRETER_ROLE
        # -c local alone used to discover the machine's Python; the rerun converges with nothing to change.
        again = playbook("-i", "localhost,", "-c", "local", "site.yml", "-e", extra)
        assert again.returncode == 0, again.stdout[-4000:]
        assert recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    finally:
        if [r for r in iam.list_roles()["Roles"] if r["RoleName"] == INTERPRETER_ROLE]:
            delete_iam_role(iam, INTERPRETER_ROLE)


def test_a_localhost_only_inventory_without_variables_stops_at_once_naming_them(lab):
    lab_api(lab, "DELETE", "calls")
    run = playbook("-i", "localhost,", "site.yml")
    calls = lab_api(lab, "GET", "calls")["calls"]
    assert run.returncode != 0
    assert "No start of json char" not in run.stdout and "UNREACHABLE" not in run.stdout, run.stdout[-3000:]
    assert "missing required arguments: directory_name" in run.stdout, run.stdout[-3000:]
    assert [c["operation"] for c in calls if c["mutating"]] == []


def test_a_shared_step_refuses_hosts_that_differ(lab, tmp_path):
    """Two clusters sharing the directory step, one of them with another directory: refused before anything is
    written, naming the variable and both hosts, never a value (the other host's password differs too)."""
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    hosts = {"one": dict(local, cluster_id="aurkrb-shared-one"),
             "two": dict(local, cluster_id="aurkrb-shared-two", directory_name="other.example.com",
                         directory_admin_password="Another-Secret-77")}
    (tmp_path / "hosts.yml").write_text(json.dumps({"all": {"hosts": hosts}}))
    lab_api(lab, "DELETE", "calls")
    run = playbook("-i", str(tmp_path / "hosts.yml"), "site.yml", "-e", "aurora_kerberos_hosts=all")
    calls = lab_api(lab, "GET", "calls")["calls"]
    assert run.returncode != 0
    assert "directory_name differs between hosts one and two" in run.stdout, run.stdout[-3000:]
    assert "directory_admin_password differs between hosts one and two" in run.stdout, run.stdout[-3000:]
    assert "Another-Secret-77" not in run.stdout
    assert "cluster_id differs" not in run.stdout  # the cluster step is each host's own
    assert [c["operation"] for c in calls if c["mutating"]] == []


def test_a_shared_step_refused_for_one_host_stops_every_host(lab, tmp_path):
    """A shared step's inputs are validated once, for the first host: their refusal must stop the other hosts too
    (run_once alone fails only the host it ran for), before anything is written."""
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    # The same reserved name on every host: no difference between them, one refusal for all.
    hosts = {name: dict(local, cluster_id=f"aurkrb-shared-{name}", directory_name="corp.example")
             for name in ("one", "two", "three")}
    (tmp_path / "hosts.yml").write_text(json.dumps({"all": {"hosts": hosts}}))
    lab_api(lab, "DELETE", "calls")
    run = playbook("-i", str(tmp_path / "hosts.yml"), "site.yml", "-e", "aurora_kerberos_hosts=all")
    calls = lab_api(lab, "GET", "calls")["calls"]
    assert run.returncode != 0
    assert "directory_name" in run.stdout and "reserves" in run.stdout, run.stdout[-3000:]
    assert "TASK [Run the step" not in run.stdout, run.stdout[-3000:]
    assert [c["operation"] for c in calls if c["mutating"]] == []


# The playbooks, each run once for all its cases: every case is an inventory host of its own (its variables are
# host variables over the lab inventory's group_vars), so one ansible-playbook refuses them side by side. A host
# whose input is refused stops there; the call log must hold no mutating call at all for the run.
PLAYBOOK_CASES = {
    # A bad value of a late step is refused before the first step writes anything (site.yml validates every step
    # first; the directory would otherwise be created before the cluster's check).
    "site.yml": [
        ("site-engine-version", {"cluster_engine_version": "9.6"}, ["cluster_engine_version", "9.6", "choose an engine version"]),
        ("site-db-users-realm", {"db_users_realm": "corp.example.com"}, ["db_users_realm", "use CORP.EXAMPLE.COM"]),
        ("site-network-cidr", {"network_db_security_group_id": "10.0.0.0/16"}, ["network_db_security_group_id", "not a CIDR"]),
        ("site-cluster-port", {"cluster_port": 80}, ["cluster_port", "use e.g."]),
        ("site-directory-name-reserved", {"directory_name": "corp.example"}, ["directory_name", "reserves"]),
        ("site-master-username-reserved", {"cluster_master_username": "user"}, ["cluster_master_username", "reserved word"]),
        ("site-instance-class", {"cluster_instance_class": "r6g.large"}, ["cluster_instance_class", "use e.g. db.r6g.large"]),
        ("site-master-password-space", {"cluster_master_password": "pass word 1"}, ["cluster_master_password", "a space"]),
        ("site-cluster-id", {"cluster_id": "Orders_Prod"}, ["cluster_id", "use e.g. orders-prod"]),
        ("site-iam-role-arn", {"iam_role_name": "arn:aws:iam::123456789012:role/rds"}, ["iam_role_name", "use e.g."]),
        ("site-login-realm", {"db_users_logins": [{"name": "alice@CORP.EXAMPLE.COM"}]}, ["db_users_logins", "without @REALM"]),
        ("site-subnets-one-az", {"directory_subnet_ids": "@same_az_subnets"}, ["directory_subnet_ids", "two different"]),
        ("site-group-logins-roles-string", {"db_users_group_logins": [{"ad_group": "dba", "roles": "dba_role"}]},
         ["db_users_group_logins[0].roles must be a list of names", "use e.g."]),
        ("site-instance-kind", {"cluster_kind": "db"}, ["cluster_kind", "aurora, instance"]),
        ("site-aws-connection-region", {"aurora_kerberos_aws": {"region": "Paris"}}, ["aurora_kerberos_aws.region", "use e.g. eu-west-1"]),
    ],
    "playbooks/teardown.yml": [
        ("teardown-cluster-id", {"cluster_id": "Orders_Prod"}, ["cluster_id", "use e.g. orders-prod"]),
        ("teardown-aws-connection-key", {"aurora_kerberos_aws": {"regoin": "eu-west-1"}}, ["aurora_kerberos_aws", "unknown keys regoin"]),
        ("teardown-directory-name", {"directory_name": "corp"}, ["directory_name", "use e.g. corp.example.com"]),
        ("teardown-directory-reserved", {"directory_name": "corp.example"}, ["directory_name", "reserves"]),
        ("teardown-confirm-dict", {"teardown_confirm": {"aurkrb-lab": True}, "cluster_delete": True},
         ["teardown_confirm", "must be names"]),
        ("teardown-cluster-id-long", {"cluster_id": "a" * 64}, ["cluster_id", "at most 63"]),
        ("teardown-directory-trailing-dot", {"directory_name": "corp.example.com."}, ["directory_name", "without a trailing dot"]),
    ],
    "playbooks/verify.yml": [
        ("verify-no-host", {"verify_host": ""}, ["verify_host", "must be"]),
        ("verify-realm-lower", {"verify_host": "db.example.com", "verify_logins": [{"principal": "alice@corp.example.com", "password": "x"}]},
         ["verify_logins", "upper-case realm"]),
        ("verify-no-password", {"verify_host": "db.example.com", "verify_logins": [{"principal": "alice@CORP.EXAMPLE.COM"}]},
         ["verify_logins", "password or a keytab"]),
        ("verify-login-as-upper", {"verify_host": "db.example.com", "verify_logins": [],
                                   "verify_refusals": [{"principal": "bob@CORP.EXAMPLE.COM", "password": "x",
                                                        "login_as": "Alice@CORP.EXAMPLE.COM"}]},
         ["verify_refusals", "login_as"]),
        ("verify-nothing-to-prove", {"verify_host": "db.example.com", "verify_logins": [], "verify_refusals": []},
         ["verify_logins", "at least one"]),
    ],
    "playbooks/doctor.yml": [
        ("doctor-no-principal", {}, ["doctor_principal", "e.g. -e doctor_principal=alice@CORP.EXAMPLE.COM"]),
        ("doctor-principal-no-realm", {"doctor_principal": "alice"}, ["doctor_principal", "alice@CORP.EXAMPLE.COM"]),
        ("doctor-principal-service", {"doctor_principal": "postgres/db.example.com@CORP.EXAMPLE.COM"},
         ["doctor_principal", "alice@CORP.EXAMPLE.COM"]),
        ("doctor-cluster-id", {"doctor_principal": "alice@CORP.EXAMPLE.COM", "cluster_id": "Orders_Prod"},
         ["cluster_id", "use e.g. orders-prod"]),
        ("doctor-timeout", {"doctor_principal": "alice@CORP.EXAMPLE.COM", "doctor_timeout": -1}, ["doctor_timeout", "use e.g. 5"]),
    ],
}
# Shapes the role's argument spec (meta/argument_specs.yml, also for tasks_from: validate) refuses before any task
# runs, in Ansible's own words: they name db_users_group_logins and what it takes, not our fix (the role's own check,
# the filter rule group_logins, words the same shapes when the spec is not run: tests/unit/plugins/filter).
ARGSPEC_CASES = {
    "site.yml": [
        ("site-group-logins-not-a-list", {"db_users_group_logins": "dba"}, ["db_users_group_logins", "to dict"]),
        ("site-group-logins-no-ad-group", {"db_users_group_logins": [{"roles": ["dba"]}]},
         ["db_users_group_logins", "missing required arguments: ad_group"]),
        ("site-group-logins-unknown-key", {"db_users_group_logins": [{"ad_group": "dba", "role": ["dba"]}]},
         ["db_users_group_logins.role", "supported parameters include: ad_group, databases, roles"]),
        ("site-group-logins-entry-string", {"db_users_group_logins": ["dba"]}, ["db_users_group_logins", "to dict"]),
        ("site-group-logins-roles-dict", {"db_users_group_logins": [{"ad_group": "dba", "roles": {"dba": True}}]},
         ["'roles'", "db_users_group_logins", "convert to list"]),
    ],
}
ARGSPEC_CASE_LIST = [(case_id, book, variables, fragments) for book, cases in ARGSPEC_CASES.items()
                     for case_id, variables, fragments in cases]
PLAYBOOK_CASE_LIST = [(case_id, book, variables, fragments) for book, cases in PLAYBOOK_CASES.items()
                      for case_id, variables, fragments in cases]


def final_failures(report):
    """{host: (task name, messages)} of the failure that stopped each host, in an ansible.posix.json report (the
    last one: a failure a rescue handled comes before it)."""
    failures = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") or result.get("unreachable"):
                    failures[host] = (task["task"]["name"], messages(result))
    return failures


@pytest.fixture(scope="module")
def refused_by_playbooks(lab, lab_refs, tmp_path_factory):
    """{case id: (failed task, messages)} for every playbook case, one ansible-playbook per playbook."""
    assert_no_lab_cluster(lab)
    work = tmp_path_factory.mktemp("bad_input_playbooks")
    group_vars = work / "group_vars"
    group_vars.mkdir()
    (group_vars / "all.yml").write_text((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    outcome, mutating = {}, []
    for book, cases in PLAYBOOK_CASES.items():
        cases = cases + ARGSPEC_CASES.get(book, [])
        hosts = {case_id: {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                           **resolve(variables, lab_refs)} for case_id, variables, dummy in cases}
        (work / "hosts.yml").write_text(json.dumps({"all": {"hosts": hosts}}))
        lab_api(lab, "DELETE", "calls")
        # Every case is a host with its own values: no step of site.yml is shared (a shared step refuses hosts that
        # differ, test_a_shared_step_refuses_hosts_that_differ).
        unshared = ["-e", '{"aurora_kerberos_shared_steps": []}'] if book == "site.yml" else []
        run = playbook("-i", str(work / "hosts.yml"), book, "-e", "aurora_kerberos_hosts=all", *unshared,
                       extra_env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
        mutating += [c for c in lab_api(lab, "GET", "calls")["calls"] if c["mutating"]]
        report = json.loads(run.stdout[run.stdout.index("{"):])
        failures = final_failures(report)
        for case_id in hosts:
            outcome[case_id] = failures.get(case_id, ("", "NOT REFUSED"))
    outcome["_all_mutating"] = mutating
    return outcome


def test_the_table_has_a_hundred_cases_across_every_role_and_playbook():
    assert len(CASES) + len(PLAYBOOK_CASE_LIST) >= 100
    assert set(PLAYBOOK_CASES) == {"site.yml", "playbooks/teardown.yml", "playbooks/verify.yml", "playbooks/doctor.yml"}


def test_no_bad_input_to_a_playbook_writes_anything(refused_by_playbooks):
    assert refused_by_playbooks["_all_mutating"] == []


@pytest.mark.parametrize("case_id,book,variables,fragments", ARGSPEC_CASE_LIST, ids=[c[0] for c in ARGSPEC_CASE_LIST])
def test_the_argument_spec_refuses_a_wrong_shape_naming_the_variable(refused_by_playbooks, case_id, book, variables,
                                                                     fragments):
    task, message = refused_by_playbooks[case_id]
    assert "arg spec" in task and "Validation of arguments failed" in message, (case_id, task, message)
    text = " ".join(message.split()).lower()
    for fragment in fragments:
        assert fragment.lower() in text, f"{case_id}: {fragment!r} not in the message ({task}): {message}"


@pytest.mark.parametrize("case_id,book,variables,fragments", PLAYBOOK_CASE_LIST, ids=[c[0] for c in PLAYBOOK_CASE_LIST])
def test_a_playbook_refuses_bad_input_with_the_variable_and_the_fix(refused_by_playbooks, lab_refs, case_id, book,
                                                                    variables, fragments):
    task, message = refused_by_playbooks[case_id]
    assert "NOT REFUSED" not in message, f"{book} accepted {variables}"
    text = " ".join(message.split()).lower()
    for fragment in [resolve(f, lab_refs) for f in fragments]:
        assert fragment.lower() in text, f"{case_id}: {fragment!r} not in the message ({task}): {message}"
    assert any(word in text for word in FIX_WORDS) or "e.g." in text, f"{case_id}: no fix in {message}"
    assert "pass word 1" not in message
