# bash completion for corun(1)                               -*- shell-script -*-
# Installed as share/bash-completion/completions/corun; or source it.

_corun()
{
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}

    case $prev in
        --report|--junit|--trace|--journal)
            # A file to write, or '-' for standard output.
            COMPREPLY=($(compgen -f -- "$cur"))
            return
            ;;
        --root)
            COMPREPLY=($(compgen -d -- "$cur"))
            return
            ;;
        --progress)
            COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
            return
            ;;
        -j|--jobs|--var|--timeout)
            # A value of the user's own: nothing to offer.
            COMPREPLY=()
            return
            ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--report --junit --trace --journal --progress
            --quiet -q --jobs -j --var --root --timeout --check --debug
            --version -V --help -h" -- "$cur"))
        return
    fi

    # The first word may be the graph command; then job files (*.json).
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "graph" -- "$cur"))
    fi
    local IFS=$'\n'
    COMPREPLY+=($(compgen -f -X '!*.json' -- "$cur"))
    COMPREPLY+=($(compgen -d -- "$cur"))
    compopt -o filenames 2>/dev/null
}

complete -F _corun corun
