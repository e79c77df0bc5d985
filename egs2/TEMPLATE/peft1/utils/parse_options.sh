#!/usr/bin/env bash
# Kaldi/ESPnet-style option parsing, sourced by a script after it has set its defaults:
#
#   stage=1; methods="lora dora"
#   . utils/parse_options.sh       # now "--stage 6 --methods lora" override them
#
# Rules: "--name value" or "--name=value" sets the shell variable name (dashes become
# underscores); the variable must already exist, so a typo is an error, not a silent
# no-op. "--config FILE" sources FILE first (a file of name=value lines). "--help" or
# "-h" prints $help_message and exits. Parsing stops at the first non-option argument;
# what is left stays in "$@".

__po_die() { echo "$0: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help)
            echo "${help_message:-no help for $0}"
            exit 0 ;;
        --config=*|--config)
            if [ "$1" = --config ]; then [ $# -ge 2 ] || __po_die "--config needs a file"; __po_file=$2; shift 2
            else __po_file=${1#--config=}; shift; fi
            [ -f "$__po_file" ] || __po_die "config file $__po_file not found"
            # shellcheck disable=SC1090
            . "$__po_file" ;;
        --*=*)
            __po_name=${1%%=*}; __po_name=${__po_name#--}; __po_name=${__po_name//-/_}
            __po_value=${1#*=}; shift
            [ -n "${!__po_name+x}" ] || __po_die "unknown option --${__po_name}"
            printf -v "$__po_name" '%s' "$__po_value" ;;
        --*)
            __po_name=${1#--}; __po_name=${__po_name//-/_}
            [ -n "${!__po_name+x}" ] || __po_die "unknown option --${__po_name}"
            [ $# -ge 2 ] || __po_die "option --${__po_name} needs a value"
            printf -v "$__po_name" '%s' "$2"; shift 2 ;;
        *) break ;;
    esac
done
unset __po_name __po_value __po_file
true
