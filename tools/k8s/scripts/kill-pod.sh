#!/usr/bin/env bash
# Deletes one pod of a microbank component (one replica of transfer's two, say) and waits until
# its replacement is Ready.
set -euo pipefail

components="account-system balance john-account mary-account transfer dashboard redis"
namespace=microbank
timeout_seconds="${KILL_POD_TIMEOUT_SECONDS:-300}"
poll_seconds="${KILL_POD_POLL_SECONDS:-2}"

usage() {
  echo "usage: $(basename "$0") <component>" >&2
  echo "  component: one of: $components" >&2
  exit 2
}
[ "$#" -eq 1 ] || usage
component=$1
case " $components " in
  *" $component "*) ;;
  *) usage ;;
esac

selector="app.kubernetes.io/part-of=microbank,app.kubernetes.io/name=$component"

# One line per pod: uid|name|Ready status|deletionTimestamp (empty while the pod is not terminating).
list_pods() {
  kubectl get pods --namespace "$namespace" --selector "$selector" --output \
    'jsonpath={range .items[*]}{.metadata.uid}{"|"}{.metadata.name}{"|"}{.status.conditions[?(@.type=="Ready")].status}{"|"}{.metadata.deletionTimestamp}{"\n"}{end}'
}

pods=$(list_pods)
if [ -z "$pods" ]; then
  echo "No $component pod in namespace $namespace" >&2
  exit 1
fi

# Pods are told apart by uid: a StatefulSet's replacement (microbank-redis-0) has the same name.
# Every pod there is now is old (the other replicas too). The first one not already terminating
# is deleted: deleting a pod on its way out (a kill a moment ago) would bring no replacement.
old_uids=" "
victim=""
while IFS='|' read -r uid name _ready deleting; do
  [ -n "$uid" ] || continue
  echo "Found $name${deleting:+ (terminating)}"
  old_uids+="$uid "
  [ -n "$victim" ] || [ -n "$deleting" ] || victim=$name
done <<<"$pods"
if [ -z "$victim" ]; then
  echo "Every $component pod is already terminating; nothing to kill" >&2
  exit 1
fi
echo "Deleting $victim"
kubectl delete pod "$victim" --namespace "$namespace" --wait=false </dev/null

deadline=$((SECONDS + timeout_seconds))
while :; do
  # A failed listing (API hiccup) counts as "not yet", until the deadline.
  pods=$(list_pods) || pods=""
  while IFS='|' read -r uid name ready deleting; do
    [ -n "$uid" ] || continue
    case "$old_uids" in *" $uid "*) continue ;; esac
    if [ "$ready" = "True" ] && [ -z "$deleting" ]; then
      echo "Replacement $name is Ready"
      exit 0
    fi
  done <<<"$pods"
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "No Ready replacement for $component within ${timeout_seconds}s" >&2
    exit 1
  fi
  sleep "$poll_seconds"
done
