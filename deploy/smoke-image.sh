#!/usr/bin/env bash
# Smoke test of the container image in the roles compose.yaml and k8s/ give it.
#
#   docker build -f deploy/Dockerfile -t recoop:local .
#   deploy/smoke-image.sh [IMAGE] [POSTGRES_ADMIN_URL]
#
# Runs, with the hardening compose.yaml uses (read-only root, a /tmp tmpfs, no
# capabilities, no-new-privileges) and host networking: the migration job, two web
# replicas and a worker, all on a scratch database of the given PostgreSQL server.
# Then it checks what an operator would: every process answers /healthz and /readyz,
# runs as uid 10001, a signed JOIN text to each web replica gets its TwiML reply,
# a duplicate delivery gets the same reply, an unsigned one is refused, and the
# worker's dispatcher, and only it, sends a queued reply (console gateway: its log).
# Needs docker, psql and this checkout's .venv (for the twilio signature).
set -euo pipefail

IMAGE=${1:-recoop:local}
ADMIN_URL=${2:-postgresql://postgres@127.0.0.1:5432/postgres}
DB=recoop_smoke_$$
TOKEN=smoke-token-$$
BASE=http://127.0.0.1
WEB1=18181 WEB2=18182 WORKER=18183
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=$HERE/.venv/bin/python
NAMES=(recoop-smoke-web1-$$ recoop-smoke-web2-$$ recoop-smoke-worker-$$)

cleanup() {
    docker rm -f "${NAMES[@]}" >/dev/null 2>&1 || true
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
DB_URL="postgresql+asyncpg://${ADMIN_URL#postgresql://}"
DB_URL="${DB_URL%/*}/$DB"

run() {  # run NAME ARGS...: a detached container with compose.yaml's hardening
    local name=$1
    shift
    docker run -d --name "$name" --network host --read-only --tmpfs /tmp \
        --cap-drop ALL --security-opt no-new-privileges:true \
        -e RECOOP_DATABASE_URL="$DB_URL" -e RECOOP_TWILIO_AUTH_TOKEN="$TOKEN" \
        -e RECOOP_PUBLIC_BASE_URL="$BASE:$WEB1" -e RECOOP_SMS_GATEWAY=console \
        -e RECOOP_SMS_ALLOWED_COUNTRIES=NG -e RECOOP_AFRICASTALKING_WEBHOOK_TOKEN="$TOKEN" \
        "$IMAGE" "$@" >/dev/null
}

echo "migration job"
docker run --rm --network host --read-only --tmpfs /tmp --cap-drop ALL \
    -e RECOOP_DATABASE_URL="$DB_URL" "$IMAGE" db upgrade

echo "two web replicas and a worker"
run "${NAMES[0]}" serve --role web --host 127.0.0.1 --port $WEB1
run "${NAMES[1]}" serve --role web --host 127.0.0.1 --port $WEB2
run "${NAMES[2]}" serve --role worker --host 127.0.0.1 --port $WORKER

for port in $WEB1 $WEB2 $WORKER; do
    for _ in $(seq 60); do
        curl -sf "$BASE:$port/readyz" >/dev/null && break
        sleep 0.5
    done
    curl -sf "$BASE:$port/healthz" >/dev/null || fail "port $port: /healthz"
    curl -sf "$BASE:$port/readyz" >/dev/null || fail "port $port: /readyz"
done
for name in "${NAMES[@]}"; do
    [ "$(docker exec "$name" id -u)" = 10001 ] || fail "$name does not run as 10001"
done
echo "every process answers /healthz and /readyz, as uid 10001"

# Each replica is reached at its own port; the signature is for the URL the
# service is configured with, as a load balancer would present it.
"$PY" - "$BASE" "$WEB1" "$WEB2" "$TOKEN" <<'EOF'
import sys
import urllib.error
import urllib.parse
import urllib.request

from twilio.request_validator import RequestValidator

base, web1, web2, token = sys.argv[1:]
url = f"{base}:{web1}/webhooks/twilio/sms"


def post(port: str, params: dict[str, str], signed: bool = True) -> tuple[int, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(
            url, params
        )
    request = urllib.request.Request(
        f"{base}:{port}/webhooks/twilio/sms",
        data=urllib.parse.urlencode(params).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


replies = []
for k, port in enumerate((web1, web2)):
    params = {
        "MessageSid": f"SM{k:032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": f"+23480300000{k:02d}",
        "To": "+15005550006",
        "Body": "JOIN 12 Adeola Odeku St, Victoria Island",
    }
    status, body = post(port, params)
    assert status == 200 and "<Message>" in body, (port, status, body)
    again = post(web2 if port == web1 else web1, params)
    assert again == (status, body), ("duplicate answered differently", again)
    replies.append(body)
status, _ = post(web1, {"MessageSid": "SM" + "f" * 32, "Body": "JOIN"}, signed=False)
assert status == 403, f"unsigned post got {status}"
print("signed JOIN answered by both replicas; duplicate same reply; unsigned 403")

# Africa's Talking replies go out through the outbox, so the worker sends them.
form = {
    "from": "+2348030000099",
    "to": "12345",
    "text": "JOIN 3 Allen Avenue, Ikeja",
    "id": "ATXid_smoke",
    "linkId": "",
    "date": "2026-12-03 10:00:00",
}
request = urllib.request.Request(
    f"{base}:{web2}/webhooks/africastalking/sms?token={token}",
    data=urllib.parse.urlencode(form).encode(),
    headers={"Content-Type": "application/x-www-form-urlencoded"},
)
with urllib.request.urlopen(request, timeout=10) as response:
    assert response.status == 200, response.status
print("Africa's Talking JOIN accepted; its reply is queued")
EOF

echo "waiting for the worker to dispatch"
for _ in $(seq 60); do
    sent=$(docker logs "${NAMES[2]}" 2>&1 | grep -c "SMS to " || true)
    [ "$sent" -ge 1 ] && break
    sleep 0.5
done
[ "${sent:-0}" -ge 1 ] || {
    docker logs "${NAMES[2]}" 2>&1 | tail -20
    fail "the worker did not send the queued reply"
}
for name in "${NAMES[0]}" "${NAMES[1]}"; do
    if docker logs "$name" 2>&1 | grep -q "SMS to "; then
        fail "$name (role web) sent SMS: only the worker dispatches"
    fi
done
echo "the worker sent the queued reply, the web replicas none; smoke test passed"
