/* Prints the errno of each syscall number given, called with no arguments: what a seccomp
 * filter answers for a syscall it may not know (tests/integration/test_seccomp.py). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        errno = 0;
        long rc = syscall(atol(argv[i]), 0, 0, 0, 0, 0, 0);
        printf("%s %d\n", argv[i], rc < 0 ? errno : 0);
    }
    return 0;
}
