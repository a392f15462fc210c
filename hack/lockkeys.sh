#!/bin/bash
# take and release 500 lock names through a sidecar's API
# (lease=1s), wait 12 s, count the keys left in Redis (an idle name must leave none).
# Usage: hack/lockkeys.sh bin/baton (needs redis-server, redis-cli, curl)
set -u
BATON=$1; RP=$(( 20000 + RANDOM % 10000 )); AP=$(( RP + 1 ))
d=$(mktemp -d)
redis-server --port $RP --save '' --appendonly no --daemonize yes --pidfile $d/r.pid >/dev/null
sleep 0.3
redis-cli -p $RP HSET 'baton:{job}:term' fence 1 valid_until_us 0 >/dev/null
$BATON --lock job --redis-addr 127.0.0.1:$RP --api-addr 127.0.0.1:$AP --probe-addr 127.0.0.1:$((AP+1)) >$d/b.log 2>&1 &
bp=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$AP/leader && break; sleep 0.1; done
for i in $(seq 500); do
  tok=$(curl -s -X POST "http://127.0.0.1:$AP/locks/order-$i?lease=1s" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  curl -s -o /dev/null -X DELETE "http://127.0.0.1:$AP/locks/order-$i?token=$tok"
done
sleep 12
echo "keys of the lock API 12 s after 500 names were taken and released: $(redis-cli -p $RP --scan --pattern 'baton-locks:*' | wc -l)"
kill $bp; wait $bp 2>/dev/null
redis-cli -p $RP shutdown nosave >/dev/null 2>&1
rm -rf $d
