# bash completion for nestplan: commands, each command's options (read from
# 'nestplan COMMAND -help', so they never fall behind the binary), option
# values, and instance addresses from the state ('nestplan state list').

# COMPREPLY: the words of $2 that start with $1. mapfile, not
# COMPREPLY=($(...)): an unquoted expansion would glob "runner[0]" into a
# file named runner0.
_nestplan_reply() {
	mapfile -t COMPREPLY < <(compgen -W "$2" -- "$1")
}

# The nestplan being completed ("./build/nestplan" works too).
_nestplan_bin() {
	local np=${COMP_WORDS[0]}
	[[ $np == "~"* ]] && np=$HOME${np#"~"}
	type -P -- "$np" >/dev/null 2>&1 || np=nestplan
	printf '%s\n' "$np"
}

# The value of -NAME on the line (-NAME=V, -NAME V, --NAME V), if any.
_nestplan_opt_value() {
	local i w n=${#COMP_WORDS[@]}
	for ((i = 2; i < n; i++)); do
		w=${COMP_WORDS[i]}
		[[ $i -eq $COMP_CWORD ]] && continue
		if [[ $w == "-$1" || $w == "--$1" ]]; then
			if [[ ${COMP_WORDS[i + 1]} == "=" ]]; then
				[[ $((i + 2)) -lt $COMP_CWORD ]] && printf '%s\n' "${COMP_WORDS[i + 2]}"
			elif [[ $((i + 1)) -lt $COMP_CWORD ]]; then
				printf '%s\n' "${COMP_WORDS[i + 1]}"
			fi
			return
		elif [[ $w == "-$1="* || $w == "--$1="* ]]; then
			printf '%s\n' "${w#*=}"
			return
		fi
	done
}

# Addresses recorded in the state, from the -state of the line if given.
_nestplan_addresses() {
	local np state
	np=$(_nestplan_bin)
	state=$(_nestplan_opt_value state)
	state=${state/#\~/$HOME}
	state=${state:-${NESTPLAN_STATE:-nestplan.db}}
	# Only an existing state: pressing Tab must not create one.
	[[ -f $state ]] && "$np" state list -state="$state" 2>/dev/null
}

# Addresses the configuration file declares (for import, before they are in
# the state): the names under "instances:", NAME[i] for count: N.
_nestplan_config_addresses() {
	local config
	config=$(_nestplan_opt_value config)
	config=${config/#\~/$HOME}
	[[ -r ${config:=nestplan.yaml} ]] || return
	awk '
	function flush(  i) {
		if (name == "") return
		if (count > 0) for (i = 0; i < count; i++) print name "[" i "]"
		else print name
		name = ""; count = 0
	}
	/^[ \t]*(#|$)/ { next }
	{ match($0, /^ */); ind = RLENGTH }
	ind == 0 { flush(); inst = ($0 ~ /^instances:[ \t]*(#.*)?$/); child = -1; next }
	!inst { next }
	child < 0 { child = ind }
	ind == child && match($0, /^ *[A-Za-z0-9_-]+:/) {
		flush(); name = substr($0, ind + 1); sub(/:.*/, "", name)
		if (match($0, /count:[ \t]*[0-9]+/)) { count = substr($0, RSTART + 6) + 0 }
		next
	}
	ind > child && match($0, /^ *count:[ \t]*[0-9]+/) { c = $0; sub(/^ *count:[ \t]*/, "", c); count = c + 0 }
	END { flush() }' "$config" 2>/dev/null
}

# Values of an option that takes one; returns 1 for options that take none.
_nestplan_value() {
	local opt=${1#-} cur=$2
	opt=${opt#-}
	case $opt in
	config | state | out)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
	target | replace)
		compopt -o filenames 2>/dev/null # quotes the [ ] of runner[0] when inserted
		cur=${cur//\\/}
		cur=${cur//\'/}
		cur=${cur//\"/}
		# NAME selects every NAME[i]: offer the groups too.
		local addrs
		addrs=$(_nestplan_addresses)
		_nestplan_reply "$cur" "$(printf '%s\n' "$addrs" | sed -n 's/\[[0-9]*\]$//p' | sort -u)
$addrs" ;;
	format) _nestplan_reply "$cur" "text json junit markdown" ;;
	json | no-color | detailed-exitcode | refresh | refresh-only | auto-approve | input | lock | history)
		_nestplan_reply "$cur" "true false" ;;
	parallelism | lock-timeout | step-timeout) COMPREPLY=() ;;
	*) return 1 ;;
	esac
	return 0
}

_nestplan() {
	local cur=${2-${COMP_WORDS[COMP_CWORD]}} prev=${3-${COMP_WORDS[COMP_CWORD - 1]}}
	local cmd=${COMP_WORDS[1]} np i w sub= pos=0
	local commands="init validate plan apply drift show state import destroy force-unlock version"
	COMPREPLY=()

	if [[ $COMP_CWORD -eq 1 ]]; then
		_nestplan_reply "$cur" "$commands -help -version"
		return
	fi
	np=$(_nestplan_bin)
	case $cmd in
	-help | --help | -h | help) # nestplan -help COMMAND
		[[ $COMP_CWORD -eq 2 ]] && _nestplan_reply "$cur" "$commands"
		return ;;
	esac

	# An option's value: -opt=V (bash splits at "=": -opt = V), or -opt V for
	# the options that require one.
	if [[ ${COMP_WORDS[COMP_CWORD]} == "=" ]]; then
		_nestplan_value "$prev" "" && return
	elif [[ $prev == "=" && $COMP_CWORD -ge 3 ]]; then
		_nestplan_value "${COMP_WORDS[COMP_CWORD - 2]}" "$cur" && return
	elif [[ $cur == -*=* ]]; then # "=" removed from COMP_WORDBREAKS
		_nestplan_value "${cur%%=*}" "${cur#*=}" && {
			local p=${cur%%=*}=
			COMPREPLY=("${COMPREPLY[@]/#/$p}")
			return
		}
	fi
	case $prev in
	-config | --config | -state | --state | -out | --out | -target | --target | -replace | \
		--replace | -format | --format | -parallelism | --parallelism | -lock-timeout | \
		--lock-timeout | -step-timeout | --step-timeout)
		_nestplan_value "$prev" "$cur" && return ;;
	esac

	if [[ $cur == -* ]]; then
		_nestplan_reply "$cur" "-help $("$np" "$cmd" -help 2>/dev/null |
			sed -n 's/^  \(-[a-z][a-z-]*\)\(=[^ ]*\)\{0,1\} .*/\1\2/p' | sed 's/=.*/=/')"
		# -out= wants a value next: no space after it.
		[[ ${#COMPREPLY[@]} -gt 0 && ${COMPREPLY[*]} == *= ]] && compopt -o nospace 2>/dev/null
		return
	fi

	# Positional arguments: count the words that are neither options nor
	# their values.
	for ((i = 2; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		=) ((i++)) ;;
		-config | --config | -state | --state | -out | --out | -target | --target | -replace | \
			--replace | -format | --format | -parallelism | --parallelism | -lock-timeout | \
			--lock-timeout | -step-timeout | --step-timeout)
			[[ ${COMP_WORDS[i + 1]} != "=" ]] && ((i++)) ;;
		-*) ;;
		*)
			((pos++))
			[[ $pos -eq 1 ]] && sub=$w ;;
		esac
	done

	case $cmd in
	state)
		if [[ $pos -eq 0 ]]; then
			_nestplan_reply "$cur" "list show rm mv pull push"
		elif [[ $sub == push && $pos -eq 1 ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		elif [[ $sub == show && $pos -eq 1 ]] || [[ $sub == rm ]] || [[ $sub == mv && $pos -eq 1 ]]; then
			compopt -o filenames 2>/dev/null
			_nestplan_reply "${cur//\\/}" "$(_nestplan_addresses)"
		fi ;;
	import)
		if [[ $pos -eq 0 ]]; then
			compopt -o filenames 2>/dev/null
			_nestplan_reply "${cur//\\/}" "$(_nestplan_config_addresses)"
		fi ;;
	apply | show | validate)
		if [[ $pos -eq 0 ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi ;;
	esac
}
complete -F _nestplan nestplan
