"""The network role across two peered VPCs, run by two cluster hosts at once that share the DB security group.

What the chain makes carries its mark and goes on teardown: the peering (tag), the routes (recorded on their
route tables), the rules (tag), among them the AD ports the domain controllers' group must admit from a DB in
another VPC. What someone made before is used and never changed or removed: a rule on the same port and peer
with another description, a peering of the two VPCs, a route to the directory's CIDR through another target
(refused, naming both targets)."""

import json
import secrets
import time

import boto3
import pytest

from ansible_run import playbook, recap
from labtools import unique

PLAYBOOK = "tests/integration/playbooks/network_peering.yml"
JOIN_PLAYBOOK = "tests/integration/playbooks/network_peered_join.yml"
POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
HOSTS = "cluster_a,cluster_b,"  # two cluster hosts sharing the DB group, run side by side
TAG = "aurora.kerberos:chain"
DB_CIDR, DIRECTORY_CIDR = "10.75.0.0/16", "10.76.0.0/16"
AD_PORTS = 13  # AWS_FACTS section 2, as roles/network/vars/main.yml lists them


@pytest.fixture
def ec2(lab):
    return boto3.client("ec2", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                        aws_access_key_id="lab", aws_secret_access_key="lab")


@pytest.fixture
def vpcs(ec2):
    """Two VPCs, each with a security group and a route table; a DB subnet. Everything goes afterwards."""
    made = {}
    for side, cidr in (("db", DB_CIDR), ("directory", DIRECTORY_CIDR)):
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        made[side] = dict(
            vpc=vpc, group=ec2.create_security_group(GroupName=f"ak-peer-{side}", Description="peering test",
                                                     VpcId=vpc)["GroupId"],
            table=ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"])
    made["db"]["subnet"] = ec2.create_subnet(VpcId=made["db"]["vpc"], CidrBlock="10.75.1.0/24")["Subnet"]["SubnetId"]
    yield made
    vpc_ids = [made[side]["vpc"] for side in ("db", "directory")]
    for connection in ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]:
        if connection["RequesterVpcInfo"]["VpcId"] in vpc_ids and connection["Status"]["Code"] not in ("deleted", "deleting"):
            ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=connection["VpcPeeringConnectionId"])
    for side in ("db", "directory"):
        group = made[side]["group"]
        for rule in rules(ec2, group):
            revoke = ec2.revoke_security_group_egress if rule["IsEgress"] else ec2.revoke_security_group_ingress
            revoke(GroupId=group, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
    for side in ("db", "directory"):
        ec2.delete_route_table(RouteTableId=made[side]["table"])
        ec2.delete_security_group(GroupId=made[side]["group"])
    for gateway in made["db"].get("gateways", []):
        ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=made["db"]["vpc"])
        ec2.delete_internet_gateway(InternetGatewayId=gateway)
    ec2.delete_subnet(SubnetId=made["db"]["subnet"])
    for vpc in vpc_ids:
        ec2.delete_vpc(VpcId=vpc)


def rules(ec2, group):
    return [r for r in ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
            if r["GroupId"] == group]


def ingress(ec2, group):
    return [r for r in rules(ec2, group) if not r["IsEgress"]]


def tags(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or []}


def routes_to(ec2, table, cidr):
    return [r for r in ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
            if r.get("DestinationCidrBlock") == cidr]


def run(vpcs, output, state="present", **extra):
    peer = dict(db_group=vpcs["db"]["group"], directory_group=vpcs["directory"]["group"],
                db_tables=[vpcs["db"]["table"]], directory_tables=[vpcs["directory"]["table"]],
                db_subnets=[vpcs["db"]["subnet"]])
    return playbook(PLAYBOOK, "-i", HOSTS, "-f", "2", "-e", json.dumps(dict(
        peer=peer, peer_state=state, peer_output_file=str(output), **extra)))


