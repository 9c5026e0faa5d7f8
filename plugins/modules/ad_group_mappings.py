#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ad_group_mappings
short_description: Map AD security groups to Aurora PostgreSQL roles with pg_ad_mapping
version_added: 0.1.0
description:
  - Makes the mappings of C(pg_ad_mapping) (Aurora PostgreSQL 14.10+ and 15.5+) match a list, in one
    connection and one transaction. Members of a mapped AD group log in with Kerberos as the
    mapped role; the heaviest mapping wins when a user is in several groups.
  - A mapping cannot be edited, so a changed one is reset (C(pgadmap_reset_mapping)) and set again
    (C(pgadmap_set_mapping)). An unchanged one is left alone.
  - Each mapped role is created when missing, gets C(LOGIN) and C(CONNECT) on its databases, and must
    never be a member of C(rds_ad) (the task refuses, naming the chain of roles).
  - The group SID is the C(group.sid) that M(aurora.kerberos.ad_group) returns.
  - Runs C(CREATE EXTENSION IF NOT EXISTS pg_ad_mapping) first, in the same transaction, when the extension is
    not there yet and there is a mapping to set. Before any write it reads C(SHOW shared_preload_libraries);
    without C(pg_ad_mapping) there (a custom DB cluster parameter group, then a reboot of the writer, as AWS
    documents) the task fails, naming the fix, and changes nothing.
author:
  - aurora.kerberos contributors (!UNKNOWN)
requirements:
  - psycopg2 (or psycopg2-binary) on the host that runs the module
  - boto3 and botocore, for O(master_user_secret)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - community.postgresql.postgres
  - amazon.aws.common.modules
  - amazon.aws.region.modules
attributes:
  check_mode:
    support: full
    details: Reads the mappings and the catalogs and reports what would change; executes nothing.
  diff_mode:
    support: full
    details: The mappings before and after.
  platform:
    platforms: posix
options:
  mappings:
    description:
      - The mappings.
    type: list
    elements: dict
    default: []
    suboptions:
      ad_group:
        description: The AD group's name (C(group.name) of M(aurora.kerberos.ad_group)).
        type: str
        required: true
      sid:
        description: The AD group's security identifier, C(S-1-5-21-...) (C(group.sid) of M(aurora.kerberos.ad_group)).
        type: str
        required: true
      role:
        description: The database role the group's members log in as. Created with C(LOGIN) when missing.
        type: str
        required: true
      weight:
        description: Which mapping wins for a user in several mapped groups; the highest weight wins.
        type: int
        default: 1
      databases:
        description:
          - Databases on which the role gets C(CONNECT). Defaults to O(login_db). Other grants are left alone.
        type: list
        elements: str
  state:
    description:
      - V(present) sets the mappings of O(mappings); V(absent) resets them (their roles stay).
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - Whether to reset every mapping that O(mappings) does not list.
    type: bool
    default: false
  login_db:
    description:
      - The database to connect to, where the module runs C(CREATE EXTENSION pg_ad_mapping) if it is not there yet.
    type: str
    default: postgres
  ssl_mode:
    description:
      - libpq C(sslmode); keep V(verify-full) with O(ca_cert) set to the RDS CA bundle on AWS.
    type: str
    default: verify-full
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  master_user_secret:
    description:
      - ARN or name of the Secrets Manager secret with the master user's C(username) and C(password)
        (C(ManageMasterUserPassword)); overrides O(login_user) and O(login_password).
    type: str
notes:
  - The module creates the extension but cannot preload its library. The cluster needs C(pg_ad_mapping) in
    C(shared_preload_libraries) of a custom DB cluster parameter group and a reboot of the writer; the
    aurora.kerberos.cluster role does both when C(db_users_group_mappings) is set (or C(cluster_pg_ad_mapping)).
  - Connect to the writer (the cluster endpoint), as AWS runs the mapping functions only on the primary instance.
seealso:
  - module: aurora.kerberos.ad_group
  - module: aurora.kerberos.kerberos_logins
