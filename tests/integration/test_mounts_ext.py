"""Mount extensions: tmpcopyup (podman's `--tmpfs`) and idmapped bind mounts
(config.md mounts[].uidMappings / gidMappings, options idmap / ridmap).

tmpcopyup tests also pass against runc 1.1.5; runc 1.1.5 has no idmapped mounts, so those are
skiff-only (they follow runc 1.2's tests/integration/idmap.bats in what they check)."""

import json
import os
import subprocess

import pytest

USERNS_MAPS = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def mountinfo_fstype(out, mountpoint):
    """The filesystem type of mountpoint in a mountinfo dump (the field after " - ")."""
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == mountpoint:
            return fields[fields.index("-") + 1]
    return None


def with_userns(bundle):
    bundle.ns("user")
    bundle.config["linux"]["uidMappings"] = list(USERNS_MAPS)
    bundle.config["linux"]["gidMappings"] = list(USERNS_MAPS)
    return bundle


# ---------------------------------------------------------------------------------------------
# tmpcopyup


def make_image_dir(bundle):
    """/opt/app in the image: a file, a subdirectory, a symlink, a hard link, odd modes,
    owners and times. Returns the host path."""
    top = bundle.in_rootfs("/opt/app")
    os.makedirs(os.path.join(top, "sub", "deeper"))
    with open(os.path.join(top, "file"), "w") as f:
        f.write("from the image\n")
    with open(os.path.join(top, "sub", "deeper", "leaf"), "w") as f:
        f.write("leaf\n")
    # (the container's root has no CAP_DAC_OVERRIDE: "owned" is only stat'ed, never read)
    with open(os.path.join(top, "owned"), "w") as f:
        f.write("owned\n")
    os.chmod(os.path.join(top, "owned"), 0o2640)
    os.chown(os.path.join(top, "owned"), 1000, 100)
    os.chmod(os.path.join(top, "owned"), 0o2640)  # chown cleared the set-gid bit
    os.symlink("file", os.path.join(top, "link"))
    os.link(os.path.join(top, "file"), os.path.join(top, "hardlink"))
    os.chmod(os.path.join(top, "sub"), 0o750)
    os.utime(os.path.join(top, "owned"), (1000000000, 1000000000))
    os.utime(os.path.join(top, "sub"), (1100000000, 1100000000))
    os.chmod(top, 0o751)
    return top


def tmpfs_copyup(dest, *extra):
    return {"destination": dest, "type": "tmpfs", "source": "tmpfs",
            "options": ["tmpcopyup", "nosuid", "nodev", *extra]}


