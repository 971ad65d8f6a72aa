#!/usr/bin/env bash
# Certificates and kubeconfigs for the local node (scripts/local-node.sh), made with openssl:
#   cluster-pki.sh DIR NODE_NAME NODE_IP API_SERVICE_IP
# One CA signs every certificate; each component gets its own client identity so the API
# server's Node and RBAC authorizers see what they see on a kubeadm cluster. Existing files
# are kept, so a restarted cluster keeps its credentials.
set -euo pipefail

dir="$1" node="$2" node_ip="$3" api_service_ip="$4"
server="https://${node_ip}:6443"
mkdir -p "${dir}"
cd "${dir}"
umask 077

[ -f ca.key ] || {
  openssl genrsa -out ca.key 2048 2>/dev/null
  openssl req -x509 -new -key ca.key -subj "/CN=mcp-servers-local-ca" -days 3650 -out ca.crt
}
# The API server signs service account tokens with this pair.
[ -f sa.key ] || {
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
}

# The aggregation layer (metrics-server's APIService) has its own CA: the API server trusts a
# proxied request's X-Remote-User only from a client that this CA signed.
[ -f front-proxy-ca.key ] || {
  openssl genrsa -out front-proxy-ca.key 2048 2>/dev/null
  openssl req -x509 -new -key front-proxy-ca.key -subj "/CN=mcp-servers-local-front-proxy-ca" -days 3650 \
    -out front-proxy-ca.crt
}

# cert NAME SUBJECT [SUBJECT_ALT_NAMES] [serverAuth|clientAuth]
cert() {
  local name="$1" subject="$2" sans="${3:-}" usage="${4:-clientAuth}" ca="${5:-ca}"
  [ -f "${name}.crt" ] && return
  openssl genrsa -out "${name}.key" 2048 2>/dev/null
  openssl req -new -key "${name}.key" -subj "${subject}" -out "${name}.csr"
  {
    echo "basicConstraints = CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = ${usage}"
    [ -n "${sans}" ] && echo "subjectAltName = ${sans}"
  } >"${name}.ext"
  openssl x509 -req -in "${name}.csr" -CA "${ca}.crt" -CAkey "${ca}.key" -CAcreateserial -days 3650 \
    -extfile "${name}.ext" -out "${name}.crt" 2>/dev/null
  rm -f "${name}.csr" "${name}.ext"
}

cert apiserver "/CN=kube-apiserver" \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:${node_ip},IP:${api_service_ip},IP:127.0.0.1" \
  serverAuth
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert kubelet-serving "/CN=${node}" "DNS:${node},IP:${node_ip}" serverAuth
cert admin "/O=system:masters/CN=kubernetes-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kubelet "/O=system:nodes/CN=system:node:${node}"
cert kube-proxy "/CN=system:kube-proxy"
cert kube-router "/CN=system:kube-router"
cert front-proxy-client "/CN=front-proxy-client" "" clientAuth front-proxy-ca

# kubeconfig NAME: NAME.kubeconfig authenticating with NAME.crt
kubeconfig() {
  local name="$1"
  cat >"${name}.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: mcp-local
    cluster:
      server: ${server}
      certificate-authority-data: $(base64 -w0 ca.crt)
users:
  - name: ${name}
    user:
      client-certificate-data: $(base64 -w0 "${name}.crt")
      client-key-data: $(base64 -w0 "${name}.key")
contexts:
  - name: mcp-local
    context:
      cluster: mcp-local
      user: ${name}
current-context: mcp-local
EOF
}
for identity in admin controller-manager scheduler kubelet kube-proxy kube-router; do
  kubeconfig "${identity}"
done
