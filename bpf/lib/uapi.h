/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The kernel UAPI and protocol constants the programs use. vmlinux.h
 * carries the kernel's types but none of its #defines, and the UAPI
 * headers cannot be included beside it: the values live here, once, with
 * a trailing underscore so they never collide with a header that does
 * define them.
 */
#ifndef TW_BPF_UAPI_H
#define TW_BPF_UAPI_H

/* if_ether.h */
#define ETH_HLEN_   14
#define ETH_P_IP_   0x0800
#define ETH_P_IPV6_ 0x86DD
#define ETH_P_ARP_  0x0806

/* in.h, in6.h */
#define IPPROTO_ICMP_	 1
#define IPPROTO_TCP_	 6
#define IPPROTO_UDP_	 17
#define IPPROTO_ICMPV6_	 58
#define IPPROTO_SCTP_	 132
#define IPPROTO_UDPLITE_ 136

/* ipv6.h: extension headers */
#define NEXTHDR_HOP	 0
#define NEXTHDR_ROUTING	 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH	 51
#define NEXTHDR_DEST	 60

/* ip.h: IPv4 frag_off (host order) */
#define IP_MF_	   0x2000
#define IP_OFFSET_ 0x1fff

/* tcp.h: flags byte */
#define TCP_FLAG_SYN_ 0x02
#define TCP_FLAG_ACK_ 0x10

/* pkt_cls.h */
#define TC_ACT_UNSPEC_ (-1)
#define TC_ACT_SHOT_   2

#endif /* TW_BPF_UAPI_H */
