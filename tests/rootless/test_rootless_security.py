"""Issue 16 item 7: a rootless container gets nothing its user does not already have."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import new_id

SUID_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("euid=%d\n", (int)geteuid());
    if (argc > 1) printf("open=%s\n", open(argv[1], O_WRONLY) >= 0 ? "yes" : "no");
    fflush(stdout);
    if (argc > 2) pause();
    return 0;
}
"""


@pytest.fixture(scope="session")
def suid_prog(top):
    src = os.path.join(top, "suid.c")
    with open(src, "w") as f:
        f.write(SUID_C)
    out = os.path.join(top, "suid-prog")
    subprocess.run(["gcc", "-static", "-O1", "-o", out, src], check=True)
    return out


@pytest.fixture
def root_owned(top):
    d = os.path.join(top, "root-owned-" + new_id())
    os.makedirs(d)
    os.chmod(d, 0o755)
    with open(os.path.join(d, "f"), "w") as f:
        f.write("host root's\n")
    os.chmod(os.path.join(d, "f"), 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def host_uids(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


def test_root_owned_host_files_stay_unwritable_and_show_as_overflow(as_user, rbundle, users,
                                                                    root_owned):
    u = users["owner"]
    b = rbundle(u)
    b.config["mounts"].append({"destination": "/mnt", "type": "bind", "source": root_owned,
                               "options": ["rbind", "rw"]})
    b.args("sh", "-c", "id -u; ls -ln /mnt/f | awk '{print $3, $4}'; "
           "echo x >> /mnt/f && echo wrote || echo denied; "
           "touch /mnt/new && echo made || echo denied; "
           "chown 0 /mnt/f && echo chowned || echo denied")
    out = as_user(u, ["run", "--bundle", b.path, new_id()]).stdout.split("\n")
    assert out[0] == "0"  # root in the container
    assert out[1] == "65534 65534"  # host root is not mapped: the overflow ids
    assert out[2:5] == ["denied", "denied", "denied"]
    with open(os.path.join(root_owned, "f")) as f:
        assert f.read() == "host root's\n"
    assert os.listdir(root_owned) == ["f"]


def test_container_root_is_the_user_on_the_host(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    b.args("sleep", "100")
    cid = new_id()
    as_user(u, ["run", "-d", "--bundle", b.path, cid])
    try:
        pid = json.loads(as_user(u, ["state", cid]).stdout)["pid"]
        assert host_uids(pid) == [u.uid] * 4
        # and reading what only host root may read fails from inside
        res = as_user(u, ["exec", cid, "sh", "-c", "cat /proc/1/root/../../etc/shadow; "
                          "cat /sys/kernel/security/lsm 2>/dev/null; "
                          "mknod /tmp/null c 1 3 && echo mknod || echo no-mknod"], check=False)
        assert "root:" not in res.stdout
        assert "no-mknod" in res.stdout
    finally:
        as_user(u, ["delete", "--force", cid])


def test_setuid_binary_gives_no_host_privilege(as_user, rbundle, users, suid_prog, root_owned):
    """A setuid-root binary of the host (owner unmapped) does not change the euid; one owned
    by the container's root makes container root, which is the user on the host."""
    u = users["owner"]
    b = rbundle(u)
    host_root_suid = os.path.join(b.rootfs, "bin", "suid-hostroot")
    own_suid = os.path.join(b.rootfs, "bin", "suid-own")
    for path, owner in ((host_root_suid, 0), (own_suid, u.uid)):
        shutil.copy(suid_prog, path)
        os.chown(path, owner, owner)
        os.chmod(path, 0o4755)
    subuid, subgid = u.subuid[0], u.subgid[0]
    b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": u.uid, "size": 1},
                                        {"containerID": 1, "hostID": subuid, "size": 1000}]
    b.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": u.gid, "size": 1},
                                        {"containerID": 1, "hostID": subgid, "size": 1000}]
    b.config["process"]["user"] = {"uid": 100, "gid": 100}
    b.config["process"]["noNewPrivileges"] = False
    b.config["mounts"].append({"destination": "/mnt", "type": "bind", "source": root_owned,
                               "options": ["rbind", "rw"]})
    b.args("sh", "-c", "/bin/suid-hostroot /mnt/f; /bin/suid-own /mnt/f")
    out = as_user(u, ["run", "--bundle", b.path, new_id()]).stdout.split()
    assert out == ["euid=100", "open=no", "euid=0", "open=no"]
    # the one that worked is the user on the host, nothing more
    b.args("/bin/suid-own", "/mnt/f", "wait")
    cid = new_id()
    as_user(u, ["run", "-d", "--bundle", b.path, cid])
    try:
        pid = json.loads(as_user(u, ["state", cid]).stdout)["pid"]
        uids = host_uids(pid)
        assert uids[1] == u.uid and uids[0] == subuid + 99, uids  # euid: the user; ruid: 100
    finally:
        as_user(u, ["delete", "--force", cid])


def test_state_root_of_one_user_is_closed_to_another(as_user, rbundle, users):
    a, other = users["owner"], users["other"]
    b = rbundle(a)
    b.args("true")
    as_user(a, ["run", "--bundle", b.path, new_id()])
    st = os.stat(a.state_root)
    assert st.st_mode & 0o077 == 0 and st.st_uid == a.uid
    res = subprocess.run(["runuser", "-u", other.name, "--", "ls", a.state_root],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "ermission denied" in res.stderr