"""

EXAMPLES = r"""
- name: The AD group of the report readers
  aurora.kerberos.ad_group:
    name: db-reports-readers
    domain: corp.example.com
    ldap_server: dc1.corp.example.com
    ldap_ca_file: /etc/pki/corp-ca.pem
    bind_password: "{{ ad_admin_password }}"
  register: readers

- name: Its members log in as reports_reader
  aurora.kerberos.ad_group_mappings:
    login_host: "{{ endpoint }}"
    ca_cert: /etc/pki/rds/global-bundle.pem
    master_user_secret: "{{ master_user_secret_arn }}"
    mappings:
      - ad_group: "{{ readers.group.name }}"
        sid: "{{ readers.group.sid }}"
        role: reports_reader
        weight: 10
        databases: [reports]
    exclusive: true
"""

RETURN = r"""
mappings:
  description: The mappings after the task (or what they would be in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"ad_group": "db-reports-readers", "sid": "S-1-5-21-1-2-3-1110", "role": "reports_reader", "weight": 10}]
set:
  description: Mappings set by the task.
  returned: always
  type: list
  elements: dict
  sample: [{"ad_group": "db-reports-readers", "sid": "S-1-5-21-1-2-3-1110", "role": "reports_reader", "weight": 10}]
reset:
  description: Mappings reset by the task (a changed mapping is reset, then set).
  returned: always
  type: list
  elements: dict
  sample: []
extension_created:
  description: Whether the task ran (or in check mode would run) C(CREATE EXTENSION pg_ad_mapping).
  returned: always
  type: bool
  sample: true
created:
  description: Roles created for mappings.
  returned: always
  type: list
  elements: str
  sample: ["reports_reader"]
granted:
  description: CONNECT grants given to mapped roles.
  returned: always
  type: list
  elements: dict
  sample: [{"database": "reports", "role": "reports_reader"}]
queries:
  description: The statements executed, or that check mode would execute.
  returned: always
  type: list
  elements: str
  sample: ["CREATE EXTENSION IF NOT EXISTS pg_ad_mapping",
           "SELECT pgadmap_set_mapping('db-reports-readers', 'reports_reader', 'S-1-5-21-1-2-3-1110', 10)"]
"""

from ansible_collections.aurora.kerberos.plugins.module_utils import ad_mapping
from ansible_collections.aurora.kerberos.plugins.module_utils import logins as lg
from ansible_collections.aurora.kerberos.plugins.module_utils import pg
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule


def main():
    argument_spec = pg.argument_spec()
    argument_spec.update(
        mappings=dict(type="list", elements="dict", default=[], options=dict(
            ad_group=dict(type="str", required=True),
            sid=dict(type="str", required=True),
            role=dict(type="str", required=True),
            weight=dict(type="int", default=1),
            databases=dict(type="list", elements="str"),
        )),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        exclusive=dict(type="bool", default=False),
    )
    module = AuroraKerberosAWSModule(argument_spec=argument_spec, supports_check_mode=True, check_boto3=False)
    params = module.params
    try:
        wanted = ad_mapping.validate_mappings(params["mappings"], [params["login_db"]])
    except lg.LoginsError as e:
        module.fail_json(msg=str(e))

    def planner(cursor):
        missing_extension = ad_mapping.extension_state(cursor, params["state"] == "present" and bool(wanted))
        catalog = lg.read_catalog(cursor)
        existing = ad_mapping.read_mappings(cursor, missing_extension)
        plan = ad_mapping.plan_mappings(wanted, params["state"], existing, catalog, params["exclusive"],
                                        create_extension=missing_extension)
        return plan, existing

    plan, existing, queries = pg.transact(module, planner)
    result = dict(changed=plan.changed, mappings=ad_mapping.after(existing, plan), set=plan.set, reset=plan.reset,
                  created=plan.created, granted=plan.granted, extension_created=plan.extension_created,
                  queries=queries)
    if module._diff:
        result["diff"] = dict(before={"mappings": existing}, after={"mappings": result["mappings"]})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
