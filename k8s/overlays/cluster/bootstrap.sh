# Forms the Redis Cluster once, and never again: run by the Job in bootstrap-job.yaml (sh, busybox or
# dash), and safe to run any number of times. NODES: host:port of every node, space-separated, in
# the order redis-cli pairs them (the first three become primaries, the next three their replicas);
# REDISCLI_AUTH: the password, which redis-cli reads; WAIT_SECONDS: how long to wait for the nodes.
set -eu
deadline=$(($(date +%s) + ${WAIT_SECONDS:-600}))
# A field of a node's CLUSTER INFO.
field() { redis-cli -h "${1%:*}" -p "${1##*:}" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }
# Every node's field, as "node=value" words.
fields() { for node in $NODES; do echo "$node=$(field "$node" "$1")"; done; }
in_time() {
  [ "$(date +%s)" -lt "$deadline" ] || { echo "bootstrap: $1 within ${WAIT_SECONDS:-600}s: giving up" >&2; exit 1; }
  sleep 1
}

for node in $NODES; do
  until redis-cli -h "${node%:*}" -p "${node##*:}" ping 2>/dev/null | grep -q PONG; do in_time "no PONG from $node"; done
done

# A node that knows only itself and serves no slot has never been part of a cluster.
set -- $NODES
empty=0
for node in "$@"; do
  if [ "$(field "$node" cluster_known_nodes)" = 1 ] && [ "$(field "$node" cluster_slots_assigned)" = 0 ]; then
    empty=$((empty + 1))
  fi
done
if [ "$empty" -eq 0 ]; then
  # Formed by an earlier run: leave it exactly as it is (no create, no reset, no rebalance).
  if fields cluster_state | grep -qv '=ok$'; then
    echo "bootstrap: the cluster is formed but not ok ($(fields cluster_state | tr '\n' ' ')): nothing done" >&2
    exit 1
  fi
  echo "bootstrap: the cluster is formed already: nothing done"
  exit 0
fi
if [ "$empty" -ne "$#" ]; then
  # Some nodes belong to a cluster and some do not: a node was replaced by an empty one, or the first
  # run stopped half-way. Joining or resetting nodes is an operator's decision (k8s/README.md).
  echo "bootstrap: $empty of $# nodes are empty, the others belong to a cluster: nothing done" >&2
  exit 1
fi

# CLUSTER MEET takes addresses, not names: resolve each node's name to its pod's current IP.
addresses=""
for node in "$@"; do
  ip=$(getent hosts "${node%:*}" | awk '{ print $1; exit }')
  addresses="$addresses ${ip:-${node%:*}}:${node##*:}"
done
# shellcheck disable=SC2086 # one word per address
redis-cli --cluster create $addresses --cluster-replicas 1 --cluster-yes
# Done when every node says ok, the first one sees every replica (a replica's role spreads by gossip),
# and every replica's link to its primary is up: until then a primary refuses writes
# (min-replicas-to-write), NOREPLICAS.
replicas() { redis-cli -h "${1%:*}" -p "${1##*:}" cluster nodes | grep -c ' slave' || true; }
links() { for node in $NODES; do redis-cli -h "${node%:*}" -p "${node##*:}" info replication | grep '^master_link_status:' || true; done; }
until [ "$(replicas "$1")" -eq $(($# / 2)) ] && ! fields cluster_state | grep -qv '=ok$' &&
  [ "$(links | tr -d '\r' | grep -c ':up$')" -eq $(($# / 2)) ]; do
  in_time "$(($# / 2)) linked replicas and cluster_state ok everywhere"
done
echo "bootstrap: the cluster is formed: $# nodes, $(($# / 2)) of them linked replicas, cluster_state ok"
