#!/bin/bash
# SPDX-License-Identifier: MIT
#
# sd-ns-boot itself: writes inside never reach the host (/etc, /root, /home, /var, wtmp, /tmp),
# the rest of the host is read-only inside, two instances run side by side, and a boot+stop
# leaves nothing behind: no files (find -newer), no cgroup, no state directory.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env

marker=$WORK/marker
touch "$marker"
probe=sdns-probe-$$-$RANDOM
core_pattern=$(cat /proc/sys/kernel/core_pattern)
wtmp_sum=$(md5sum /var/log/wtmp 2>/dev/null)

boot --add-user "cpx$$" --linger "cpx$$"
pid_a=$PID
cg_a=$(cat "/run/sd-ns-boot/$pid_a/cgroup")
check "the instance has its own cgroup" test -d "$cg_a"
check_eq "it is running" running "$(X systemctl is-system-running)"
check "its pid namespace holds only its own processes" test "$(X sh -c 'ls /proc | grep -c "^[0-9]"')" -lt 60
check_eq "its network namespace has only lo" lo "$(X ip -o link show | awk -F': ' '{ print $2 }' | tr '\n' ' ' | sed 's/ $//')"
check "the lingering user manager runs" wait_until 10 sh -c "test \"\$('$SDNS' exec $PID systemctl is-active user@\$('$SDNS' exec $PID id -u cpx$$).service)\" = active"
for p in "/etc/$probe" "/root/$probe" "/home/$probe" "/var/lib/$probe" "/tmp/$probe" "/var/tmp/$probe"; do
        X sh -c "echo x >'$p'"
        check "a write to $p stays inside" sh -c "'$SDNS' exec $PID test -f '$p' && ! test -e '$p'"
done
X sh -c 'echo garbage >>/var/log/wtmp'
check "the user added inside is not on the host" sh -c "! getent passwd cpx$$ >/dev/null"
check "the host's / is read-only inside" sh -c "! '$SDNS' exec $PID touch /usr/$probe 2>/dev/null"
before=$("$SDNS" list | sort)
check "a --bind onto a missing path off the private mounts is refused" \
        sh -c "! '$SDNS' boot --timeout 10 --bind '$WORK:/opt/$probe' >/dev/null 2>&1"
check_eq "the refused boot left no instance" "$before" "$("$SDNS" list | sort)"

# A second instance next to the first: both bind the same port in their own netns.
pid_b=$("$SDNS" boot --timeout 30)
check "a second instance boots" test -n "$pid_b"
for p in "$pid_a" "$pid_b"; do
        "$SDNS" exec "$p" systemd-run -q --unit=sdns-listen -p Type=exec \
                /usr/bin/python3 -m http.server --bind 127.0.0.1 4599 >/dev/null 2>&1 ||
                "$SDNS" exec "$p" systemd-run -q --unit=sdns-listen -p Type=exec \
                        /usr/bin/systemd-socket-activate -l 127.0.0.1:4599 /bin/true
done
check "both listen on the same port" wait_until 10 sh -c "'$SDNS' exec $pid_a ss -Hltn 'sport = :4599' | grep -q . && '$SDNS' exec $pid_b ss -Hltn 'sport = :4599' | grep -q ."
cg_b=$(cat "/run/sd-ns-boot/$pid_b/cgroup")
check "stop of the second instance succeeds" "$SDNS" stop "$pid_b"
check "its cgroup is removed" test ! -e "$cg_b"
check "its state is removed" test ! -e "/run/sd-ns-boot/$pid_b"
check "the first instance is unaffected" test "$(X systemctl is-system-running)" = running

check "stop of the first instance succeeds" "$SDNS" stop "$pid_a"
PID=""
check "its cgroup is removed" test ! -e "$cg_a"
check "its state is removed" test ! -e "/run/sd-ns-boot/$pid_a"
check "its systemd is gone" test ! -e "/proc/$pid_a"

left=$(find /etc /var /root /home /run -xdev -newer "$marker" 2>/dev/null | grep -v '^/run$' | grep -v '^/run/sd-ns-boot')
[ -n "$left" ] && echo "$left" | sed 's/^/# left: /'
check "nothing on the host is newer than the boot (find -newer)" test -z "$left"
check "no probe file reached the host anywhere" sh -c "! find /etc /root /home /var /tmp -xdev -name '$probe' 2>/dev/null | grep -q ."
check_eq "kernel.core_pattern unchanged" "$core_pattern" "$(cat /proc/sys/kernel/core_pattern)"
check_eq "the host's wtmp unchanged" "$wtmp_sum" "$(md5sum /var/log/wtmp 2>/dev/null)"

finish
