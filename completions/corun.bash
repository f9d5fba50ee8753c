# bash completion for corun(1)                               -*- shell-script -*-
# Installed as share/bash-completion/completions/corun; or source it.

# Fill COMPREPLY with the files (with -f) or directories (-d) that start
# with $2, one word each whatever they hold (spaces, quotes), directories
# with a trailing '/'; $3, when set, goes before each (an OPTION= prefix).
_corun_paths()
{
    local what=$1 cur=$2 prefix=${3-} p
    local -a found
    # Read whole lines: a name is neither split nor taken as a pattern.
    mapfile -t found < <(compgen "$what" -- "$cur")
    for p in "${found[@]}"; do
        [[ -d $p && $p != */ ]] && p+=/
        COMPREPLY+=("$prefix$p")
    done
}

_corun()
{
    local cur prev opt prefix='' w
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()

    # corun ps [--json] [PID]: a process id is the user's to give.
    if [[ $COMP_CWORD -ge 2 && ${COMP_WORDS[1]} == ps ]]; then
        [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--json" -- "$cur"))
        return 0
    fi

    # corun merge [--report F] [--junit F] [--html F] [--trace F]
    # [--results PATH]... REPORT...: outputs, results paths and reports.
    if [[ $COMP_CWORD -ge 2 && ${COMP_WORDS[1]} == merge ]]; then
        case $prev in
            --report|--junit|--html|--trace|--results)
                _corun_paths -f "$cur"
                ;;
            *)
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W "--report --junit --html --trace
                        --results --help" -- "$cur"))
                    return 0
                fi
                local -a reports
                mapfile -t reports < <(compgen -f -X '!*.json' -- "$cur")
                COMPREPLY+=("${reports[@]}")
                _corun_paths -d "$cur"
                ;;
        esac
        compopt -o filenames 2>/dev/null
        if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
            compopt -o nospace 2>/dev/null
        fi
        return 0
    fi

    # OPTION=ARG: bash splits the word at '=' (OPTION "=" ARG) unless '='
    # was taken out of COMP_WORDBREAKS; then the word is OPTION=ARG whole.
    if [[ $cur == = ]]; then
        opt=$prev cur=
    elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
        opt=${COMP_WORDS[COMP_CWORD-2]}
    elif [[ $cur == --*=* ]]; then
        opt=${cur%%=*} prefix=$opt= cur=${cur#*=}
    else
        opt=$prev
    fi

    # An abbreviation getopt takes (a unique prefix) names its option too.
    if [[ $opt == --?* ]]; then
        local o full='' n=0
        for o in --report --junit --trace --html --journal --progress --jobs --var \
                 --root --timeout --shard --shard-timings; do
            if [[ $o == "$opt"* ]]; then
                full=$o
                n=$((n + 1))
            fi
        done
        [[ $n == 1 ]] && opt=$full
    fi

    case $opt in
        --report|--junit|--trace|--html|--journal)
            # A file to write, or '-' for standard output.
            _corun_paths -f "$cur" "$prefix"
            ;;
        --root)
            _corun_paths -d "$cur" "$prefix"
            ;;
        --shard-timings)
            # An earlier JSON report.
            local -a reports
            mapfile -t reports < <(compgen -f -X '!*.json' -- "$cur")
            for w in "${reports[@]}"; do
                COMPREPLY+=("$prefix$w")
            done
            _corun_paths -d "$cur" "$prefix"
            ;;
        --shard)
            # K/N is the user's; 'auto' reads it from the CI's variables.
            local w
            for w in $(compgen -W "auto" -- "$cur"); do
                COMPREPLY+=("$prefix$w")
            done
            return
            ;;
        --progress)
            local w
            for w in $(compgen -W "auto always never" -- "$cur"); do
                COMPREPLY+=("$prefix$w")
            done
            return
            ;;
        -j|--jobs|--var|--timeout)
            # A value of the user's own: nothing to offer.
            return
            ;;
        *)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--report --junit --trace --html --journal
                    --progress --quiet -q --jobs -j --var --root --timeout
                    --check --dry-run --shard --shard-timings --debug --version -V
                    --help -h" -- "$cur"))
                return
            fi
            # The first word may be a command; then job files.
            if [[ $COMP_CWORD -eq 1 ]]; then
                COMPREPLY=($(compgen -W "graph ps merge" -- "$cur"))
            fi
            local -a files
            mapfile -t files < <(compgen -f -X '!*.json' -- "$cur")
            COMPREPLY+=("${files[@]}")
            _corun_paths -d "$cur"
            ;;
    esac
    # Quote what the shell needs quoted; after a directory, no space: the
    # name goes on inside it.
    compopt -o filenames 2>/dev/null
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -F _corun corun
