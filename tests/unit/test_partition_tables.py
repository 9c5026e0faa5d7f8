# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The lab never imports the collection, so it keeps its own copy of AWS's Region tables (AWS_FACTS.md
section 3). The two copies must say the same: a Region added to one and not the other would make the lab
refuse what the collection builds, or accept what AWS refuses."""

import importlib.util
from pathlib import Path

from ansible_collections.aurora.kerberos.plugins.module_utils import partitions

LAB_PARTITIONS = Path(__file__).resolve().parents[2] / "lab" / "fidelity" / "partitions.py"


def lab_tables():
    spec = importlib.util.spec_from_file_location("lab_partitions", LAB_PARTITIONS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lab_and_the_collection_know_the_same_opt_in_and_new_regions():
    lab = lab_tables()
    assert lab.OPT_IN_BEFORE_CA_WEST_1 == partitions.OPT_IN_REGIONS_BEFORE_CA_WEST_1
    assert lab.ENGINE_PRINCIPAL_REGIONS == partitions.ENGINE_PRINCIPAL_REGIONS
    assert lab.AURORA_POSTGRESQL_ENGINE_PART == partitions.DEFAULT_ENGINE_PART
    for name, suffix in lab.DNS_SUFFIXES.items():
        assert partitions.DNS_SUFFIXES[name] == suffix


def test_every_principal_the_collection_builds_exists_for_the_lab_and_lets_rds_in():
    """The role the collection makes for a Region is accepted by the lab's IAM and passes the lab's join check."""
    lab = lab_tables()
    for region in sorted(partitions.OPT_IN_REGIONS | partitions.DEFAULT_REGIONS):
        partition = partitions.partition_for_region(region)
        principals = partitions.trust_principals(region, partition, partitions.opt_in_from_table(region))
        assert all(lab.principal_exists(p, partition) for p in principals), region
        assert lab.directory_principal(region) in principals, region
