#!/bin/bash
# lat.sh "<node flags>" url-path
cd /work/main
MALLOC_ARENA_MAX=2 DATA_DIR=/tmp/bdb3 PORT=3999 HOST=127.0.0.1 LOG_LEVEL=info RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_ANON_PER_MINUTE=1000000 node_modules/.bin/node $1 src/main.ts > /tmp/lat.log 2>&1 &
PID=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:3999/ready >/dev/null && break; sleep 0.2; done
EMAIL=$(node -e "console.log(JSON.parse(require('fs').readFileSync('/tmp/bdb3/seeded.json')).benchUser.email)")
TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"bench password that is long enough\"}" http://127.0.0.1:3999/v1/auth/login | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).accessToken))")
node_modules/.bin/autocannon -c 32 -d 3 -H "authorization=Bearer $TOKEN" "http://127.0.0.1:3999$2" > /dev/null 2>&1
node_modules/.bin/autocannon -j -c 32 -d 10 -H "authorization=Bearer $TOKEN" "http://127.0.0.1:3999$2" 2>/dev/null | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const r=JSON.parse(s);console.log('$1', 'rps', Math.round(r.requests.average), 'p50', r.latency.p50, 'p99', r.latency.p99, 'max', r.latency.max)})"
echo "HWM $(grep VmHWM /proc/$PID/status)"
kill $PID; wait $PID 2>/dev/null
