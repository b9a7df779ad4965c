#!/bin/sh
# make demo: the whole story against the local EC2 simulator — validate,
# plan, apply, an out-of-band change, drift detected, apply repairing it.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
np=${NESTPLAN:-$root/build/nestplan}
work=$(mktemp -d "${TMPDIR:-/tmp}/nestplan-demo.XXXXXX")
sim_pid=
cleanup() {
	if [ -n "$sim_pid" ]; then
		kill "$sim_pid" 2>/dev/null
		n=0
		while kill -0 "$sim_pid" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

python3 "$root/tests/ec2sim/ec2sim.py" --port 0 --transition-seconds 1 >"$work/sim.log" 2>&1 &
sim_pid=$!
i=0
until grep -q '^listening on ' "$work/sim.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "simulator did not start:"; cat "$work/sim.log"; exit 1; }
	sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/sim.log" | head -n 1)
echo "EC2 simulator at $url"

export AWS_ACCESS_KEY_ID=AKIDNESTPLANSIM AWS_SECRET_ACCESS_KEY=nestplan-sim-secret
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL_EC2="$url"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN
export NESTPLAN_IN_AUTOMATION=1
cp "$root/examples/quickstart/nestplan.yaml" "$work/nestplan.yaml"
cd "$work"

step nestplan validate
"$np" validate
step nestplan init
"$np" init
step nestplan plan
"$np" plan
step nestplan apply -auto-approve
"$np" apply -auto-approve
step nestplan show
"$np" show

id=$("$np" state show -json "$("$np" state list | head -n 1)" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["instance_id"])')
step "someone changes $id by hand (instance type m8i.xlarge, nested virtualization off)"
python3 - "$url" "$id" <<'PY'
import json, sys, urllib.request
url, iid = sys.argv[1], sys.argv[2]
def post(path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
post("/_sim/instances/" + iid, {"instance_type": "m8i.xlarge", "nested_virtualization": "disabled"})
PY
step nestplan drift
set +e
"$np" drift
rc=$?
set -e
echo "(drift exited $rc: 2 means reality moved away from the file)"
step nestplan apply -auto-approve
"$np" apply -auto-approve
step nestplan drift
"$np" drift
echo
echo "Demo complete."
