#!/usr/bin/env bash
# A single-node Kubernetes cluster built from this machine's packages, for machines where kind
# cannot boot (no registry for the kindest/node image):
#   local-node.sh up       start it (idempotent) and write .run/cluster/kubeconfig
#   local-node.sh down     stop it and remove everything it created
#   local-node.sh status   say whether it is running
#   local-node.sh health   what a failed cluster test run needs to tell a sick node from a test
#                          (the machine's load, components, etcd's disk latency, logged errors)
# Parts: etcd and Kubernetes v1.34 built from the Go module proxy (make cluster-tools), Debian's
# containerd + runc + CNI plugins, a containerd of its own (root, state and socket under
# .run/cluster), a bridge with host-local IPAM, kube-proxy in iptables mode, kube-router's
# network policy controller and load balancer address allocator, CoreDNS, and a default StorageClass `local` backed by a pool of
# `local` PersistentVolumes on directories under .run/cluster/volumes. Control-plane processes
# bind to the bridge address or loopback only; nothing listens on the machine's own interfaces.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
BIN="${ROOT}/.tools/bin"
RUN="${ROOT}/.run/cluster"
PKI="${RUN}/pki"
LOGS="${RUN}/logs"
PIDS="${RUN}/pids"
NODE_NAME="mcp-node"
BRIDGE="mcpk8s0"
POD_CIDR="10.244.0.0/24"
NODE_IP="10.244.0.1"
SERVICE_CIDR="10.96.0.0/16"
# Addresses kube-router gives LoadBalancer Services of class `kube-router`; kube-proxy routes
# them to the pods, from this machine only (nothing announces them).
LOAD_BALANCER_CIDR="10.245.0.0/28"
API_SERVICE_IP="10.96.0.1"
DNS_SERVICE_IP="10.96.0.10"
CONTAINERD_SOCK="${RUN}/containerd/containerd.sock"
SANDBOX_IMAGE="mcp-servers.local/pause:3.10"
COREDNS_IMAGE="mcp-servers.local/coredns:1.12.1"
# The storage pool: LOCAL_VOLUMES PersistentVolumes of LOCAL_VOLUME_SIZE each, one directory each.
VOLUMES="${RUN}/volumes"
LOCAL_VOLUMES="${LOCAL_VOLUMES:-12}"
LOCAL_VOLUME_SIZE="${LOCAL_VOLUME_SIZE:-2Gi}"
POOL_LABEL="mcp-servers.local/pool=local"
# Stopped in this order; started in reverse.
COMPONENTS=(kube-router kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd containerd)
export PATH="${BIN}:${PATH}"
export KUBECONFIG="${RUN}/kubeconfig"


pid_of() { cat "${PIDS}/$1.pid" 2>/dev/null || true; }
alive() { local pid; pid="$(pid_of "$1")"; [ -n "${pid}" ] && kill -0 "${pid}" 2>/dev/null; }

# start NAME COMMAND...: run in the background, detached, logging to .run/cluster/logs/NAME.log
start() {
  local name="$1"; shift
  alive "${name}" && return
  setsid "$@" >>"${LOGS}/${name}.log" 2>&1 </dev/null &
  echo $! >"${PIDS}/${name}.pid"
}

# wait_for WHAT SECONDS COMMAND...: poll until COMMAND succeeds; on timeout, or when WHAT is a
# process of ours that exited, show its log
wait_for() {
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "${what} did not come up within ${seconds}s; last lines of ${LOGS}/${what}.log:"
      tail -n 25 "${LOGS}/${what}.log" >&2 2>/dev/null || true
      exit 1
    fi
    # A process we started (it has a pid file) that died will not come up.
    if [ -f "${PIDS}/${what}.pid" ] && ! alive "${what}"; then
      log "${what} exited; last lines of ${LOGS}/${what}.log:"
      tail -n 25 "${LOGS}/${what}.log" >&2
      exit 1
    fi
    sleep 1
  done
}