def test_two_hosts_sharing_a_group_converge_and_tear_down_only_what_the_chain_made(ec2, vpcs, tmp_path):
    db, directory, output = vpcs["db"]["group"], vpcs["directory"]["group"], tmp_path / "output.json"
    # A DBA's rule on the same port and peer, with another description, made before the chain.
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": directory, "Description": "dba: existing path"}]}])
    [theirs] = ingress(ec2, db)

    first = run(vpcs, output)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    published = json.loads(output.read_text())
    [connection] = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[published["peering_id"]])["VpcPeeringConnections"]
    assert connection["Status"]["Code"] == "active" and tags(connection)[TAG] == "aurora-kerberos"
    assert published["peering_owned"] and published["directory_access_peers"] == [db]
    for table, cidr in ((vpcs["db"]["table"], DIRECTORY_CIDR), (vpcs["directory"]["table"], DB_CIDR)):
        assert [r.get("VpcPeeringConnectionId") for r in routes_to(ec2, table, cidr)] == [published["peering_id"]]
    # The DBA's rule is used as it is: not rewritten, no second rule, no tag.
    assert ingress(ec2, db) == [theirs]
    [egress] = [r for r in rules(ec2, directory) if r["IsEgress"] and r.get("FromPort") == 5432]
    assert tags(egress)[TAG] == "aurora-kerberos"
    # The AD ports into the domain controllers' group from the DB's group, across the peering, each tagged.
    opened = ingress(ec2, directory)
    assert len(opened) == AD_PORTS and {r["ReferencedGroupInfo"]["GroupId"] for r in opened} == {db}
    assert {tags(r)[TAG] for r in opened} == {"aurora-kerberos"}
    assert ("udp", 88, 88) in {(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in opened}

    again = run(vpcs, output)
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-6000:]

    gone = run(vpcs, output, "absent")
    assert gone.returncode == 0, gone.stdout[-6000:] + gone.stderr[-3000:]
    assert ingress(ec2, db) == [theirs]
    assert [r for r in rules(ec2, directory) if TAG in tags(r)] == [], "an orphan rule of the chain"
    live = [c for c in ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[published["peering_id"]])["VpcPeeringConnections"]
            if c["Status"]["Code"] not in ("deleted", "deleting")]
    assert live == []
    for table in (vpcs["db"]["table"], vpcs["directory"]["table"]):
        [described] = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
        assert [r for r in described["Routes"] if r.get("VpcPeeringConnectionId")] == []
        assert [k for k in tags(described) if k.startswith("aurora.kerberos:")] == []


def test_a_peering_and_a_route_made_outside_the_chain_are_never_changed(ec2, vpcs, tmp_path):
    output = tmp_path / "output.json"
    # The network team's peering, requested from the directory's side, and their route to the directory's
    # CIDR through an internet gateway in a table the role is given.
    pcx = ec2.create_vpc_peering_connection(VpcId=vpcs["directory"]["vpc"], PeerVpcId=vpcs["db"]["vpc"], TagSpecifications=[{
        "ResourceType": "vpc-peering-connection", "Tags": [{"Key": "team", "Value": "network"}]}])["VpcPeeringConnection"]
    pcx_id = pcx["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    vpcs["db"]["gateways"] = [gateway]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpcs["db"]["vpc"])
    ec2.create_route(RouteTableId=vpcs["db"]["table"], DestinationCidrBlock=DIRECTORY_CIDR, GatewayId=gateway)

    def peering():
        [connection] = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx_id])["VpcPeeringConnections"]
        return connection["Status"]["Code"], tags(connection)

    refused = run(vpcs, output)
    assert refused.returncode != 0
    assert gateway in refused.stdout and pcx_id in refused.stdout and "never replaced" in refused.stdout, refused.stdout[-4000:]
    assert [r.get("GatewayId") for r in routes_to(ec2, vpcs["db"]["table"], DIRECTORY_CIDR)] == [gateway]
    assert peering() == ("active", {"team": "network"})

    gone = run(vpcs, output, "absent")
    assert gone.returncode == 0, gone.stdout[-6000:] + gone.stderr[-3000:]
    assert peering() == ("active", {"team": "network"})
    assert [r.get("GatewayId") for r in routes_to(ec2, vpcs["db"]["table"], DIRECTORY_CIDR)] == [gateway]


