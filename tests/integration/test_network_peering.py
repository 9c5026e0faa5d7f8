"""The network role with VPC peering: two VPCs peered (requested and accepted), a route to the other
VPC's CIDR in each route table, the DB port opened between the groups; a rerun changes nothing;
absent removes the rules, the routes and the peering, and a second absent changes nothing."""

import json

import boto3

from ansible_run import playbook, recap

PLAYBOOK = "tests/integration/playbooks/network_peering.yml"


def test_the_network_role_peers_two_vpcs_and_walks_it_back(lab, tmp_path):
    ec2 = boto3.client("ec2", endpoint_url=lab["AWS_ENDPOINT_URL"], region_name=lab["AWS_REGION"],
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    output = tmp_path / "output.json"
    run = [PLAYBOOK, "-e", f"peer_output_file={output}"]
    try:
        first = playbook(*run)
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
        published = json.loads(output.read_text())
        peering = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[published["peering_id"]])
        [connection] = peering["VpcPeeringConnections"]
        assert connection["Status"]["Code"] == "active"
        assert (connection["RequesterVpcInfo"]["VpcId"], connection["AccepterVpcInfo"]["VpcId"]) == \
            (published["db_vpc_id"], published["directory_vpc_id"])
        for table, cidr in ((published["db_route_table"], "10.76.0.0/16"), (published["directory_route_table"], "10.75.0.0/16")):
            routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
            assert [r.get("VpcPeeringConnectionId") for r in routes if r.get("DestinationCidrBlock") == cidr] == \
                [published["peering_id"]]
        db_group = ec2.describe_security_groups(GroupIds=[published["db_security_group_id"]])["SecurityGroups"][0]
        assert [pair["GroupId"] for p in db_group["IpPermissions"] for pair in p["UserIdGroupPairs"]] == \
            [published["directory_security_group_id"]]

        again = playbook(*run)
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-6000:]

        gone = playbook(*run, "-e", "peer_state=absent")
        assert gone.returncode == 0, gone.stdout[-6000:]
        live = [c for c in ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]
                if c["VpcPeeringConnectionId"] == published["peering_id"] and c["Status"]["Code"] not in ("deleted", "deleting")]
        assert live == []
        for table in (published["db_route_table"], published["directory_route_table"]):
            routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
            assert [r for r in routes if r.get("VpcPeeringConnectionId")] == []
        again_gone = playbook(*run, "-e", "peer_state=absent")
        assert again_gone.returncode == 0 and recap(again_gone.stdout)["changed"] == 0, again_gone.stdout[-6000:]
    finally:
        cleanup = playbook(*run, "-e", "peer_state=absent", "-e", "peer_cleanup=true")
        assert cleanup.returncode == 0, cleanup.stdout[-6000:]
