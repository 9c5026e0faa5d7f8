#!/usr/bin/python3
"""One side of an AD trust on one of the lab's Samba DCs, over the DC's own LSA (ncalrpc, as root).

    samba_trust.py info   --conf SMB_CONF
    samba_trust.py create --conf SMB_CONF --remote-dns D --remote-netbios N --remote-sid S
                          --type forest|external --direction incoming|outgoing|both   (password on stdin)
    samba_trust.py delete --conf SMB_CONF --remote-dns D

Run with Debian's python3 (Samba's bindings live there, not in the venv). `create` makes the trusted
domain object as `samba-tool domain trust create --create-location=local` does (Samba's own
CreateTrustedDomainRelax, AES keys, the given password for each direction), but takes the other
forest's names and SID from its arguments instead of asking that forest's LSA: Samba 4.17 answers
that call over SMB only (`ncacn_np`), which the lab's DCs do not serve (lab/README.md, "A trusted
on-premises forest"). Output: one JSON object.
"""

import argparse
import json
import sys

from samba import current_unix_time, param, unix2nttime
from samba.dcerpc import drsblobs, lsa, security
from samba.trust_utils import CreateTrustedDomainRelax


def connect(conf):
    lp = param.LoadParm()
    lp.load(conf)
    conn = lsa.lsarpc(f"ncalrpc:{lp.get('netbios name')}[auth_type=ncalrpc_as_system]", lp)
    attr = lsa.ObjectAttribute()
    attr.sec_qos = lsa.QosInfo()
    access = lsa.LSA_POLICY_VIEW_LOCAL_INFORMATION | lsa.LSA_POLICY_TRUST_ADMIN | lsa.LSA_POLICY_CREATE_SECRET
    policy = conn.OpenPolicy2("", attr, access)
    return conn, policy


def auth_blob(password, now):
    if password is None:
        blob = drsblobs.trustAuthInOutBlob()
        blob.count = 0
        return blob
    secret = list(password.encode("utf-16-le"))
    clear = drsblobs.AuthInfoClear()
    clear.size = len(secret)
    clear.password = secret
    info = drsblobs.AuthenticationInformation()
    info.LastUpdateTime = unix2nttime(now)
    info.AuthType = lsa.TRUST_AUTH_TYPE_CLEAR
    info.AuthInfo = clear
    array = drsblobs.AuthenticationInformationArray()
    array.count = 1
    array.array = [info]
    blob = drsblobs.trustAuthInOutBlob()
    blob.count = 1
    blob.current = array
    return blob


def info(args):
    conn, policy = connect(args.conf)
    dns = conn.QueryInfoPolicy2(policy, lsa.LSA_POLICY_INFO_DNS)
    return {"netbios": dns.name.string, "dns": dns.dns_domain.string, "sid": str(dns.sid)}


def create(args):
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise SystemExit("samba_trust: no trust password on stdin")
    conn, policy = connect(args.conf)
    trust = lsa.TrustDomainInfoInfoEx()
    trust.trust_type = lsa.LSA_TRUST_TYPE_UPLEVEL
    trust.trust_direction = {"incoming": lsa.LSA_TRUST_DIRECTION_INBOUND, "outgoing": lsa.LSA_TRUST_DIRECTION_OUTBOUND,
                             "both": lsa.LSA_TRUST_DIRECTION_INBOUND | lsa.LSA_TRUST_DIRECTION_OUTBOUND}[args.direction]
    # As samba-tool: a forest trust is forest-transitive, an external one quarantined (SID filtering).
    trust.trust_attributes = (lsa.LSA_TRUST_ATTRIBUTE_FOREST_TRANSITIVE if args.type == "forest"
                              else lsa.LSA_TRUST_ATTRIBUTE_QUARANTINED_DOMAIN)
    trust.domain_name.string = args.remote_dns
    trust.netbios_name.string = args.remote_netbios
    trust.sid = security.dom_sid(args.remote_sid)
    now = current_unix_time()
    incoming = password if trust.trust_direction & lsa.LSA_TRUST_DIRECTION_INBOUND else None
    outgoing = password if trust.trust_direction & lsa.LSA_TRUST_DIRECTION_OUTBOUND else None
    handle = CreateTrustedDomainRelax(conn, policy, trust, lsa.LSA_TRUSTED_DOMAIN_ALL_ACCESS,
                                      auth_blob(incoming, now), auth_blob(outgoing, now))
    enc_types = lsa.TrustDomainInfoSupportedEncTypes()
    enc_types.enc_types = security.KERB_ENCTYPE_AES128_CTS_HMAC_SHA1_96 | security.KERB_ENCTYPE_AES256_CTS_HMAC_SHA1_96
    conn.SetInformationTrustedDomain(handle, lsa.LSA_TRUSTED_DOMAIN_SUPPORTED_ENCRYPTION_TYPES, enc_types)
    conn.Close(handle)
    return {"created": args.remote_dns}


def delete(args):
    conn, policy = connect(args.conf)
    name = lsa.String()
    name.string = args.remote_dns
    try:
        handle = conn.OpenTrustedDomainByName(policy, name, security.SEC_STD_DELETE)
    except RuntimeError as exc:
        if exc.args[0] & 0xffffffff == 0xC0000034:  # NT_STATUS_OBJECT_NAME_NOT_FOUND: already gone
            return {"deleted": None}
        raise
    conn.DeleteObject(handle)
    return {"deleted": args.remote_dns}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["info", "create", "delete"])
    parser.add_argument("--conf", required=True)
    parser.add_argument("--remote-dns")
    parser.add_argument("--remote-netbios")
    parser.add_argument("--remote-sid")
    parser.add_argument("--type", choices=["forest", "external"], default="forest")
    parser.add_argument("--direction", choices=["incoming", "outgoing", "both"], default="both")
    args = parser.parse_args()
    result = {"info": info, "create": create, "delete": delete}[args.command](args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
