# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS's naming rules (module_utils input_rules) as the roles' validation runs them through the filter
aurora.kerberos.input_problems: each refusal names the variable and the fix, and never shows a password."""

import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.aurora.kerberos.plugins.filter import input_problems as filter_module
from ansible_collections.aurora.kerberos.plugins.filter.input_problems import REGION_NAME, FilterModule, input_problems
from ansible_collections.aurora.kerberos.plugins.module_utils import input_rules

# The folder that holds ansible_collections/aurora/kerberos (the filter is plugins/filter/input_problems.py in it).
COLLECTIONS_ROOT = Path(filter_module.__file__).parents[5]

REFUSED = [
    # DB cluster identifiers (rds model DBClusterIdentifier), lower case; room for the instance ids <cluster_id>-N.
    ("rds_id", "Orders_Prod", {}, ["lower-case", "use e.g. orders-prod"]),
    ("rds_id", "1orders", {}, ["starting with a letter"]),
    ("rds_id", "orders-", {}, ["not ending with a hyphen"]),
    ("rds_id", "orders--prod", {}, ["single hyphens"]),
    ("rds_id", "a" * 64, {}, ["at most 63"]),
    ("rds_id", "a" * 61, {"room": 3}, ["at most 60", "<the_role_variable>-N"]),
    ("rds_id", None, {}, ["got None"]),
    # Aurora PostgreSQL's master user name.
    ("master_username", "user", {}, ["reserved word of PostgreSQL", "use e.g. postgres"]),
    ("master_username", "SELECT", {}, ["reserved word"]),
    ("master_username", "rdsadmin", {}, ["keeps for its own roles"]),
    ("master_username", "rds_superuser", {}, ["keeps for its own roles"]),
    ("master_username", "pg_monitor", {}, ["pg_*"]),
    ("master_username", "public", {}, ["keeps for its own roles"]),
    ("master_username", "1admin", {}, ["starting with a letter"]),
    ("master_username", "db-admin", {}, ["letters, digits or underscores"]),
    ("master_username", "a" * 17, {}, ["1-16"]),
    ("master_username", "", {}, ["1-16"]),
    # The master password: 8-41 printable ASCII without / " @ ' or a space.
    ("ec2_id", "10.0.0.0/16", {}, ["must be a security group id (sg-...), not a CIDR", "sg-0123456789abcdef0"]),
    ("ec2_id", "default", {"hint": "use the cluster's group"}, ["security group id", "use the cluster's group"]),
    ("ec2_id", ["rtb-0123456789abcdef0", "main"], {"kind": "route_table"}, ["must list route table ids (rtb-...)", "'main'"]),
    ("ec2_id", ["10.0.1.0/24"], {"kind": "subnet"}, ["subnet ids (subnet-...)"]),
    ("ec2_id", "sg-123", {}, ["security group id"]),
    ("master_password", "short1!", {}, ["8-41"]),
    ("master_password", "x" * 42, {}, ["8-41"]),
    ("master_password", "x" * 129, {"engine": "postgres"}, ["8-128", "RDS for PostgreSQL instance"]),
    ("master_password", "pass/word1", {}, ["choose another password"]),
    ("master_password", 'pass"word1', {}, ["choose another password"]),
    ("master_password", "pass@word1", {}, ["choose another password"]),
    ("master_password", "pass'word1", {}, ["choose another password"]),
    ("master_password", "pass word1", {}, ["choose another password"]),
    ("master_password", "pässword1x", {}, ["printable ASCII"]),
    # Instance classes.
    ("instance_class", "r6g.large", {}, ["db.<family>.<size>", "use e.g. db.r6g.large"]),
    ("instance_class", "DB.R6G.LARGE", {}, ["db.<family>.<size>"]),
    ("instance_class", "db.r6g.large ", {}, ["db.<family>.<size>"]),
    ("instance_class", "large", {}, ["use e.g. db.r6g.large"]),
    # Directory names (AWS_FACTS.md section 1).
    ("directory_name", "corp.example", {}, ["reserves", "use a domain you own"]),
    ("directory_name", "ad.corp.INVALID", {}, ["reserves"]),
    ("directory_name", "dc.localhost", {}, ["reserves"]),
    ("directory_name", "corp.example.com.", {}, ["without a trailing dot", "'corp.example.com'"]),
    ("directory_name", "corp", {}, ["fully qualified", "use e.g. corp.example.com"]),
    ("directory_name", None, {}, ["fully qualified"]),
    ("directory_short_name", ".CORP", {}, ["period", "use e.g. CORP"]),
    ("directory_short_name", "CORPORATE-NETBIOS", {}, ["1-15"]),
    ("directory_admin_password", "", {}, ["is missing", "set it from a vault"]),
    ("directory_admin_password", "MyAdmin#2024x", {}, ['must not contain the word "admin"']),
    ("directory_admin_password", "abcdefgh 1x", {}, ["3 of", "a space is not one"]),
]
ACCEPTED = [
    ("rds_id", "orders-prod", {"room": 3}),
    ("rds_id", "a" * 63, {}),
    ("rds_id", "a" * 60, {"room": 3}),
    ("ec2_id", "sg-0123456789abcdef0", {}),
    ("ec2_id", "sg-01234567", {}),
    ("ec2_id", ["subnet-0123456789abcdef0", "subnet-01234567"], {"kind": "subnet"}),
    ("ec2_id", [], {"kind": "route_table"}),
    ("master_username", "postgres", {}),
    ("master_username", "db_admin1", {}),
    ("master_username", "a" * 16, {}),
    ("master_password", "Passw0rd-ok!", {}),
    ("master_password", "x" * 41, {}),
    ("master_password", "x" * 128, {"engine": "postgres"}),
    ("master_password", "12345678", {}),
    ("instance_class", "db.r6g.large", {}),
    ("instance_class", "db.serverless", {}),
    ("instance_class", "db.r7i.48xlarge", {}),
    ("directory_name", "corp.example.com", {}),
    ("directory_name", "ad.corp.example.co.uk", {}),
    ("directory_short_name", "CORP", {}),
    ("directory_admin_password", "Sup3r-Secret", {}),
]


@pytest.mark.parametrize("rule,value,options,fragments", REFUSED, ids=[f"{r[0]}-{r[1]!r}"[:60] for r in REFUSED])
def test_a_value_aws_refuses_is_refused_naming_the_variable_and_the_fix(rule, value, options, fragments):
    problems = input_problems([[rule, "the_role_variable", value, options]])
    assert len(problems) == 1, problems
    assert problems[0].startswith("the_role_variable "), problems[0]
    for fragment in fragments:
        assert fragment in problems[0], problems[0]
    assert any(word in problems[0] for word in ("use ", "set ", "choose ")), problems[0]
    if "password" in rule and value:
        assert value not in problems[0]


@pytest.mark.parametrize("rule,value,options", ACCEPTED, ids=[f"{r[0]}-{r[1]!r}"[:60] for r in ACCEPTED])
def test_a_value_aws_takes_passes(rule, value, options):
    assert input_problems([[rule, "v", value, options]]) == []


def test_every_problem_of_a_list_is_reported_in_order():
    problems = input_problems([["rds_id", "cluster_id", "A"], ["master_username", "cluster_master_username", "postgres"],
                               ["instance_class", "cluster_instance_class", "r6g.large"]])
    assert [p.split()[0] for p in problems] == ["cluster_id", "cluster_instance_class"]


def test_an_unknown_rule_is_an_error_naming_the_rules():
    with pytest.raises(ValueError, match="no rule 'nope'.*master_username"):
        input_problems([["nope", "x", "y"]])
    assert FilterModule().filters()["input_problems"] is input_problems


def test_every_postgresql_reserved_word_is_refused_and_is_lower_case():
    assert len(input_rules.POSTGRESQL_RESERVED_WORDS) == 100
    for word in input_rules.POSTGRESQL_RESERVED_WORDS:
        assert word == word.lower()
        assert input_rules.master_username_problem(word, "v")


# The cluster role's cluster_kind against what cluster_id names (amazon.aws's rds_*_info answers, snake_case).
AURORA_MEMBER = {"db_instance_identifier": "orders-1", "db_cluster_identifier": "orders", "engine": "aurora-postgresql"}
MULTI_AZ_MEMBER = {"db_instance_identifier": "pg-maz-1", "db_cluster_identifier": "pg-maz", "engine": "postgres"}
MULTI_AZ_CLUSTER = {"db_cluster_identifier": "pg-maz", "engine": "postgres"}


@pytest.mark.parametrize("kind,value,fragments", [
    ("instance", AURORA_MEMBER, ["cluster_id orders-1", "Aurora cluster orders", "set cluster_kind aurora and cluster_id orders"]),
    ("instance", MULTI_AZ_MEMBER, ["Multi-AZ DB cluster pg-maz", "do not support Kerberos authentication",
                                   "Limitations of Multi-AZ DB clusters", "Use a single DB instance"]),
    ("instance", {"db_instance_identifier": "shop", "engine": "mysql"}, ["engine mysql", "engine postgres"]),
    ("aurora", MULTI_AZ_CLUSTER, ["cluster_id pg-maz is a Multi-AZ DB cluster of engine postgres",
                                  "do not support Kerberos authentication", "cluster_kind instance"]),
])
def test_a_resource_of_another_kind_is_refused_with_aws_reason(kind, value, fragments):
    problems = input_problems([["rds_kind", "cluster_id", value, {"kind": kind}]])
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems[0]


@pytest.mark.parametrize("kind,value", [
    ("instance", {}), ("aurora", {}),
    ("instance", {"db_instance_identifier": "orders-pg", "engine": "postgres"}),
    ("aurora", {"db_cluster_identifier": "orders", "engine": "aurora-postgresql"}),
])
def test_nothing_yet_or_the_right_kind_passes(kind, value):
    assert input_problems([["rds_kind", "cluster_id", value, {"kind": kind}]]) == []


@pytest.mark.parametrize("value,fragments", [
    ("dba", ["db_users_group_logins must be a list", "use e.g. [{ad_group: dba"]),
    (["dba"], ["db_users_group_logins[0] must be a mapping", "use e.g."]),
    ([{"ad_group": "dba", "role": ["dba_role"]}], ["db_users_group_logins[0] has unknown keys role", "use only ad_group, roles, databases"]),
    ([{"ad_group": "dba", "roles": "dba_role"}], ["db_users_group_logins[0].roles must be a list of names", "use e.g."]),
    ([{"ad_group": "dba", "databases": [1]}], ["db_users_group_logins[0].databases must be a list of names"]),
    ([{"ad_group": " dba"}], ["db_users_group_logins[0].ad_group ' dba' starts or ends with a space", "give each entry"]),
    ([{"ad_group": "dba", "roles": ["rds_iam"]}], ["db_users_group_logins[0].roles lists rds_iam", "never hold both"]),
    ([{"ad_group": "dba", "roles": ["r" * 64]}], ["db_users_group_logins[0].roles", "PostgreSQL names stop at 63"]),
    ([{"ad_group": "g" * 42}], ["over PostgreSQL's 63 bytes", "use a shorter group name"]),
    ([{"ad_group": "DBA"}, {"ad_group": "dba"}], ["db_users_group_logins[1].ad_group 'dba' is listed twice"]),
])
def test_group_logins_of_a_wrong_shape_or_name_are_refused_naming_the_variable(value, fragments):
    problems = input_problems([["group_logins", "db_users_group_logins", value]])
    assert len(problems) == 1, problems
    assert problems[0].startswith("db_users_group_logins"), problems[0]
    for fragment in fragments:
        assert fragment in problems[0], problems[0]


@pytest.mark.parametrize("value", [None, [], [{"ad_group": "dba"}],
                                   [{"ad_group": "dba", "roles": ["dba_role"], "databases": ["reports"]}, {"ad_group": "readers"}]])
def test_group_logins_of_the_right_shape_pass(value):
    assert input_problems([["group_logins", "db_users_group_logins", value]]) == []


@pytest.mark.parametrize("value,fragments", [
    ("eu-west-1", ["aurora_kerberos_aws must be a mapping", "got a str", "use e.g. {region: eu-west-1"]),
    ({"regoin": "eu-west-1"}, ["unknown keys regoin", "use only region, profile, endpoint_url"]),
    ({"region": "Europe (Paris)"}, ["aurora_kerberos_aws.region must be an AWS Region code", "eu-west-1"]),
    ({"region": "EU-WEST-1"}, ["aurora_kerberos_aws.region"]),
    ({"profile": "prod", "access_key": "AKIAEXAMPLE"}, ["both a profile and keys", "give one of them"]),
])
def test_a_wrong_aws_connection_is_refused_naming_the_variable(value, fragments):
    problems = input_problems([["aws_connection", "aurora_kerberos_aws", value]])
    assert len(problems) == 1
    for fragment in fragments:
        assert fragment in problems[0]


def test_the_aws_connection_never_shows_its_keys():
    problems = input_problems([["aws_connection", "aurora_kerberos_aws",
                                {"profile": "prod", "secret_key": "s3cr3t-value", "regoin": "x"}]])
    assert problems and "s3cr3t-value" not in " ".join(problems)


@pytest.mark.parametrize("value", [None, {}, {"region": "us-gov-west-1"}, {"region": "cn-north-1", "profile": "cn"},
                                   {"region": "eusc-de-east-1"}, {"region": "us-isob-east-1"},
                                   {"region": "", "endpoint_url": "http://127.0.0.1:1"},
                                   {"access_key": "AKIA", "secret_key": "x", "session_token": "y", "validate_certs": False}])
def test_a_right_aws_connection_passes(value):
    assert input_problems([["aws_connection", "aurora_kerberos_aws", value]]) == []


def test_the_removed_role_connection_variables_are_refused_naming_them_and_the_one_variable():
    problems = input_problems([["removed_aws", "cluster", ["cluster_aws_region", "cluster_aws_profile"]]])
    assert len(problems) == 1
    for fragment in ("cluster_aws_profile, cluster_aws_region", "aurora_kerberos_aws (profile, region",
                     "module_defaults for group/aurora.kerberos.aws", "remove these variables"):
        assert fragment in problems[0]
    assert input_problems([["removed_aws", "cluster", []]]) == []


@pytest.mark.parametrize("value,required,refused", [
    (None, False, False), (None, True, True), ("d-1234567890", True, False), ("d-12345", False, True),
    ("D-1234567890", False, True), ("d-12345678901", False, True), (1234567890, False, True), ("", True, True),
])
def test_a_directory_id_is_d_and_10_hex_digits_and_null_only_where_optional(value, required, refused):
    problems = input_problems([["directory_id", "cluster_directory_id", value, {"required": required}]])
    assert bool(problems) == refused
    if refused:
        assert problems[0].startswith("cluster_directory_id must be a directory id, d- and 10 hex digits")
        assert "use e.g. d-1234567890" in problems[0]


@pytest.mark.parametrize("value,fragments", [
    ("arn:aws:iam::123456789012:role/rds", ["cluster_iam_role_name", "is an ARN", "not the ARN", "run the iam_role role"]),
    ("rds role!", ["is not an IAM role name", "must match pattern"]),
    ("r" * 65, ["is not an IAM role name", "may not exceed 64"]),
    ("rôle", ["is not an IAM role name", "ASCII letters only"]),
    (None, ["give the name of the IAM role"]),
    ("", ["give the name of the IAM role"]),
])
def test_an_iam_role_name_iam_refuses_is_refused_by_amazon_aws_rule_and_ascii(value, fragments):
    problems = input_problems([["iam_role_name", "cluster_iam_role_name", value, {"hint": "or run the iam_role role first"}]])
    assert len(problems) == 1
    for fragment in fragments:
        assert fragment in problems[0]


@pytest.mark.parametrize("value", ["rds-directory-service-access", "A+b=c,d.e@f_g-h", "r" * 64])
def test_an_iam_role_name_iam_takes_passes(value):
    assert input_problems([["iam_role_name", "iam_role_name", value]]) == []


@pytest.mark.parametrize("value,refused", [("/", False), ("/rds/", False), ("/a/b.c@d/", False), ("rds", True),
                                           ("/rds", True), ("/r ds/", True), ("/r#s/", True), (None, True)])
def test_an_iam_path_is_checked_by_the_rule_amazon_aws_applies_to_the_role(value, refused):
    problems = input_problems([["iam_path", "iam_role_path", value]])
    assert bool(problems) == refused
    if refused:
        assert problems[0].startswith("iam_role_path must start and end with /") and "use / or e.g. /rds/" in problems[0]


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "cn-north-1", "eusc-de-east-1", "us-isob-east-1",
                                    "1", "123", "a" * 63, "a" * 64, "-eu", "eu-", "eu_west", "eu.west", "eu west", ""])
def test_the_region_rule_is_botocores(region):
    """The filter carries a copy of botocore's Region pattern (REGION_NAME); it must answer as botocore does."""
    from botocore.exceptions import InvalidRegionError
    from botocore.utils import validate_region_name

    try:
        validate_region_name(region)
        botocore_takes = True
    except InvalidRegionError:
        botocore_takes = False
    assert (REGION_NAME.match(region) is not None) == botocore_takes


def test_the_filter_loads_no_aws_sdk():
    """Every worker that checks a role's inputs loads the filter: it must not load botocore, boto3 or amazon.aws's
    module_utils (about 0.12 CPU seconds a host, measured). A fresh interpreter shows what the import pulls in."""
    script = (
        "import sys\n"
        "from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder\n"
        f"_AnsibleCollectionFinder(paths=[{str(COLLECTIONS_ROOT)!r}])._install()\n"
        "import ansible_collections.aurora.kerberos.plugins.filter.input_problems as f\n"
        "f.input_problems([['rds_id', 'cluster_id', 'orders-prod'], ['aws_connection', 'a', {'region': 'eu-west-1'}],\n"
        "                  ['directory_name', 'd', 'corp.example.com'], ['rds_kind', 'cluster_id', {}]])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')\n"
        "             or m.startswith('ansible_collections.amazon')))\n")
    loaded = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert loaded.strip() == "[]"
