"""The device cgroup decides which device nodes a container may open: linux.resources.devices
plus runc's small default set (null, zero, full, random, urandom, tty, ptmx, pts, and mknod of
anything). linux.devices only makes nodes; listing one grants no access to it, so a config's
explicit deny stays a deny (runc and crun agree). /dev/kmsg (1:11) is in no default list.

The tests only open the node (never read or write through it), so a runtime with the hole
does not write to the host's kernel log."""

import pytest

KMSG = {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666}
PROBE = ("stat -c '%t:%T' /dev/kmsg; "
         "(exec 3>/dev/kmsg) 2>/dev/null && echo write-opened || echo write-denied; "
         "(exec 3</dev/kmsg) 2>/dev/null && echo read-opened || echo read-denied")


@pytest.mark.parametrize("rules", [
    [{"allow": False, "access": "rwm"}],
    [{"allow": False, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 11,
                                        "access": "rw"}],
    None,
], ids=["deny-all", "deny-all-and-kmsg", "no-rules"])
def test_listed_device_is_not_opened_against_the_rules(rt, bundle, rules):
    """/dev/kmsg listed in linux.devices, with a deny-all rule (docker's and `runc spec`'s
    first rule), with an explicit deny of it, or with no rules at all: the node is made
    (1:11), and opening it for writing or reading fails. (The process holds CAP_SYSLOG, so
    only the device cgroup can refuse the read.)"""
    bundle.config["linux"]["devices"] = [dict(KMSG)]
    for kind in ("bounding", "effective", "permitted"):
        bundle.config["process"]["capabilities"][kind].append("CAP_SYSLOG")
    if rules is not None:
        bundle.config["linux"]["resources"] = {"devices": rules}
    out = rt.sh(bundle, PROBE)
    assert out.split() == ["1:b", "write-denied", "read-denied"], out
