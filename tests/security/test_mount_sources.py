"""Bind sources in a user namespace. A source the container's mapped root cannot reach is
cloned by the runtime as host root (as runc does); that must not give the container more than
its own clone would: the host mounts below the source stay locked (no remount read-write, no
unmount that reveals what they cover)."""

import os
import subprocess

import pytest

CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"]


@pytest.mark.parametrize("reachable", [True, False], ids=["reachable", "host-root-only"])
def test_host_mounts_below_a_bind_source_stay_locked(rt, bundle, host_dir, reachable):
    top = host_dir("top")
    data = os.path.join(top, "data")
    sub = os.path.join(data, "sub")
    os.makedirs(sub)
    with open(os.path.join(sub, "covered"), "w") as f:
        f.write("covered\n")
    cover = host_dir("cover")
    with open(os.path.join(cover, "shown"), "w") as f:
        f.write("shown\n")
    subprocess.check_call(["mount", "--bind", cover, sub])
    try:
        subprocess.check_call(["mount", "-o", "remount,bind,ro", sub])
        os.chmod(top, 0o755 if reachable else 0o700)
        bundle.ns("user")
        bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        bundle.config["process"]["capabilities"] = {k: list(CAPS) for k in
                                                    ("bounding", "effective", "permitted")}
        os.makedirs(bundle.in_rootfs("/mnt/data"))
        bundle.config["mounts"].append({"destination": "/mnt/data", "type": "bind",
                                        "source": data, "options": ["rbind"]})
        out = rt.sh(bundle, "ls /mnt/data/sub; "
                            "mount -o remount,rw,bind /mnt/data/sub 2>/dev/null && echo RW; "
                            "umount /mnt/data/sub 2>/dev/null && echo UNMOUNTED; "
                            "ls /mnt/data/sub; touch /mnt/data/sub/x 2>/dev/null && echo WROTE; true")
        assert out.split() == ["shown", "shown"], out
        assert os.listdir(cover) == ["shown"]
    finally:
        subprocess.call(["umount", sub])
