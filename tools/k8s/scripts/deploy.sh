#!/usr/bin/env bash
# Deploys microbank (kubectl apply -k k8s/namespace, then -k k8s), waits for every rollout, prints each service's NodePort.
set -euo pipefail

usage() {
  echo "usage: $(basename "$0")" >&2
  echo "  Applies k8s/namespace, then k8s/, to the current kubectl context and waits until every workload is rolled out." >&2
  echo "  MICROBANK_ROLLOUT_TIMEOUT (default 300s) bounds each rollout." >&2
  exit 2
}
[ "$#" -eq 0 ] || usage

# This script is in tools/k8s/scripts/: the repository root is three levels up.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
namespace=microbank
timeout="${MICROBANK_ROLLOUT_TIMEOUT:-300s}"
selector=app.kubernetes.io/part-of=microbank

# The namespace first, from its own kustomization: the bank's (k8s/) never holds it, so deleting
# or pruning the bank never deletes the namespace and the Redis claims in it.
kubectl apply -k "$root/k8s/namespace"
kubectl apply -k "$root/k8s"

# Redis first (statefulsets are listed before deployments): the services get ready only after
# they have replayed the stream from it.
workloads=$(kubectl get statefulsets,deployments --namespace "$namespace" --selector "$selector" --output name)
for workload in $workloads; do
  kubectl rollout status "$workload" --namespace "$namespace" --timeout "$timeout"
done

node_ip=$(kubectl get nodes --output 'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}' 2>/dev/null || true)
node_ip=${node_ip:-<node-ip>}
echo
echo "NodePorts:"
kubectl get services --namespace "$namespace" --selector "$selector" \
  --output 'jsonpath={range .items[?(@.spec.type=="NodePort")]}{.metadata.name}{" "}{.spec.ports[0].nodePort}{"\n"}{end}' |
  while read -r name port; do
    if [ -n "$name" ]; then printf '  %-26s http://%s:%s\n' "$name" "$node_ip" "$port"; fi
  done
echo
echo "Happy banking!"
echo "Try: curl http://$node_ip:<port of microbank-account-system>/accounts"
