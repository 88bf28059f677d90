"""Every test that `make test` may skip (or mark xfail), by suite, with the reason: the one
place that names them. tests/run_all.py fails the run when a suite skips a test that is not
listed here, so a test that silently stops running is a failure, not a quieter green.

Keys are `module::test` as the suite's JUnit report names them (pytest: the dotted module path,
then the test name with its parameters; gtest through ctest: `Suite.Test`). A key may use
fnmatch wildcards. An entry that did not skip costs nothing: hosts differ, and the list says
what may be missing, not what must be.
"""

V1_HOST_ONLY = "the guest is a pure cgroup v2 host: this checks a v1 controller"

EXPECTED = {
    "unit": {},
    "harness": {},
    "systemd-vm": {
        "*test_clients_systemd::test_docker_systemd_lifecycle":
            "dockerd could not start in the systemd guest (the skip message has its last log line)",
    },
    "vm-isolation": {},
    "criu-vm": {},
    "cgroup-v2-vm": {
        "tests.integration.test_cgroups::test_memory_v1_only_knobs": V1_HOST_ONLY,
        "tests.integration.test_cgroups::test_memory_use_hierarchy_v1": V1_HOST_ONLY,
        "tests.integration.test_cgroups::test_devices_list_on_v1": V1_HOST_ONLY,
        "tests.integration.test_cgroups::test_linux_devices_get_no_rule_at_create_or_update":
            V1_HOST_ONLY,
        "tests.integration.test_cgroups::test_update_device_rules_replace_the_configs_under_the_defaults":
            V1_HOST_ONLY,
        "tests.integration.test_cgroups::test_unified_keys_reach_the_v2_mount_of_a_hybrid_host":
            "the guest is not a hybrid host: there is no v2 mount beside v1 hierarchies",
        "tests.integration.test_cgroups::test_rdma_without_controller_is_a_clear_error":
            "the guest's kernel has the rdma controller, so there is no refusal to check",
    },
    "integration": {
        "tests.integration.test_checkpoint::test_checkpoint_and_restore_refuse_where_criu_cannot_work":
            "CRIU works on this kernel: there is no refusal to check (tests/vm/criu covers the working case)",
        "tests.integration.test_cgroups::test_blkio_weight":
            "this host's disks use an I/O scheduler without blkio.weight (mq-deadline/none)",
        "tests.integration.test_cgroups::test_blkio_weight_device":
            "per-device weights need bfq, which this host's disks do not use",
        "tests.integration.test_cgroups::test_unified_keys_on_v2":
            "linux.resources.unified needs a pure cgroup v2 host (the cgroup-v2-vm tier runs it)",
        "tests.integration.test_conformance::test_linux_uid_mappings_only":
            "xfail: like runc, skiff wants gidMappings with a new user namespace",
        "tests.integration.test_rootfs::test_rootfs_propagation_host_mount_seen[rshared-True]":
            "xfail: pivot_root refuses a rootfs in the host's peer group, so an rshared rootfs "
            "gets a peer group of its own (runc 1.1.5 alike)",
    },
    "security": {},
    "packaging": {},
    "clients": {},
    "fuzz-smoke": {},
    "bench-smoke": {},
}
