# bash completion for ipvsadm-compat (dpvs-rs): ipvsadm 1.31's options plus DPVS's extensions.
# Install: copy to /usr/share/bash-completion/completions/ipvsadm-compat (or source it).

_ipvsadm_compat()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="-A --add-service -E --edit-service -D --delete-service -C --clear
        -R --restore -S --save -a --add-server -e --edit-server -d --delete-server
        -L -l --list -Z --zero --set --start-daemon --stop-daemon -h --help -v --version
        -P --add-laddr -Q --del-laddr -G --get-laddr -U --add-blklst -V --del-blklst
        -B --get-blklst -O --add-whtlst -Y --del-whtlst -W --get-whtlst"
    local service="-t --tcp-service -u --udp-service --sctp-service -f --fwmark-service -6 --ipv6"

    case $prev in
        -s|--scheduler)
            COMPREPLY=($(compgen -W "rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos none" -- "$cur"))
            return ;;
        --pe)
            COMPREPLY=($(compgen -W "sip" -- "$cur"))
            return ;;
        -b|--sched-flags)
            COMPREPLY=($(compgen -W "flag-1 flag-2 flag-3 sh-fallback sh-port mh-fallback mh-port" -- "$cur"))
            return ;;
        --tun-type)
            COMPREPLY=($(compgen -W "ipip gue gre" -- "$cur"))
            return ;;
        --start-daemon|--stop-daemon)
            COMPREPLY=($(compgen -W "master backup" -- "$cur"))
            return ;;
        -j|--synproxy)
            COMPREPLY=($(compgen -W "enable disable" -- "$cur"))
            return ;;
        --mcast-interface|-F|--ifname)
            COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
            return ;;
        -t|--tcp-service|-u|--udp-service|--sctp-service|-r|--real-server|-z|--laddr|-k|--blklst|-2|--whtlst)
            COMPREPLY=($(compgen -A hostname -- "$cur"))
            return ;;
        -f|--fwmark-service|-p|--persistent|-M|--netmask|-w|--weight|-x|--u-threshold|-y|--l-threshold|\
        --syncid|--sync-maxlen|--mcast-group|--mcast-port|--mcast-ttl|--tun-port)
            return ;;
    esac

    # The command is the first word; the options that go with it follow ipvsadm's table.
    local cmd=${words[1]}
    if [[ $cword -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    local opts
    case $cmd in
        -A|--add-service|-E|--edit-service)
            opts="$service -s --scheduler -p --persistent -M --netmask --pe -b --sched-flags -o --ops -j --synproxy" ;;
        -D|--delete-service|-Z|--zero)
            opts="$service" ;;
        -a|--add-server|-e|--edit-server)
            opts="$service -r --real-server -g --gatewaying -i --ipip -m --masquerading --fullnat
                  -w --weight -x --u-threshold -y --l-threshold --tun-type --tun-port
                  --tun-nocsum --tun-csum --tun-remcsum" ;;
        -d|--delete-server)
            opts="$service -r --real-server" ;;
        -L|-l|--list|-L*|-l*)
            opts="$service -n --numeric -c --connection --timeout --daemon --stats --rate --exact -X
                  --thresholds --persistent-conn --tun-info --nosort --sort" ;;
        -S|--save)
            opts="-n --numeric" ;;
        --start-daemon)
            opts="--mcast-interface --syncid --sync-maxlen --mcast-group --mcast-port --mcast-ttl" ;;
        --stop-daemon)
            opts="--syncid" ;;
        -P|--add-laddr|-Q|--del-laddr)
            opts="$service -z --laddr -F --ifname" ;;
        -U|--add-blklst|-V|--del-blklst)
            opts="$service -k --blklst" ;;
        -O|--add-whtlst|-Y|--del-whtlst)
            opts="$service -2 --whtlst" ;;
        -G|--get-laddr|-B|--get-blklst|-W|--get-whtlst)
            opts="$service" ;;
        *)
            opts="" ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _ipvsadm_compat ipvsadm-compat