require_binaries() {
  local missing=()
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns kube-router; do
    [ -x "${BIN}/${b}" ] || missing+=("${b}")
  done
  ((${#missing[@]} == 0)) || die "missing ${missing[*]} in .tools/bin; run 'make cluster-tools'"
  [ "$(id -u)" = 0 ] || die "the local node runs containers and changes iptables: run as root"
}

install_packages() {
  local needed=() cmd pkg
  for pair in containerd:containerd runc:runc ipset:ipset conntrack:conntrack iptables:iptables gcc:gcc; do
    cmd="${pair%%:*}" pkg="${pair#*:}"
    command -v "${cmd}" >/dev/null 2>&1 || needed+=("${pkg}")
  done
  [ -x /usr/lib/cni/bridge ] || needed+=(containernetworking-plugins)
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || needed+=(libc6-dev)
  ((${#needed[@]} == 0)) && return
  long "installing ${needed[*]}" "about a minute" apt_install "${needed[@]}"
}

setup_network() {
  if ! ip link show "${BRIDGE}" >/dev/null 2>&1; then
    ip link add "${BRIDGE}" type bridge
  fi
  ip addr replace "${NODE_IP}/24" dev "${BRIDGE}"
  ip link set "${BRIDGE}" up
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # Docker sets FORWARD's policy to DROP, and with bridge-nf-call-iptables even traffic between
  # two pods on the bridge passes FORWARD. Accept pod traffic at the END of FORWARD, so that
  # kube-router's NetworkPolicy chain (inserted first) decides before this rule does; CNI's
  # firewall plugin would insert its accept rule first and bypass every policy.
  iptables -N CNI-MCP-LOCAL-FORWARD 2>/dev/null || iptables -F CNI-MCP-LOCAL-FORWARD
  iptables -A CNI-MCP-LOCAL-FORWARD -s "${POD_CIDR}" -j ACCEPT
  iptables -A CNI-MCP-LOCAL-FORWARD -d "${POD_CIDR}" -j ACCEPT
  iptables -C FORWARD -j CNI-MCP-LOCAL-FORWARD 2>/dev/null || iptables -A FORWARD -j CNI-MCP-LOCAL-FORWARD
  mkdir -p "${RUN}/cni/net.d" "${RUN}/cni/ipam"
  cat >"${RUN}/cni/net.d/10-mcp-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "mcp-local",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${BRIDGE}",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "${RUN}/cni/ipam",
        "ranges": [[{"subnet": "${POD_CIDR}", "gateway": "${NODE_IP}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

start_containerd() {
  mkdir -p "${RUN}/containerd"
  cat >"${RUN}/containerd/config.toml" <<EOF
version = 2
root = "${RUN}/containerd/root"
state = "${RUN}/containerd/state"
[grpc]
  address = "${CONTAINERD_SOCK}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${RUN}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  # Root here may lack CAP_SYS_RESOURCE; without this every pod sandbox fails on oom_score_adj.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state dir (.run/cluster), not the machine's /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${RUN}/cni/net.d"
  # Registry hosts (a hosts.toml per registry, read at each pull): the project's OCI registry
  # (scripts/registry.sh) answers plain HTTP on loopback, where this containerd runs.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${RUN}/containerd/certs.d"
EOF
  local registry
  registry=$(bash "${ROOT}/scripts/registry.sh" url)
  mkdir -p "${RUN}/containerd/certs.d/${registry}"
  cat >"${RUN}/containerd/certs.d/${registry}/hosts.toml" <<EOF
server = "http://${registry}"
[host."http://${registry}"]
  capabilities = ["pull", "resolve"]
EOF
  start containerd containerd --config "${RUN}/containerd/config.toml"
  wait_for containerd 30 ctr --address "${CONTAINERD_SOCK}" version
}

# --unsafe-no-fsync: the node's state lives for one test run and is never recovered after a
# crash, and on a shared disk one slow fsync stalls every write of the API server behind it
# (a CI run here saw its clients' TLS handshakes time out).
start_etcd() {
  start etcd etcd --name "${NODE_NAME}" --data-dir "${RUN}/etcd" --unsafe-no-fsync \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "${NODE_NAME}=http://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381 \
    --log-level warn
  wait_for etcd 30 curl -fsS http://127.0.0.1:2381/health
}

api_ready() { curl -fsS --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" "https://${NODE_IP}:6443/readyz"; }

start_control_plane() {
  start kube-apiserver kube-apiserver \
    --bind-address "${NODE_IP}" --advertise-address "${NODE_IP}" --secure-port 6443 \
    --etcd-servers http://127.0.0.1:2379 \
    --service-cluster-ip-range "${SERVICE_CIDR}" \
    --client-ca-file "${PKI}/ca.crt" \
    --tls-cert-file "${PKI}/apiserver.crt" --tls-private-key-file "${PKI}/apiserver.key" \
    --kubelet-client-certificate "${PKI}/apiserver-kubelet-client.crt" \
    --kubelet-client-key "${PKI}/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "${PKI}/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "${PKI}/sa.pub" --service-account-signing-key-file "${PKI}/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --requestheader-client-ca-file "${PKI}/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "${PKI}/front-proxy-client.crt" \
    --proxy-client-key-file "${PKI}/front-proxy-client.key" \
    --enable-aggregator-routing=true \
    --profiling=false
  wait_for kube-apiserver 90 api_ready
  kubectl apply -f "${ROOT}/cluster/manifests/kube-router-rbac.yaml" >/dev/null

  # The autoscaler looks every 5 s, not 15: the scaling tests wait on each of its steps, and
  # metrics-server (--metric-resolution=10s) has fresh numbers that often.
  start kube-controller-manager kube-controller-manager \
    --kubeconfig "${PKI}/controller-manager.kubeconfig" \
    --authentication-kubeconfig "${PKI}/controller-manager.kubeconfig" \
    --authorization-kubeconfig "${PKI}/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false \
    --service-account-private-key-file "${PKI}/sa.key" --root-ca-file "${PKI}/ca.crt" \
    --cluster-signing-cert-file "${PKI}/ca.crt" --cluster-signing-key-file "${PKI}/ca.key" \
    --use-service-account-credentials --service-cluster-ip-range "${SERVICE_CIDR}" \
    --horizontal-pod-autoscaler-sync-period 5s \
    --profiling=false

  start kube-scheduler kube-scheduler \
    --kubeconfig "${PKI}/scheduler.kubeconfig" \
    --authentication-kubeconfig "${PKI}/scheduler.kubeconfig" \
    --authorization-kubeconfig "${PKI}/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
}

start_node() {
  mkdir -p "${RUN}/kubelet"
  cat >"${RUN}/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI}/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: ${PKI}/kubelet-serving.crt
tlsPrivateKeyFile: ${PKI}/kubelet-serving.key
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
cgroupDriver: cgroupfs
clusterDomain: cluster.local
clusterDNS: [${DNS_SERVICE_IP}]
resolvConf: /etc/resolv.conf
failSwapOn: false
podLogsDir: ${RUN}/pod-logs
# The machine is shared: evict only when a disk is really full, never collect the
# locally imported images (they cannot be pulled back).
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
podPidsLimit: 4096
EOF
  # --containerd: cAdvisor's own containerd client (a flag kubelet still registers) names the
  # containers in /metrics/cadvisor; at its default socket it finds none, and every series lacks
  # the `container` label that the CPU and memory alerts select on.
  start kubelet kubelet --config "${RUN}/kubelet-config.yaml" \
    --kubeconfig "${PKI}/kubelet.kubeconfig" --root-dir "${RUN}/kubelet" \
    --hostname-override "${NODE_NAME}" --node-ip "${NODE_IP}" \
    --node-labels "node.kubernetes.io/local=true" \
    --containerd "${CONTAINERD_SOCK}"

  cat >"${RUN}/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: ${POD_CIDR}
hostnameOverride: ${NODE_NAME}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection: {kubeconfig: ${PKI}/kube-proxy.kubeconfig}
# NodePorts on the bridge only, never on the machine's own interfaces.
nodePortAddresses: [${NODE_IP}/32]
# Leave the machine's conntrack table size alone.
conntrack: {maxPerCore: 0}
EOF
  start kube-proxy kube-proxy --config "${RUN}/kube-proxy-config.yaml"
}

# After the node is registered: kube-router finds its node object at start or exits.
start_network_policy() {
  # The network policy controller, and the allocator that gives a LoadBalancer Service of class
  # kube-router an address (leader-elected by a lease named after POD_NAME in POD_NAMESPACE, as
  # in its DaemonSet): routing is the bridge's, services are kube-proxy's.
  start kube-router env POD_NAME="${NODE_NAME}" POD_NAMESPACE=kube-system \
    kube-router --kubeconfig "${PKI}/kube-router.kubeconfig" \
    --hostname-override "${NODE_NAME}" --run-firewall=true --run-router=false \
    --run-service-proxy=false --health-port 0 --metrics-port 0 \
    --service-cluster-ip-range "${SERVICE_CIDR}" \
    --run-loadbalancer=true --loadbalancer-default-class=false \
    --loadbalancer-ip-range "${LOAD_BALANCER_CIDR}"
  wait_for kube-router 60 forward_chain_has KUBE-ROUTER-FORWARD
}

forward_chain_has() { iptables -S FORWARD | grep -q -- "-j $1"; }

all_alive() {
  local name
  for name in "${COMPONENTS[@]}"; do alive "${name}" || return 1; done
}

node_ready() {
  [ "$(kubectl get node "${NODE_NAME}" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

apply_addons() {
  sed -e "s|@DNS_SERVICE_IP@|${DNS_SERVICE_IP}|" -e "s|@COREDNS_IMAGE@|${COREDNS_IMAGE}|" \
    "${ROOT}/cluster/manifests/coredns.yaml" | kubectl apply -f - >/dev/null
  wait_for coredns 120 kubectl -n kube-system rollout status deployment/coredns --timeout 5s
}

# The default StorageClass `local` and its pool of PersistentVolumes, from
# cluster/manifests/local-storage.yaml (which says why `local` volumes and not hostPath): the
# StorageClass, then its second document once per volume, each on its own directory. Applying
# leaves existing volumes (and their claims) as they are; a missing one is created.
setup_storage() {
  local manifest="${ROOT}/cluster/manifests/local-storage.yaml" i name
  {
    sed -n '1,/^---$/p' "${manifest}"
    for i in $(seq -w 1 "${LOCAL_VOLUMES}"); do
      name="mcp-local-${i}"
      mkdir -p "${VOLUMES}/${name}"
      sed -e '1,/^---$/d' -e "s|@NAME@|${name}|" -e "s|@SIZE@|${LOCAL_VOLUME_SIZE}|" \
        -e "s|@PATH@|${VOLUMES}/${name}|" -e "s|@NODE_NAME@|${NODE_NAME}|" "${manifest}"
      echo "---"
    done
  } | kubectl apply -f - >/dev/null
  recycle_volumes
}

# Every Released volume of the pool (its claim was deleted: a release uninstalled without
# `retain`) becomes Available again: its directory wiped, then its claimRef dropped, in that
# order so that no new claim binds to the old data. Without this, a `local` volume with the
# Retain policy stays Released for good, and repeated installs would use up the pool. A Bound
# volume, a retained claim's included, is left alone.
recycle_volumes() {
  local name path recycled=0
  while read -r name path; do
    [ -n "${name}" ] || continue
    # Only the pool's own directories, whatever a volume's spec says.
    [[ "${path}" == "${VOLUMES}/"* ]] || continue
    rm -rf "${path}"
    mkdir -p "${path}"
    kubectl patch pv "${name}" --type json -p '[{"op": "remove", "path": "/spec/claimRef"}]' >/dev/null
    recycled=$((recycled + 1))
  done < <(kubectl get pv -l "${POOL_LABEL}" \
    -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{" "}{.spec.local.path}{"\n"}{end}')
  ((recycled == 0)) || log "${recycled} released volume(s) of the storage pool wiped and made Available again"
}

up() {
  require_binaries
  install_packages
  mkdir -p "${RUN}" "${LOGS}" "${PIDS}"
  if all_alive && api_ready >/dev/null 2>&1 && node_ready 2>/dev/null; then
    setup_storage
    log "local node is running (KUBECONFIG=${KUBECONFIG})"
    return
  fi
  local began=${SECONDS}
  bash "${ROOT}/scripts/cluster-pki.sh" "${PKI}" "${NODE_NAME}" "${NODE_IP}" "${API_SERVICE_IP}"
  cp "${PKI}/admin.kubeconfig" "${KUBECONFIG}"
  setup_network
  start_containerd
  CONTAINERD_SOCK="${CONTAINERD_SOCK}" bash "${ROOT}/scripts/cluster-images.sh" system
  start_etcd
  start_control_plane
  start_node
  wait_for node 120 node_ready
  start_network_policy
  apply_addons
  setup_storage
  log "local node ${NODE_NAME} ready in $((SECONDS - began))s; export KUBECONFIG=${KUBECONFIG}"
}

stop_pods() {
  # Kill every container of our containerd (pods and sandboxes), whatever kubelet left.
  local shim
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address ${CONTAINERD_SOCK}" || true); do
    pkill -KILL -P "${shim}" 2>/dev/null || true
    kill -KILL "${shim}" 2>/dev/null || true
  done
}

# terminate NAME...: SIGTERM to each at once, then SIGKILL to any still running after 10 s. At
# once, because each takes its own seconds to exit (the API server 10), which in a row were half
# of `make cluster-down`.
terminate() {
  local name pids=() pid running
  for name in "$@"; do
    pid="$(pid_of "${name}")"
    [ -n "${pid}" ] && kill -TERM "${pid}" 2>/dev/null && pids+=("${pid}")
    rm -f "${PIDS}/${name}.pid"
  done
  for _ in $(seq 50); do
    running=()
    for pid in "${pids[@]}"; do kill -0 "${pid}" 2>/dev/null && running+=("${pid}"); done
    ((${#running[@]})) || return 0
    sleep 0.2
  done
  kill -KILL "${running[@]}" 2>/dev/null || true
}

stop_components() {
  # containerd last: its containers are killed first, whatever kubelet left of them.
  local name others=()
  for name in "${COMPONENTS[@]}"; do [ "${name}" = containerd ] || others+=("${name}"); done
  terminate "${others[@]}"
  stop_pods
  terminate containerd
}

clean_network() {
  # Rules and chains of kube-proxy (KUBE-*), kube-router (KUBE-ROUTER-*, KUBE-NWPLCY-*, KUBE-POD-FW-*)
  # and the CNI bridge plugin (CNI-*); everything else (Docker's rules) is restored unchanged.
  local tool
  for tool in iptables ip6tables; do
    command -v "${tool}-save" >/dev/null 2>&1 || continue
    local rules
    rules="$("${tool}-save" 2>/dev/null)"
    if grep -qE 'KUBE-|CNI-' <<<"${rules}"; then
      grep -vE '(^:(KUBE-|CNI-))|(-j (KUBE-|CNI-))|(^-A (KUBE-|CNI-))' <<<"${rules}" | "${tool}-restore"
    fi
  done
  if command -v ipset >/dev/null 2>&1; then
    { ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router)' || true; } | while read -r set; do
      ipset destroy "${set}" 2>/dev/null || true
    done
  fi
  if ip link show "${BRIDGE}" >/dev/null 2>&1; then ip link delete "${BRIDGE}"; fi
}

unmount_all() {
  # Volumes, container root filesystems and namespaces mounted under .run/cluster, deepest first.
  awk -v run="${RUN}" '$2 ~ "^"run {print $2}' /proc/mounts | sort -r | while read -r mount; do
    umount "${mount}" 2>/dev/null || umount -l "${mount}" 2>/dev/null || true
  done
}

remove_cgroups() {
  local controller
  for controller in /sys/fs/cgroup/*/; do
    [ -d "${controller}kubepods" ] || [ -d "${controller}kubepods.slice" ] || continue
    find "${controller}"kubepods* -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

down() {
  [ -d "${RUN}" ] || { log "no local node"; return; }
  stop_components
  clean_network
  unmount_all
  remove_cgroups
  rm -rf "${RUN}"
  log "local node removed (processes, bridge ${BRIDGE}, iptables rules, ipsets, cgroups, ${RUN})"
}

status() {
  local name state=0
  for name in "${COMPONENTS[@]}"; do
    if alive "${name}"; then echo "${name}: running (pid $(pid_of "${name}"))"; else echo "${name}: stopped"; state=3; fi
  done
  return "${state}"
}

# over_128ms METRIC: "N <what>s, M over 128 ms, the slowest under S s" from etcd's histogram
over_128ms() {
  awk -v metric="$1" '
    index($1, metric "_bucket{") == 1 { le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); n[++k] = le; c[k] = $2 }
    $1 == metric "_bucket{le=\"0.128\"}" { fast = $2 }
    $1 == metric "_count" { total = $2 }
    END {
      for (i = 1; i <= k; i++) if (c[i] == total) { slowest = n[i]; break }
      printf "%d, %d over 128 ms, the slowest under %s s", total, total - fast, slowest
    }'
}

# The last errors a component logged (klog's E lines), indented, with how many there were.
logged_errors() {
  local log="${LOGS}/$1.log" count
  [ -f "${log}" ] || return 0
  count=$(grep -c '^E[0-9]' "${log}" || true)
  echo "  $1: ${count} errors logged$( ((count)) && echo "; the last 3:")"
  { grep '^E[0-9]' "${log}" || true; } | tail -n 3 | cut -c1-220 | sed 's/^/    /'
}

health() {
  local load memory free stopped=() name metrics
  read -r load _ < <(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')
  memory=$(awk '/^MemAvailable:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
  free=$(df -BG --output=avail "${ROOT}/.run" | tail -n 1 | tr -d ' ')
  echo "local node health:"
  echo "  machine: load ${load} on $(nproc) cores, ${memory} GiB memory available, ${free} free under .run"
  for name in "${COMPONENTS[@]}"; do alive "${name}" || stopped+=("${name}"); done
  echo "  components: $( ((${#stopped[@]})) && echo "stopped: ${stopped[*]}" || echo "all running")"
  if metrics=$(curl -fsS --max-time 5 http://127.0.0.1:2381/metrics 2>/dev/null); then
    echo "  etcd WAL fsyncs: $(over_128ms etcd_disk_wal_fsync_duration_seconds <<<"${metrics}")"
    echo "  etcd commits: $(over_128ms etcd_disk_backend_commit_duration_seconds <<<"${metrics}")"
  fi
  for name in kube-apiserver etcd kubelet; do logged_errors "${name}"; done
  echo "  pods not ready, or restarted:"
  kubectl get pods -A --request-timeout 10s --no-headers 2>&1 |
    awk '{ split($3, ready, "/") } $4 != "Completed" && (ready[1] != ready[2] || $5 > 0) { print "    " $0 }' |
    head -n 8
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  health) health ;;
  *) echo "usage: local-node.sh up|down|status|health" >&2; exit 2 ;;
esac
