#!/bin/sh
# make demo: the whole story against the local EC2 simulator — validate,
# plan, apply, an out-of-band change, drift detected, apply repairing it.
#
# On a terminal it looks as it will for you: colour, apply's confirmation
# prompt (answered "yes" where you can see it) and the live status line. In a
# log (stdout not a terminal) it prints plain lines, no escape codes, and
# applies with -auto-approve as a pipeline would.
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

# What a person sees: a terminal that takes escape codes, NO_COLOR unset.
if [ -t 1 ] && [ "${TERM:-dumb}" != dumb ] && [ -z "${NO_COLOR:-}" ]; then
	tty=1
else
	tty=
fi
step() {
	if [ -n "$tty" ]; then
		printf '\n\033[1m$ %s\033[0m\n' "$*"
	else
		printf '\n$ %s\n' "$*"
	fi
}

# apply as you would type it: on a terminal nestplan runs in a pseudo-terminal
# of its own (so it shows the status line) and the prompt is answered "yes"
# keystroke by keystroke, echoed as if typed; in a log, -auto-approve.
apply() {
	if [ -z "$tty" ]; then
		step nestplan apply -auto-approve
		"$np" apply -auto-approve
		return
	fi
	step nestplan apply
	python3 - "$np" apply <<'PY'
import fcntl, os, pty, signal, sys, termios, time

argv = sys.argv[1:]
try:
    size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
except OSError:
    size = None
pid, fd = pty.fork()
if pid == 0:
    if size:
        fcntl.ioctl(0, termios.TIOCSWINSZ, size)
    os.execv(argv[0], argv)
out = sys.stdout.buffer
seen, answered = b"", False
while True:
    try:
        data = os.read(fd, 4096)
    except KeyboardInterrupt:
        os.kill(pid, signal.SIGINT)
        continue
    except OSError:  # EIO: the child closed the terminal
        break
    if not data:
        break
    out.write(data)
    out.flush()
    seen = (seen + data)[-200:]
    if not answered and seen.rstrip().endswith(b"Enter a value:"):
        answered = True
        time.sleep(1)
        for c in b"yes":
            os.write(fd, bytes([c]))
            time.sleep(0.2)
        os.write(fd, b"\r")
while True:
    try:
        _, status = os.waitpid(pid, 0)
        break
    except KeyboardInterrupt:
        os.kill(pid, signal.SIGINT)
sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode")
         else (status >> 8))
PY
}

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
[ -n "$tty" ] || export NESTPLAN_IN_AUTOMATION=1
cp "$root/examples/quickstart/nestplan.yaml" "$work/nestplan.yaml"
cd "$work"

step nestplan validate
"$np" validate
step nestplan init
"$np" init
step nestplan plan
"$np" plan
apply
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
apply
step nestplan drift
"$np" drift

cat <<EOF

Demo complete: launched, changed outside, drift found, repaired.

What to try next:
  nestplan plan -json            the plan for tools and pipelines (schemas/plan-output.schema.json)
  nestplan drift -format=junit   drift as a CI report; examples/ci/ runs it on a schedule
  nestplan destroy               terminate everything the file manages
  your own AWS account           README.md, "From the demo to real AWS": credentials, region,
                                 init, plan, apply, and the least IAM policy (docs/iam-policy.json)
To try them on the simulator:    python3 tests/ec2sim/ec2sim.py --port 0 &   then, with the URL it prints,
                                 export AWS_ENDPOINT_URL_EC2=URL AWS_REGION=us-east-1 \\
                                   AWS_ACCESS_KEY_ID=AKIDNESTPLANSIM AWS_SECRET_ACCESS_KEY=nestplan-sim-secret
EOF
