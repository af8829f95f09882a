// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The one instance of every map in lib/maps.h, and the object's license.
 * The programs (tunnel.bpf.c, uplink.bpf.c) declare the maps extern and are
 * linked with this file into build/bpf/tunwarden.bpf.o, one skeleton
 * (tw_bpf): one set of maps, no fd sharing between objects at load time.
 */
#define TW_MAPS_DEFINE
#include "lib/maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