def test_tmpcopyup_is_a_tmpfs(rt, bundle):
    make_image_dir(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app"))
    out = rt.sh(bundle, "cat /proc/self/mountinfo")
    assert mountinfo_fstype(out, "/opt/app") == "tmpfs"


def test_tmpcopyup_copies_content(rt, bundle):
    make_image_dir(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app"))
    out = rt.sh(bundle, "cd /opt/app && cat file && cat sub/deeper/leaf && readlink link")
    assert out.splitlines() == ["from the image", "leaf", "file"]


def test_tmpcopyup_keeps_modes_owners_links(rt, bundle):
    make_image_dir(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app"))
    out = rt.sh(bundle, "cd /opt/app && stat -c '%n %a %u %g' owned sub . && stat -c %F link")
    assert out.splitlines() == ["owned 2640 1000 100", "sub 750 0 0", ". 751 0 0",
                                "symbolic link"]


@pytest.mark.skiff_only("runc 1.1.5 copies hard links as separate files")
def test_tmpcopyup_keeps_hard_links(rt, bundle):
    make_image_dir(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app"))
    out = rt.sh(bundle, "cd /opt/app && stat -c %i file hardlink && stat -c %h file")
    inode_a, inode_b, links = out.split()
    assert inode_a == inode_b and links == "2"


@pytest.mark.skiff_only("runc 1.1.5 does not keep modification times in the copy")
def test_tmpcopyup_keeps_times(rt, bundle):
    make_image_dir(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app"))
    out = rt.sh(bundle, "cd /opt/app && stat -c '%n %Y' owned sub")
    assert out.splitlines() == ["owned 1000000000", "sub 1100000000"]


def test_tmpcopyup_writes_stay_in_the_tmpfs(rt, bundle):
    top = make_image_dir(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app"))
    rt.sh(bundle, "echo changed > /opt/app/file && touch /opt/app/new && "
                  "grep -q changed /opt/app/file")
    with open(os.path.join(top, "file")) as f:
        assert f.read() == "from the image\n"
    assert not os.path.exists(os.path.join(top, "new"))


@pytest.mark.skiff_only("runc 1.1.5 gives the tmpfs root the image dir's mode even over mode=")
def test_tmpcopyup_mode_option_wins_for_the_root(rt, bundle):
    make_image_dir(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app", "mode=700"))
    out = rt.sh(bundle, "stat -c %a /opt/app && cat /opt/app/file")
    assert out.splitlines() == ["700", "from the image"]


def test_tmpcopyup_readonly(rt, bundle):
    make_image_dir(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app", "ro"))
    out = rt.sh(bundle, "cat /opt/app/file; touch /opt/app/x 2>/dev/null && echo rw || echo ro")
    assert out.splitlines() == ["from the image", "ro"]


def test_tmpcopyup_missing_destination_is_an_empty_tmpfs(rt, bundle):
    bundle.config["mounts"].append(tmpfs_copyup("/not/there"))
    out = rt.sh(bundle, "ls -A /not/there | wc -l; cat /proc/self/mountinfo")
    assert out.splitlines()[0].strip() == "0"
    assert mountinfo_fstype(out, "/not/there") == "tmpfs"


def test_tmpcopyup_does_not_follow_a_symlinked_destination_out(rt, bundle, host_dir):
    # /opt/esc -> /<host dir>: resolved inside the rootfs, so the copy reads the image's
    # (missing) directory, never the host's.
    secret_dir = host_dir("secret")
    with open(os.path.join(secret_dir, "secret"), "w") as f:
        f.write("host secret\n")
    os.makedirs(bundle.in_rootfs("/opt"), exist_ok=True)
    os.symlink(secret_dir, bundle.in_rootfs("/opt/esc"))
    bundle.config["mounts"].append(tmpfs_copyup("/opt/esc"))
    rc, out, err = rt.run_container(bundle.args("cat /opt/esc/secret 2>&1; true"))
    assert "host secret" not in out
    assert os.listdir(secret_dir) == ["secret"]


def test_tmpcopyup_in_user_namespace(rt, bundle):
    top = make_image_dir(bundle)
    # The image as a user-namespaced container sees it: owned by its own root.
    for dirpath, dirnames, filenames in os.walk(bundle.rootfs):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), 100000, 100000)
    os.lchown(bundle.rootfs, 100000, 100000)
    os.chown(os.path.join(top, "owned"), 101000, 100100)
    with_userns(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app"))
    out = rt.sh(bundle, "stat -c '%u %g %a' /opt/app/owned /opt/app; cat /opt/app/file")
    assert out.splitlines() == ["1000 100 2640", "0 0 751", "from the image"]


# ---------------------------------------------------------------------------------------------
# idmapped mounts


def idmap_source(host_dir):
    """A host directory with files owned by 0:0 and 1:1."""
    src = host_dir("idmap-src")
    for name, owner in (("root-file", 0), ("one-file", 1)):
        path = os.path.join(src, name)
        with open(path, "w") as f:
            f.write(name + "\n")
        os.chown(path, owner, owner)
    return src


def mountpoint(bundle, dest):
    """Makes dest in the image (the userns root cannot mkdir in a host-owned rootfs)."""
    os.makedirs(bundle.in_rootfs(dest), exist_ok=True)


def bind(src, dest, maps=None, options=("bind",)):
    m = {"destination": dest, "type": "bind", "source": src, "options": list(options)}
    if maps is not None:
        m["uidMappings"] = maps
        m["gidMappings"] = maps
    return m


@pytest.mark.skiff_only("runc 1.1.5 has no idmapped mounts")
def test_idmap_files_owned_per_mapping_in_userns(rt, bundle, host_dir):
    src = idmap_source(host_dir)
    with_userns(bundle)
    mountpoint(bundle, "/mnt/idmapped")
    bundle.config["mounts"].append(bind(src, "/mnt/idmapped", USERNS_MAPS))
    out = rt.sh(bundle, "stat -c '%n %u %g' /mnt/idmapped/root-file /mnt/idmapped/one-file")
    assert out.splitlines() == ["/mnt/idmapped/root-file 0 0", "/mnt/idmapped/one-file 1 1"]


@pytest.mark.skiff_only("runc 1.1.5 has no idmapped mounts")
def test_idmap_mapping_shifts_owners(rt, bundle, host_dir):
    # The mount maps on-disk 0 to host 100001, which is uid 1 in the container.
    src = idmap_source(host_dir)
    with_userns(bundle)
    shifted = [{"containerID": 0, "hostID": 100001, "size": 65535}]
    mountpoint(bundle, "/mnt/idmapped")
    bundle.config["mounts"].append(bind(src, "/mnt/idmapped", shifted))
    out = rt.sh(bundle, "stat -c '%u %g' /mnt/idmapped/root-file /mnt/idmapped/one-file")
    assert out.splitlines() == ["1 1", "2 2"]


@pytest.mark.skiff_only("runc 1.1.5 has no idmapped mounts")
def test_idmap_without_mapping_shows_overflow_ids(rt, bundle, host_dir):
    # The control: the same source bound plainly is owned by ids the userns does not map.
    src = idmap_source(host_dir)
    with_userns(bundle)
    mountpoint(bundle, "/mnt/plain")
    bundle.config["mounts"].append(bind(src, "/mnt/plain"))
    out = rt.sh(bundle, "stat -c '%u' /mnt/plain/root-file")
    assert out.strip() == "65534"


@pytest.mark.skiff_only("runc 1.1.5 has no idmapped mounts")
def test_idmap_option_takes_the_container_mapping(rt, bundle, host_dir):
    src = idmap_source(host_dir)
    with_userns(bundle)
    mountpoint(bundle, "/mnt/idmapped")
    bundle.config["mounts"].append(bind(src, "/mnt/idmapped", options=("bind", "idmap")))
    out = rt.sh(bundle, "stat -c '%u %g' /mnt/idmapped/root-file /mnt/idmapped/one-file")
    assert out.splitlines() == ["0 0", "1 1"]


@pytest.mark.skiff_only("runc 1.1.5 has no idmapped mounts")
def test_idmap_writes_land_as_unmapped_host_ids(rt, bundle, host_dir):
    # A file the container's root creates is stored as on-disk 0, not as host 100000.
    src = idmap_source(host_dir)
    with_userns(bundle)
    mountpoint(bundle, "/mnt/idmapped")
    bundle.config["mounts"].append(bind(src, "/mnt/idmapped", USERNS_MAPS))
    rt.sh(bundle, "echo x > /mnt/idmapped/new")
    st = os.stat(os.path.join(src, "new"))
    assert (st.st_uid, st.st_gid) == (0, 0)


@pytest.mark.skiff_only("runc 1.1.5 has no idmapped mounts")
def test_idmap_without_container_userns(rt, bundle, host_dir):
    src = idmap_source(host_dir)
    mountpoint(bundle, "/mnt/idmapped")
    bundle.config["mounts"].append(bind(src, "/mnt/idmapped", USERNS_MAPS))
    out = rt.sh(bundle, "stat -c '%u' /mnt/idmapped/root-file /mnt/idmapped/one-file")
    assert out.splitlines() == ["100000", "100001"]


@pytest.mark.skiff_only("runc 1.1.5 has no idmapped mounts")
def test_idmap_readonly_flag_kept(rt, bundle, host_dir):
    src = idmap_source(host_dir)
    with_userns(bundle)
    mountpoint(bundle, "/mnt/idmapped")
    bundle.config["mounts"].append(bind(src, "/mnt/idmapped", USERNS_MAPS, ("bind", "ro")))
    out = rt.sh(bundle, "stat -c %u /mnt/idmapped/root-file; "
                        "touch /mnt/idmapped/x 2>/dev/null && echo rw || echo ro")
    assert out.splitlines() == ["0", "ro"]
    assert not os.path.exists(os.path.join(src, "x"))


@pytest.mark.skiff_only("runc 1.1.5 has no idmapped mounts")
def test_ridmap_maps_submounts(rt, bundle, host_dir, workdir):
    src = idmap_source(host_dir)
    sub = host_dir("idmap-sub")
    with open(os.path.join(sub, "inner"), "w") as f:
        f.write("inner\n")
    os.makedirs(os.path.join(src, "sub"))
    # A submount inside the source, on the host; unmounted again below.
    subprocess.run(["mount", "--bind", sub, os.path.join(src, "sub")], check=True)
    try:
        with_userns(bundle)
        mountpoint(bundle, "/mnt/r")
        mountpoint(bundle, "/mnt/i")
        bundle.config["mounts"].append(
            bind(src, "/mnt/r", USERNS_MAPS, ("rbind", "ridmap")))
        bundle.config["mounts"].append(
            bind(src, "/mnt/i", USERNS_MAPS, ("rbind", "idmap")))
        out = rt.sh(bundle, "stat -c %u /mnt/r/sub/inner /mnt/i/root-file /mnt/i/sub/inner")
        assert out.splitlines() == ["0", "0", "65534"]
    finally:
        subprocess.run(["umount", os.path.join(src, "sub")], check=True)


@pytest.mark.skiff_only("runc 1.1.5 reports no mountExtensions")
def test_features_reports_idmap(rt):
    doc = json.loads(rt.run(["features"]).stdout)
    assert doc["linux"]["mountExtensions"]["idmap"]["enabled"] is True
    for opt in ("idmap", "ridmap", "tmpcopyup"):
        assert opt in doc["mountOptions"]


# ---------------------------------------------------------------------------------------------
# configs that must be refused before anything is made


def bad_create(rt, bundle):
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert rt.state(cid, check=False) is None
    return res.stderr


@pytest.mark.skiff_only("runc 1.1.5 ignores mount mappings")
def test_mappings_on_a_tmpfs_refused(rt, bundle):
    m = tmpfs_copyup("/opt/app")
    m["uidMappings"] = m["gidMappings"] = USERNS_MAPS
    bundle.config["mounts"].append(m)
    err = bad_create(rt, bundle)
    i = len(bundle.config["mounts"]) - 1
    assert f"mounts[{i}].uidMappings" in err and "bind mounts" in err


@pytest.mark.skiff_only("runc 1.1.5 ignores mount mappings")
def test_uid_mappings_without_gid_mappings_refused(rt, bundle, host_dir):
    m = bind(host_dir("s"), "/mnt/x")
    m["uidMappings"] = USERNS_MAPS
    bundle.config["mounts"].append(m)
    err = bad_create(rt, bundle)
    assert f"mounts[{len(bundle.config['mounts']) - 1}].gidMappings" in err


@pytest.mark.skiff_only("runc 1.1.5 ignores mount mappings")
def test_overlapping_mount_mappings_refused(rt, bundle, host_dir):
    maps = [{"containerID": 0, "hostID": 100000, "size": 100},
            {"containerID": 50, "hostID": 300000, "size": 100}]
    bundle.config["mounts"].append(bind(host_dir("s"), "/mnt/x", maps))
    err = bad_create(rt, bundle)
    assert f"mounts[{len(bundle.config['mounts']) - 1}].uidMappings[1]" in err
    assert "overlaps" in err


@pytest.mark.skiff_only("runc 1.1.5 ignores mount mappings")
def test_zero_size_mount_mapping_refused(rt, bundle, host_dir):
    maps = [{"containerID": 0, "hostID": 100000, "size": 0}]
    bundle.config["mounts"].append(bind(host_dir("s"), "/mnt/x", maps))
    err = bad_create(rt, bundle)
    assert f"mounts[{len(bundle.config['mounts']) - 1}].uidMappings[0].size" in err


@pytest.mark.skiff_only("runc 1.1.5 has no idmap option")
def test_idmap_option_without_userns_or_mappings_refused(rt, bundle, host_dir):
    bundle.config["mounts"].append(bind(host_dir("s"), "/mnt/x", options=("bind", "idmap")))
    err = bad_create(rt, bundle)
    assert f"mounts[{len(bundle.config['mounts']) - 1}].options" in err
    assert "user namespace" in err


@pytest.mark.skiff_only("runc 1.1.5 has no idmap option")
def test_idmap_option_on_a_tmpfs_refused(rt, bundle):
    with_userns(bundle)
    bundle.config["mounts"].append(tmpfs_copyup("/opt/app", "idmap"))
    err = bad_create(rt, bundle)
    assert f"mounts[{len(bundle.config['mounts']) - 1}].options" in err
    assert "bind mounts" in err
