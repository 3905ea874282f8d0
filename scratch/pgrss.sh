#!/bin/bash
# pgrss.sh "<node flags>"
URL=$(node -e "console.log(JSON.parse(require('fs').readFileSync('/tmp/pgb/seeded.json')).url)"); EMAIL=$(node -e "console.log(JSON.parse(require('fs').readFileSync('/tmp/pgb/seeded.json')).benchUser.email)")
cd /work/main
MALLOC_ARENA_MAX=2 DATABASE_URL="$URL" DATA_DIR=/tmp/pgdd PORT=3998 HOST=127.0.0.1 LOG_LEVEL=info RATE_LIMIT_PER_MINUTE=1000000 node_modules/.bin/node $1 src/main.ts > /tmp/pgrss.log 2>&1 &
PID=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:3998/ready >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"bench password that is long enough\"}" http://127.0.0.1:3998/v1/auth/login | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).accessToken))")
ID=$(node -e "console.log(JSON.parse(require('fs').readFileSync('/tmp/pgb/seeded.json')).sampleIds[3])")
node_modules/.bin/autocannon -c 32 -d 8 -H "authorization=Bearer $TOKEN" "http://127.0.0.1:3998/v1/tasks?status=todo" 2>&1 | grep "requests in" | sed 's/^/list /'
node_modules/.bin/autocannon -c 32 -d 8 -H "authorization=Bearer $TOKEN" "http://127.0.0.1:3998/v1/tasks/$ID" 2>&1 | grep "requests in" | sed 's/^/get /'
echo "$1 $(grep VmHWM /proc/$PID/status) $(curl -s http://127.0.0.1:3998/metrics | grep -E '^nodejs_heap_size_(total|used)' | tr '\n' ' ')"
kill $PID; wait $PID 2>/dev/null
