/* skiff's global flags: the one list. The CLI parses them (src/cli/cli.cpp), and two parsers
 * that run before it find the command word with them: src/early_entry.c (before the C library)
 * and src/linux/sealed_exe.cpp. A flag listed here with a value is skipped with its value by
 * both, so a new flag that takes one cannot make them misread the command word.
 *
 * C, not C++: early_entry.c includes it. Nothing here may call the C library.
 *
 * SKIFF_GLOBAL_FLAGS(X) calls X(long name, short name or "", takes a value, help) per flag, in
 * the order --help prints them. */
#ifndef SKIFF_BASE_GLOBAL_FLAGS_H
#define SKIFF_BASE_GLOBAL_FLAGS_H

#define SKIFF_GLOBAL_FLAGS(X)                                                                     \
    X("root", "", 1, "root directory for storage of container state (default: \"/run/skiff\", or \"$XDG_RUNTIME_DIR/skiff\" for a normal user)")   \
    X("log", "", 1, "set the log file to write skiff logs to (default is stderr)")                \
    X("log-format", "", 1, "set the log format ('text' (default), or 'json')")                    \
    X("debug", "", 0, "enable debug logging, with a timeline of create's phases")                 \
    X("systemd-cgroup", "", 0, "enable systemd cgroup support (errors while no systemd is reachable)") \
    X("rootless", "", 1, "ignore cgroup permission errors ('true', 'false', or 'auto')")          \
    X("criu", "", 1, "path to the criu binary used for checkpoint and restore (default: \"criu\")")\
    X("version", "v", 0, "print the version")                                                     \
    X("help", "h", 0, "show help")

static inline int skiff_same_word(const char* a, const char* b) {
    while (*a && *a == *b) {
        ++a;
        ++b;
    }
    return *a == *b;
}

static inline int skiff_has_equals(const char* s) {
    for (; *s; ++s)
        if (*s == '=') return 1;
    return 0;
}

/* Whether `name` (without dashes) is a global flag that takes its value from the next
 * argument. */
static inline int skiff_global_flag_takes_value(const char* name) {
#define SKIFF_FLAG_WITH_VALUE_(long_name, short_name, takes_value, help) \
    if (takes_value && (skiff_same_word(name, long_name) || (short_name[0] && skiff_same_word(name, short_name)))) \
        return 1;
    SKIFF_GLOBAL_FLAGS(SKIFF_FLAG_WITH_VALUE_)
#undef SKIFF_FLAG_WITH_VALUE_
    return 0;
}

/* The command word: the first argument that is neither a global flag nor a global flag's
 * value; 0 when there is none. */
static inline const char* skiff_command_word(long argc, char** argv) {
    for (long i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (a[0] != '-') return a;
        while (*a == '-') ++a;
        if (!skiff_has_equals(a) && skiff_global_flag_takes_value(a)) ++i;
    }
    return 0;
}

#endif
