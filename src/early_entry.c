/* The static binary's ELF entry point, run before the C library starts.
 *
 * create, run and exec re-execute the runtime from a read-only detached bind mount of its own
 * binary (see src/linux/sealed_exe.hpp for why). Done here, the first process never starts the
 * C library at all: glibc's start-up probes the CPU's caches with dozens of CPUID instructions
 * (each a trap to the hypervisor in a VM: ~0.25 ms per process start measured here), so a
 * re-exec from main() paid that start-up twice. Anything this cannot do (no privilege to
 * mount, an old kernel) falls through to the C library; main() then retries or falls back to
 * a sealed memfd copy.
 *
 * No C library here: raw system calls only, no stack protector, nothing that the compiler
 * could turn into a memset or memcpy call (those are IFUNCs, not resolved yet). */
#include <stddef.h>

#include "base/global_flags.h"

#define NR_OPEN 2
#define NR_CLOSE 3
#define NR_FCNTL 72
#define NR_FSTATFS 138
#define NR_EXECVEAT 322
#define NR_OPEN_TREE 428
#define NR_MOUNT_SETATTR 442

#define O_RDONLY_CLOEXEC 02000000
#define AT_FDCWD_ (-100)
#define AT_EMPTY_PATH_ 0x1000
#define OPEN_TREE_CLONE_ 1
#define OPEN_TREE_CLOEXEC_ 02000000
#define MOUNT_ATTR_RDONLY_ 0x1
#define MOUNT_ATTR_NOSUID_ 0x2
#define MOUNT_ATTR_NODEV_ 0x4
#define ST_RDONLY_ 1
#define F_GET_SEALS_ 1034
#define SEALED_ 0xf /* F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE */

static long sys6(long n, long a, long b, long c, long d, long e) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
}

/* struct statfs on x86-64: f_flags is the 10th 8-byte field. */
struct statfs_ {
    long f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int f_fsid[2];
    long f_namelen, f_frsize, f_flags, f_spare[4];
};

struct mount_attr_ {
    unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

/* Set when this image is known to run from a read-only mount or a sealed memfd, so main()
 * does not check again (sealed_exe.cpp reads it). */
int skiff_exe_sealed;

void skiff_early(long* sp) {
    long argc = sp[0];
    char** argv = (char**)(sp + 1);
    char** envp = argv + argc + 1;
    const char* cmd = skiff_command_word(argc, argv);
    if (!cmd || !(skiff_same_word(cmd, "create") || skiff_same_word(cmd, "run") || skiff_same_word(cmd, "exec"))) return;

    long fd = sys6(NR_OPEN, (long)"/proc/self/exe", O_RDONLY_CLOEXEC, 0, 0, 0);
    if (fd < 0) return;
    struct statfs_ st;
    long r = sys6(NR_FSTATFS, fd, (long)&st, 0, 0, 0);
    long seals = sys6(NR_FCNTL, fd, F_GET_SEALS_, 0, 0, 0);
    sys6(NR_CLOSE, fd, 0, 0, 0, 0);
    /* Already on a read-only mount, or main()'s sealed memfd copy: nothing to do. */
    if ((r == 0 && (st.f_flags & ST_RDONLY_)) || (seals >= 0 && (seals & SEALED_) == SEALED_)) {
        skiff_exe_sealed = 1;
        return;
    }

    long tree = sys6(NR_OPEN_TREE, AT_FDCWD_, (long)"/proc/self/exe",
                     OPEN_TREE_CLONE_ | OPEN_TREE_CLOEXEC_, 0, 0);
    if (tree < 0) return;
    struct mount_attr_ attr;
    attr.attr_set = MOUNT_ATTR_RDONLY_ | MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_;
    attr.attr_clr = 0;
    attr.propagation = 0;
    attr.userns_fd = 0;
    if (sys6(NR_MOUNT_SETATTR, tree, (long)"", AT_EMPTY_PATH_, (long)&attr, sizeof attr) == 0)
        sys6(NR_EXECVEAT, tree, (long)"", (long)argv, (long)envp, AT_EMPTY_PATH_);
    sys6(NR_CLOSE, tree, 0, 0, 0, 0);
}

/* Entry: keep the kernel's stack pointer for glibc's _start (argc, argv, envp, auxv live
 * there) and its %rdx convention (0: no dynamic-linker fini function). */
__asm__(
    ".text\n"
    ".globl skiff_entry\n"
    ".type skiff_entry,@function\n"
    "skiff_entry:\n"
    "    mov %rsp, %rbx\n"
    "    mov %rsp, %rdi\n"
    "    and $-16, %rsp\n"
    "    call skiff_early\n"
    "    mov %rbx, %rsp\n"
    "    xor %edx, %edx\n"
    "    xor %ebx, %ebx\n"
    "    jmp _start\n");
