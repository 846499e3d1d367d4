#!/usr/bin/env bash
# Looks into microbank's Redis streams by running redis-cli inside the Redis pod.
set -euo pipefail

namespace=microbank
default_stream=microbank:accounts

usage() {
  cat >&2 <<USAGE
usage: $(basename "$0") [range|len|info|tail] [stream]   (default: range $default_stream)
       $(basename "$0") cli <redis-cli arguments...>
  range  every entry (XRANGE stream - +)
  len    the number of entries (XLEN)
  info   the stream's first and last entries and more (XINFO STREAM)
  tail   wait for new entries and print them (XREAD BLOCK); Ctrl-C to stop
  cli    any redis-cli command, e.g.: cli XRANGE $default_stream - + COUNT 5
USAGE
  exit 2
}

command=${1:-range}
[ "$#" -gt 0 ] && shift
case "$command" in
  range | len | info | tail)
    [ "$#" -le 1 ] || usage
    stream=${1:-$default_stream}
    case "$command" in
      range) set -- XRANGE "$stream" - + ;;
      len) set -- XLEN "$stream" ;;
      info) set -- XINFO STREAM "$stream" ;;
      tail) set -- XREAD BLOCK 0 STREAMS "$stream" '$' ;;
    esac
    ;;
  cli)
    [ "$#" -ge 1 ] || usage
    ;;
  *) usage ;;
esac

tty=()
if [ -t 0 ] && [ -t 1 ]; then tty=(--tty); fi
# The Redis container already holds the password, from the Secret microbank-redis, in REDISCLI_AUTH,
# which redis-cli reads: the password never leaves the cluster and never appears in argv.
exec kubectl exec --stdin "${tty[@]}" --namespace "$namespace" statefulset/microbank-redis --container redis -- \
  redis-cli "$@"
