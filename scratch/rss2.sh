#!/bin/bash
cd /work/main
env MALLOC_ARENA_MAX=2 "$@" DATA_DIR=/tmp/bdb3 PORT=3999 HOST=127.0.0.1 LOG_LEVEL=info RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_ANON_PER_MINUTE=1000000 node_modules/.bin/node --max-semi-space-size=4 src/main.ts > /tmp/rss-service.log 2>&1 &
PID=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:3999/ready >/dev/null && break; sleep 0.2; done
EMAIL=$(node_modules/.bin/node -e "console.log(JSON.parse(require('fs').readFileSync('/tmp/bdb3/seeded.json')).benchUser.email)")
TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"bench password that is long enough\"}" http://127.0.0.1:3999/v1/auth/login | node_modules/.bin/node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).accessToken))")
node_modules/.bin/autocannon -c 32 -d 8 -H "authorization=Bearer $TOKEN" "http://127.0.0.1:3999/v1/tasks?status=todo" 2>&1 | grep -E "requests in" 
grep -E "VmRSS|VmHWM" /proc/$PID/status
awk '/^[0-9a-f]+-[0-9a-f]+ /{name=$6; range=$1} /^Rss:/{if ($2>3000) print $2, range, name}' /proc/$PID/smaps | sort -rn | head -12
curl -s http://127.0.0.1:3999/metrics | grep -E "^nodejs_(heap_size|external)|^nodejs_heap_space_size_used"
kill $PID; wait $PID 2>/dev/null
