"""The directory role with every option (trust, share, data access, ds-data user and group) creates,
converges, publishes what the roles after it need, and walks it all back."""

import json
import secrets

import boto3

from ansible_run import playbook, recap
from labtools import delete_ad_user, secret_names, unique

PLAYBOOK = "tests/integration/playbooks/directory_role.yml"


def client(lab, service, **credentials):
    return boto3.client(service, endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                        **(credentials or {"aws_access_key_id": "lab", "aws_secret_access_key": "lab"}))


def test_the_directory_role_manages_trust_share_data_access_users_and_groups(lab, tmp_path):
    user, group = unique("carol"), unique("db-readers")
    extra = tmp_path / "vars.json"
    output = tmp_path / "output.json"
    hidden = {"role_trust_password": "Trust-" + secrets.token_hex(8), "role_user_password": "Us3r-" + secrets.token_hex(8)}
    extra.write_text(json.dumps({**hidden, "role_user": user, "role_group": group, "role_output_file": str(output)}))
    run = [PLAYBOOK, "-e", f"@{extra}"]
    published = {}
    try:
        first = playbook(*run)
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
        published = json.loads(output.read_text())
        again = playbook(*run)
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout
        for text in (first.stdout, again.stdout):
            for secret in [*hidden.values(), *(lab[name] for name in secret_names(lab))]:
                assert secret not in text

        ds = client(lab, "ds")
        directory_id = published["directory_id"]
        directory = ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]
        assert published["ready"] is True and published["realm"] == lab["LAB_AD_REALM"]
        assert published["security_group_id"] == directory["VpcSettings"]["SecurityGroupId"]
        assert published["dns_ip_addrs"] == directory["DnsIpAddrs"]
        trusts = ds.describe_trusts(DirectoryId=directory_id)["Trusts"]
        assert [(t["RemoteDomainName"], t["TrustState"], t["TrustId"]) for t in trusts] == \
            [("onprem.example.net", "Verified", published["trust_id"])]
        shares = ds.describe_shared_directories(OwnerDirectoryId=directory_id)["SharedDirectories"]
        assert [(s["SharedAccountId"], s["ShareStatus"], s["SharedDirectoryId"]) for s in shares] == \
            [("222233334444", "Shared", published["shared_directory_id"])]
        assert ds.describe_directory_data_access(DirectoryId=directory_id)["DataAccessStatus"] == "Enabled"
        assert published["users"] == [f"{user}@{lab['LAB_AD_REALM']}"]
        [mapped] = published["groups"]
        assert mapped["name"] == group and mapped["sid"].startswith("S-1-5-21-")
        members = client(lab, "ds-data").list_group_members(DirectoryId=directory_id, SAMAccountName=group)["Members"]
        assert [m["SAMAccountName"] for m in members] == [user]

        # One command keeps registered values across plays: a later play's read entry point publishes the directory
        # as it is (its trust deleted between the plays), not as the first play's run left it.
        read_later = tmp_path / "read.json"
        later = playbook(*run, "-e", "role_read_later=true", "-e", f"role_read_output_file={read_later}")
        assert later.returncode == 0, later.stdout[-6000:] + later.stderr[-3000:]
        read = json.loads(read_later.read_text())
        assert not ds.describe_trusts(DirectoryId=directory_id)["Trusts"]
        assert (read["directory_id"], read["trust_id"], read["trusted_realms"]) == (directory_id, None, []), read
    finally:
        try:
            gone = playbook(*run, "-e", "role_state=absent")
            assert gone.returncode == 0, gone.stdout[-6000:]
        finally:
            # The lab's one domain controller serves every lab directory: what a failed run leaves would be
            # another test's foreign users (the directory role refuses to delete a directory holding them).
            delete_ad_user(lab, user)
            delete_ad_user(lab, group)  # any AD object by sAMAccountName
    directories = client(lab, "ds").describe_directories()["DirectoryDescriptions"]
    assert published["directory_id"] not in [d["DirectoryId"] for d in directories]
    twice = playbook(*run, "-e", "role_state=absent")
    assert twice.returncode == 0 and recap(twice.stdout)["changed"] == 0, twice.stdout[-6000:]
    ec2 = client(lab, "ec2")
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["ak-itest-directory-role"]}])["Vpcs"]:
        for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
