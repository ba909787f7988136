# Sourced by the peer scripts. detach LOGFILE COMMAND... starts a long-lived
# daemon in the background, in its own session, with /dev/null as stdin and
# LOGFILE as stdout and stderr, and with no other descriptor of the caller's.
# Swift's Foundation.Process watches a child through a socket the child
# inherits, so a daemon that kept it would make the test that ran this script
# wait for the daemon's exit instead of the script's.
detach() {
    local logfile=$1
    shift
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
        done
        exec setsid "$@" >"$logfile" 2>&1 </dev/null
    ) &
}
