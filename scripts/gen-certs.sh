#!/bin/sh
# gen-certs.sh - make a demo CA and a server certificate for ustackd's HTTPS
# service, with openssl, only when they do not exist yet.
#
#   scripts/gen-certs.sh [--rsa] [--days N] DIR
#
# Writes into DIR:
#   ca.pem          the demo CA certificate (give it to curl --cacert)
#   ca-key.pem      the CA's private key (only used here, to sign)
#   server.pem      the server certificate chain: leaf first, then the CA
#   server-key.pem  the server's private key
# The server certificate names IP:10.0.0.2, IP:fd00::2 (ustackd's IPv4 and
# IPv6 addresses) and DNS:ustack.test in its subjectAltName (clients match
# names against the SAN, RFC 6125 6.4).
# Keys are EC P-256 by default (cheap handshakes); --rsa makes RSA-2048.
# If the four files exist and the certificate names all of these, nothing
# is touched; a certificate from before IPv6 (no IP:fd00::2) is replaced.
set -eu

alg=ec
days=825
while [ $# -gt 0 ]; do
  case "$1" in
    --rsa) alg=rsa; shift ;;
    --ec) alg=ec; shift ;;
    --days) days="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gen-certs.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: gen-certs.sh [--rsa] [--days N] DIR" >&2; exit 2; }
dir=$1
command -v openssl >/dev/null 2>&1 || { echo "gen-certs.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }

SAN="IP:10.0.0.2,IP:fd00::2,DNS:ustack.test"

# True when server.pem names fd00::2 (openssl prints it in full, upper case).
names_ipv6() {
  openssl x509 -in "$dir/server.pem" -noout -ext subjectAltName 2>/dev/null |
    grep -qi 'IP Address:FD00:0:0:0:0:0:0:2'
}

have=0
for f in ca.pem ca-key.pem server.pem server-key.pem; do
  [ -e "$dir/$f" ] && have=$((have + 1))
done
if [ "$have" -eq 4 ] && names_ipv6; then
  echo "gen-certs.sh: $dir has the certificates; keeping them"
  exit 0
elif [ "$have" -eq 4 ]; then
  echo "gen-certs.sh: $dir/server.pem does not name fd00::2; making new certificates"
elif [ "$have" -gt 0 ]; then
  echo "gen-certs.sh: $dir holds some of the files already; keeping them, making none"
  exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() { # newkey FILE
  if [ "$alg" = rsa ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
      -pkeyopt ec_param_enc:named_curve -out "$1" 2>/dev/null
  fi
}

newkey "$tmp/ca-key.pem"
openssl req -x509 -new -key "$tmp/ca-key.pem" -sha256 -days "$days" \
  -subj "/CN=ustack demo CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$tmp/ca.pem"

newkey "$tmp/server-key.pem"
openssl req -new -key "$tmp/server-key.pem" -subj "/CN=ustack.test" -out "$tmp/server.csr"
cat > "$tmp/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$SAN
EXT
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca-key.pem" \
  -CAcreateserial -sha256 -days "$days" -extfile "$tmp/ext.cnf" \
  -out "$tmp/leaf.pem" 2>/dev/null
cat "$tmp/leaf.pem" "$tmp/ca.pem" > "$tmp/server.pem"

chmod 600 "$tmp/ca-key.pem" "$tmp/server-key.pem"
for f in ca.pem ca-key.pem server.pem server-key.pem; do
  cp "$tmp/$f" "$dir/$f"
done
echo "gen-certs.sh: wrote $dir/{ca.pem,ca-key.pem,server.pem,server-key.pem} ($alg)"
