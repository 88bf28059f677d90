/* glibc's start-up for the static binary, without its CPU cache probe.
 *
 * Why: static glibc's __libc_start_main identifies the CPU and then sizes its caches with
 * CPUID leaves 2 and 4, called again for each of a dozen cache parameters. In a virtual machine
 * every CPUID is a trap to the hypervisor; here an empty static C program takes 0.54 ms to
 * start against 0.06 ms without the C library, and skiff paid that on every command (a fifth
 * of an `exec`). The answers only pick string-function variants and memcpy thresholds.
 *
 * What: the same steps, in the same order, as glibc 2.36's static __libc_start_main (csu/
 * libc-start.c, checked against the disassembly of Debian's libc.a), minus init_cpu_features.
 * The CPU feature table stays zeroed, so every IFUNC resolves to its baseline x86-64 (SSE2)
 * variant, and the cache sizes below are glibc's own defaults. Linking this file keeps
 * libc-start.o out of the link: everything the rest of libc.a needs from it is defined here.
 *
 * CMakeLists.txt links it only into the static binary and only for glibc 2.36, whose private
 * entry points these are. No stack protector here (the canary is set up half-way through),
 * and nothing the compiler could turn into a memset or memcpy before the IFUNCs are resolved. */
#include <elf.h>
#include <stdbool.h>
#include <stdint.h>

/* What libc-start.o defines for the string functions (sysdeps/x86/cacheinfo.h defaults). */
long int __x86_data_cache_size_half = 32 * 1024 / 2;
long int __x86_data_cache_size = 32 * 1024;
long int __x86_shared_cache_size_half = 1024 * 1024 / 2;
long int __x86_shared_cache_size = 1024 * 1024;
long int __x86_shared_non_temporal_threshold = 1024 * 1024 * 3 / 4;
long int __x86_rep_movsb_threshold = 2048;
long int __x86_rep_stosb_threshold = 2048;
long int __x86_rep_movsb_stop_threshold = 1024 * 1024 * 3 / 4;
int __x86_string_control;

/* glibc-internal (hidden, but linkable within a static link). */
extern char** __environ;
extern void* __libc_stack_end;
extern void* _dl_random;
extern int __libc_enable_secure;
void _dl_aux_init(Elf64_auxv_t* av);
void __tunables_init(char** env);
void _dl_relocate_static_pie(void);
void __libc_setup_tls(void);
void __pthread_initialize_minimal(void) __attribute__((weak));
int __cxa_atexit(void (*fn)(void*), void* arg, void* dso);
void __libc_early_init(bool initial);
void __libc_init_first(int argc, char** argv, char** env);
void __libc_check_standard_fds(void);
void* _dl_debug_initialize(Elf64_Addr ldbase, long ns);
void __libc_fatal(const char* message) __attribute__((noreturn));
void exit(int status) __attribute__((noreturn));

/* Linker-made tables of a static executable. */
typedef void (*init_fn)(int, char**, char**);
typedef void (*fini_fn)(void);
extern const Elf64_Rela __rela_iplt_start[] __attribute__((weak, visibility("hidden")));
extern const Elf64_Rela __rela_iplt_end[] __attribute__((weak, visibility("hidden")));
extern init_fn __preinit_array_start[] __attribute__((visibility("hidden")));
extern init_fn __preinit_array_end[] __attribute__((visibility("hidden")));
extern init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern init_fn __init_array_end[] __attribute__((visibility("hidden")));
extern fini_fn __fini_array_start[] __attribute__((visibility("hidden")));
extern fini_fn __fini_array_end[] __attribute__((visibility("hidden")));
void _init(void);
void _fini(void);

static void call_fini(void* unused) {
    (void)unused;
    for (fini_fn* f = __fini_array_end; f != __fini_array_start;) (*--f)();
    _fini();
}

static void apply_irelative(void) {
    for (const Elf64_Rela* r = __rela_iplt_start; r < __rela_iplt_end; ++r) {
        if (ELF64_R_TYPE(r->r_info) != R_X86_64_IRELATIVE)
            __libc_fatal("Unexpected reloc type in static binary.\n");
        Elf64_Addr (*resolver)(void) = (Elf64_Addr(*)(void))r->r_addend;
        *(Elf64_Addr*)r->r_offset = resolver();
    }
}

int __libc_start_main(int (*main)(int, char**, char**), int argc, char** argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void* stack_end) {
    (void)init;  // unused since glibc 2.34: the init arrays are run below
    (void)fini;
    char** env = &argv[argc + 1];
    __environ = env;
    __libc_stack_end = stack_end;
    char** p = env;
    while (*p) ++p;
    _dl_aux_init((Elf64_auxv_t*)(p + 1));
    __tunables_init(__environ);
    /* glibc runs init_cpu_features here; its table stays zeroed (see the top). */
    _dl_relocate_static_pie();
    apply_irelative();
    __libc_setup_tls();
    /* Stack protector canary and pointer guard from the kernel's AT_RANDOM bytes, with the
     * canary's low byte zero as glibc does (a string overflow cannot reproduce it). */
    uintptr_t canary = *(const uintptr_t*)_dl_random & ~(uintptr_t)0xff;
    __asm__ volatile("mov %0, %%fs:0x28" : : "r"(canary) : "memory");
    if (__pthread_initialize_minimal) __pthread_initialize_minimal();
    uintptr_t pointer_guard = ((const uintptr_t*)_dl_random)[1];
    __asm__ volatile("mov %0, %%fs:0x30" : : "r"(pointer_guard) : "memory");
    if (rtld_fini) __cxa_atexit((void (*)(void*))rtld_fini, 0, 0);
    __libc_early_init(true);
    __libc_init_first(argc, argv, __environ);
    __cxa_atexit(call_fini, 0, 0);
    if (__libc_enable_secure) __libc_check_standard_fds();
    for (init_fn* f = __preinit_array_start; f < __preinit_array_end; ++f) (*f)(argc, argv, __environ);
    _init();
    for (init_fn* f = __init_array_start; f < __init_array_end; ++f) (*f)(argc, argv, __environ);
    _dl_debug_initialize(0, 0);
    exit(main(argc, argv, __environ));
}
