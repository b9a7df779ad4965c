# bash completion for nestplan
_nestplan() {
	local cur prev cmd
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[1]}
	local commands="init validate plan apply drift show state import destroy force-unlock version"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$commands -help -version" -- "$cur"))
		return
	fi
	case "$cur" in
	-target=*|-replace=*)
		local addrs
		addrs=$(nestplan state list 2>/dev/null)
		COMPREPLY=($(compgen -P "${cur%%=*}=" -W "$addrs" -- "${cur#*=}"))
		return ;;
	-*)
		local opts
		opts=$(nestplan "$cmd" -help 2>/dev/null | sed -n 's/^  \(-[a-z-]*\).*/\1/p')
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return ;;
	esac
	case "$cmd" in
	state)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "list show rm mv" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(nestplan state list 2>/dev/null)" -- "$cur"))
		fi ;;
	import)
		[ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "$(nestplan state list 2>/dev/null)" -- "$cur")) ;;
	apply|show|validate)
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	esac
}
complete -F _nestplan nestplan
