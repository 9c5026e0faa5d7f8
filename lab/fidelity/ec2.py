"""EC2 where moto differs from AWS in what the collection reads.

- DescribeSecurityGroupRules gives a rule's Description for every kind of peer. moto 5.2.5 reads it only from
  a CIDR peer, so a rule that references a security group came back without its description (EC2 API
  reference, SecurityGroupRule.Description; the gap is inferred from moto's source).
"""

from moto.ec2.models.security_groups import SecurityGroupRule


def _description(rule):
    for peer in (rule.ip_range, rule.source_group):
        if peer and peer.get("Description") is not None:
            return peer.get("Description")
    return None


def install(lab, middleware):  # noqa: ARG001 - the extension interface
    SecurityGroupRule.description = property(_description)