@pytest.fixture
def peered_domain(lab, ec2, vpcs):
    """The test VPCs made ready for a join: two subnets each (two AZs), a directory in the directory VPC (the lab
    gives its controllers' group AWS's rules: the AD ports from that VPC's CIDR only), a DB subnet group, an IAM
    role RDS can use, and a DB group the directory may reach on the DB port."""
    session = dict(endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                   aws_access_key_id="lab", aws_secret_access_key="lab")
    ds, rds, iam = (boto3.client(s, **session) for s in ("ds", "rds", "iam"))
    db_second = ec2.create_subnet(VpcId=vpcs["db"]["vpc"], CidrBlock="10.75.2.0/24",
                                  AvailabilityZone=f"{lab['AWS_REGION']}b")["Subnet"]["SubnetId"]
    directory_subnets = [ec2.create_subnet(VpcId=vpcs["directory"]["vpc"], CidrBlock=f"10.76.{i}.0/24",
                                           AvailabilityZone=f"{lab['AWS_REGION']}{az}")["Subnet"]["SubnetId"]
                         for i, az in ((1, "a"), (2, "b"))]
    name = unique("ak-peered-")
    rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="peered",
                               SubnetIds=[vpcs["db"]["subnet"], db_second])
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": ["directoryservice.rds.amazonaws.com", "rds.amazonaws.com"]}}]}))
    iam.attach_role_policy(RoleName=name, PolicyArn=POLICY)
    directory_id = ds.create_microsoft_ad(Name=lab["LAB_AD_DOMAIN"], Password=lab["LAB_AD_ADMIN_PASSWORD"],
                                          VpcSettings={"VpcId": vpcs["directory"]["vpc"], "SubnetIds": directory_subnets},
                                          Edition="Standard")["DirectoryId"]
    deadline = time.monotonic() + 60
    while (described := ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0])["Stage"] != "Active":
        assert time.monotonic() < deadline, described["Stage"]
        time.sleep(0.5)
    join = dict(db_group=vpcs["db"]["group"], directory_group=described["VpcSettings"]["SecurityGroupId"],
                db_table=vpcs["db"]["table"], directory_table=vpcs["directory"]["table"], cluster_id=name,
                directory_id=directory_id, role=name, dns_ips=described["DnsIpAddrs"], subnet_group=name,
                master_password="Pw-" + secrets.token_hex(12))
    yield join
    for cluster in rds.describe_db_clusters()["DBClusters"]:
        if cluster["DBClusterIdentifier"] == name:  # a failed test's leftover
            for member in cluster["DBClusterMembers"]:
                rds.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"], SkipFinalSnapshot=True)
            rds.modify_db_cluster(DBClusterIdentifier=name, DeletionProtection=False, Domain="", ApplyImmediately=True)
            rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    ds.delete_directory(DirectoryId=directory_id)
    iam.detach_role_policy(RoleName=name, PolicyArn=POLICY)
    iam.delete_role(RoleName=name)
    rds.delete_db_subnet_group(DBSubnetGroupName=name)
    for subnet in [db_second, *directory_subnets]:
        ec2.delete_subnet(SubnetId=subnet)


def test_a_db_in_a_peered_vpc_joins_only_because_the_role_opened_the_controllers_group(lab, ec2, peered_domain, tmp_path):
    """AWS_FACTS section 2: the controllers' group admits the AD ports only from the directory VPC's CIDR."""
    join = peered_domain
    extra = tmp_path / "join.json"
    extra.write_text(json.dumps({"join": join}))
    rds = boto3.client("rds", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                       aws_access_key_id="lab", aws_secret_access_key="lab")

    def membership():
        cluster = rds.describe_db_clusters(DBClusterIdentifier=join["cluster_id"])["DBClusters"][0]
        return [m["Status"] for m in cluster.get("DomainMemberships") or []]

    try:
        # The preflight of the new cluster (in cluster_create) reads its VPC from its DB subnet group and refuses the
        # closed controllers' group before anything is written: no cluster.
        refused = playbook(JOIN_PLAYBOOK, "-e", f"@{extra}", "-e", "peer_directory_access=false")
        assert refused.returncode != 0 and "[directory_controllers_ingress]" in refused.stdout, refused.stdout[-6000:]
        assert "Nothing was created" in refused.stdout and join["directory_group"] in refused.stdout
        assert [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == join["cluster_id"]] == []

        # Without the preflight the lab refuses the join itself, as AWS does.
        closed = playbook(JOIN_PLAYBOOK, "-e", f"@{extra}", "-e", "peer_directory_access=false", "-e", "cluster_preflight=false")
        assert closed.returncode != 0 and "enable-kerberos-failed" in closed.stdout, closed.stdout[-6000:]
        assert membership() == ["enable-kerberos-failed"]
        assert join["directory_group"] in closed.stdout, closed.stdout[-6000:]
        events = [e["Message"] for e in rds.describe_events(SourceIdentifier=join["cluster_id"],
                                                            SourceType="db-cluster")["Events"]]
        assert any(join["directory_group"] in e and "udp/88" in e for e in events), events
        assert [r for r in ingress(ec2, join["directory_group"]) if TAG in tags(r)] == []

        opened = playbook(JOIN_PLAYBOOK, "-e", f"@{extra}")
        assert opened.returncode == 0, opened.stdout[-6000:] + opened.stderr[-3000:]
        assert membership() == ["kerberos-enabled"]
        ours = [r for r in ingress(ec2, join["directory_group"]) if TAG in tags(r)]
        assert len(ours) == AD_PORTS and {r["ReferencedGroupInfo"]["GroupId"] for r in ours} == {join["db_group"]}
    finally:
        gone = playbook(JOIN_PLAYBOOK, "-e", f"@{extra}", "-e", "peer_state=absent")
    assert gone.returncode == 0, gone.stdout[-6000:] + gone.stderr[-3000:]
    assert [r for r in rules(ec2, join["directory_group"]) if TAG in tags(r)] == []
