#!/bin/bash
# rss3.sh "<node flags>" [env...]
cd /work/main
FLAGS="$1"; shift
env "$@" DATA_DIR=/tmp/bdb3 PORT=3999 HOST=127.0.0.1 LOG_LEVEL=info RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_ANON_PER_MINUTE=1000000 node_modules/.bin/node $FLAGS src/main.ts > /tmp/rss-service.log 2>&1 &
PID=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:3999/ready >/dev/null && break; sleep 0.2; done
EMAIL=$(node_modules/.bin/node -e "console.log(JSON.parse(require('fs').readFileSync('/tmp/bdb3/seeded.json')).benchUser.email)")
TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"bench password that is long enough\"}" http://127.0.0.1:3999/v1/auth/login | node_modules/.bin/node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).accessToken))")
echo "idle $(grep VmRSS /proc/$PID/status)"
for u in "/v1/tasks?status=todo" "/v1/tasks?q=report" "/v1/tasks?q=invoice" ; do
node_modules/.bin/autocannon -c 32 -d 6 -H "authorization=Bearer $TOKEN" "http://127.0.0.1:3999$u" 2>&1 | grep -E "requests in" | sed "s#^#$u #"
done
node_modules/.bin/autocannon -c 32 -d 6 -m POST -H "authorization=Bearer $TOKEN" -H "content-type=application/json" -b '{"title":"Bench create task for memory","description":"some description words here","tags":["a","b"]}' "http://127.0.0.1:3999/v1/tasks" 2>&1 | grep -E "requests in" | sed "s#^#create #"
grep -E "VmHWM" /proc/$PID/status
curl -s http://127.0.0.1:3999/metrics | grep -E "^nodejs_heap_size_(total|used)" | tr '\n' ' '; echo
kill $PID; wait $PID 2>/dev/null
