#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# gen-pki.sh DIR [CN[:OU]...] - a throwaway PKI for tests and demos, with openssl only.
#
#   DIR/ca.crt ca.key                 EC P-256 CA
#   DIR/server.crt server.key         CN=tw-server, EKU serverAuth
#   DIR/client-CN.crt client-CN.key   CN=CN (OU=OU when given), EKU clientAuth
#   DIR/tc.key                        OpenVPN tls-crypt key (openvpn --genkey secret)
#
# The OU is where a deployment may carry a tenant hint (OpenVPN exports it to the hook as
# X509_0_OU). Idempotent: whatever already exists in DIR is reused, so repeated runs are cheap
# and certificates stay stable across test runs; delete DIR to start over. A lock serialises
# concurrent runs on the same DIR.
set -euo pipefail

usage() {
	echo "usage: $0 DIR [CN[:OU]...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
dir=$1
shift

command -v openssl >/dev/null || { echo "gen-pki: openssl not found" >&2; exit 1; }

mkdir -p "$dir"
chmod 700 "$dir"
exec 9>"$dir/.lock"
flock 9

days=3650
ec_key() {
	local out=$1
	[ -s "$out" ] && return 0
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$out.tmp" 2>/dev/null)
	mv "$out.tmp" "$out"
}

if [ ! -s "$dir/ca.crt" ] || [ ! -s "$dir/ca.key" ]; then
	rm -f "$dir/ca.crt" "$dir/ca.key"
	ec_key "$dir/ca.key"
	openssl req -new -x509 -sha256 -days "$days" -key "$dir/ca.key" \
		-subj "/O=tunwarden test/CN=tunwarden test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$dir/ca.crt.tmp"
	mv "$dir/ca.crt.tmp" "$dir/ca.crt"
	# A new CA invalidates every leaf signed by an old one.
	rm -f "$dir"/server.crt "$dir"/client-*.crt
fi

# sign NAME SUBJECT EKU: DIR/NAME.key (reused) and DIR/NAME.crt signed by the CA.
sign() {
	local name=$1 subj=$2 eku=$3 ext have
	if [ -s "$dir/$name.crt" ] && [ -s "$dir/$name.key" ]; then
		# Reuse unless the subject changed (e.g. a CN now asked for with another OU).
		have=$(openssl x509 -in "$dir/$name.crt" -noout -subject -nameopt compat)
		[ "$have" = "subject=$subj" ] && return 0
	fi
	ec_key "$dir/$name.key"
	ext=$(mktemp "$dir/.ext.XXXXXX")
	cat >"$ext" <<-EOF
		basicConstraints = critical,CA:FALSE
		keyUsage = critical,digitalSignature,keyAgreement
		extendedKeyUsage = $eku
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
	EOF
	openssl req -new -sha256 -key "$dir/$name.key" -subj "$subj" -out "$dir/$name.csr"
	# A random serial per certificate: no serial file to keep consistent between runs.
	openssl x509 -req -sha256 -days "$days" -in "$dir/$name.csr" \
		-CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
		-extfile "$ext" -out "$dir/$name.crt.tmp" 2>/dev/null
	rm -f "$ext" "$dir/$name.csr"
	mv "$dir/$name.crt.tmp" "$dir/$name.crt"
}

sign server "/O=tunwarden test/CN=tw-server" serverAuth

for arg in "$@"; do
	cn=${arg%%:*}
	ou=
	[ "$cn" != "$arg" ] && ou=${arg#*:}
	# The CN names files and ends up in OpenVPN's environment: keep it to a safe alphabet.
	if ! [[ "$cn" =~ ^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$ ]]; then
		echo "gen-pki: CN not usable as a file name: '$cn'" >&2
		exit 1
	fi
	if [ -n "$ou" ] && ! [[ "$ou" =~ ^[A-Za-z0-9._@\ -]{1,64}$ ]]; then
		echo "gen-pki: OU contains unsupported characters: '$ou'" >&2
		exit 1
	fi
	subj="/O=tunwarden test${ou:+/OU=$ou}/CN=$cn"
	sign "client-$cn" "$subj" clientAuth
done

if [ ! -s "$dir/tc.key" ]; then
	command -v openvpn >/dev/null || { echo "gen-pki: openvpn not found (tc.key)" >&2; exit 1; }
	(umask 077 && openvpn --genkey secret "$dir/tc.key.tmp" >/dev/null)
	mv "$dir/tc.key.tmp" "$dir/tc.key"
fi
