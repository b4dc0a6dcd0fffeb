"""Names a match expression may use in place of numbers.

tcpdump resolves port and protocol names through /etc/services and
/etc/protocols of the machine it runs on; chainc uses these fixed tables so
that a chain means the same thing on every machine (docs/match.md).
"""

from __future__ import annotations

#: Port names. One number per name, for TCP and UDP alike.
PORT_NAMES: dict[str, int] = {
    "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53,
    "bootps": 67, "bootpc": 68, "tftp": 69, "http": 80, "www": 80, "pop3": 110, "ntp": 123,
    "imap": 143, "snmp": 161, "snmptrap": 162, "bgp": 179, "ldap": 389, "https": 443,
    "syslog": 514, "submission": 587, "imaps": 993, "pop3s": 995, "mysql": 3306,
    "http-alt": 8080,
}

#: IP protocol names (`ip proto NAME`, `ip6 proto NAME`, `proto NAME`).
IP_PROTO_NAMES: dict[str, int] = {
    "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
    "icmp6": 58, "ospf": 89, "pim": 103, "vrrp": 112, "sctp": 132,
}

#: EtherType names (`ether proto NAME`).
ETHER_PROTO_NAMES: dict[str, int] = {
    "ip": 0x0800, "arp": 0x0806, "rarp": 0x8035, "vlan": 0x8100, "ip6": 0x86DD,
    "mpls": 0x8847, "lldp": 0x88CC,
}

VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)

#: TCP flag bits (`tcp[tcpflags] & tcp-syn != 0`).
TCP_FLAG_NAMES: dict[str, int] = {
    "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
    "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}

#: ICMP types (`icmp[icmptype] == icmp-echo`).
ICMP_TYPE_NAMES: dict[str, int] = {
    "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
    "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
    "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
    "icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
}

#: ICMPv6 types (`icmp6[icmp6type] == icmp6-echo`).
ICMP6_TYPE_NAMES: dict[str, int] = {
    "icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
    "icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
    "icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
    "icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
    "icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136,
    "icmp6-redirect": 137,
}

#: `PROTO[FIELD]` accessors: (protocol, field name or byte offset) -> canonical field.
FIELD_ACCESSORS: dict[tuple[str, str], str] = {
    ("tcp", "tcpflags"): "tcpflags", ("tcp", "13"): "tcpflags",
    ("icmp", "icmptype"): "icmptype", ("icmp", "0"): "icmptype",
    ("icmp", "icmpcode"): "icmpcode", ("icmp", "1"): "icmpcode",
    ("icmp6", "icmp6type"): "icmp6type", ("icmp6", "0"): "icmp6type",
    ("icmp6", "icmp6code"): "icmp6code", ("icmp6", "1"): "icmp6code",
}

#: Value names each field accepts.
FIELD_VALUE_NAMES: dict[str, dict[str, int]] = {
    "tcpflags": TCP_FLAG_NAMES,
    "icmptype": ICMP_TYPE_NAMES,
    "icmpcode": {},
    "icmp6type": ICMP6_TYPE_NAMES,
    "icmp6code": {},
}

#: How each field is written back (the protocol it belongs to).
FIELD_PROTOCOL: dict[str, str] = {
    "tcpflags": "tcp", "icmptype": "icmp", "icmpcode": "icmp",
    "icmp6type": "icmp6", "icmp6code": "icmp6",
}
