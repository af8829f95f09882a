#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A throwaway PKI for the portal tests: pki.sh DIR [NODE...]
#   DIR/ca.pem ca.key        the CA that signs the portal's and the nodes' certs
#   DIR/server.pem server.key  the portal: CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   DIR/NODE.pem NODE.key      a node client cert, CN=NODE (default nodes: node-a node-b)
#   DIR/wrongca.pem wrongca.key, DIR/wrong.pem wrong.key   a second CA and a client cert it
#                              signed with CN=node-a: a portal must refuse it
# EC P-256 keys, valid one day. Idempotent: an existing DIR/ca.pem is reused.
set -eu
dir=${1:?usage: pki.sh DIR [NODE...]}
shift
nodes=("$@")
[ ${#nodes[@]} -gt 0 ] || nodes=(node-a node-b)
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # NAME CN
	[ -s "$1.pem" ] && return
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 2 -out "$1.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

leaf() { # NAME CN CA EXTFILE
	[ -s "$1.pem" ] && return
	key "$1.key"
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 1 \
		-extfile "$4" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr"
}

ca ca tunwarden-test-ca
ca wrongca tunwarden-wrong-ca
printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature' 'extendedKeyUsage=serverAuth' \
	'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' >server.ext
printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature' 'extendedKeyUsage=clientAuth' \
	>client.ext
leaf server localhost ca server.ext
for n in "${nodes[@]}"; do
	leaf "$n" "$n" ca client.ext
done
leaf wrong node-a wrongca client.ext
chmod 600 ./*.key
