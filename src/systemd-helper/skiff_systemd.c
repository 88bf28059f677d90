/* skiff-systemd: the D-Bus half of skiff's systemd cgroup driver.
 *
 * skiff is a static binary (it starts faster without the dynamic loader), and Debian ships
 * libsystemd only as a shared library. So the conversation with systemd lives here, in a
 * small dynamically linked companion that skiff starts beside itself and talks to over a
 * pipe (src/cgroups/systemd_client.cpp). It connects to the bus as soon as it starts, so that
 * work overlaps with skiff's own.
 *
 *   skiff-systemd start UNIT   stdin: property lines, then "PID <n>" (the container's init)
 *   skiff-systemd start -      the same, after a first line "UNIT <name>": skiff starts it
 *                              before it has read the config, so that this program's start
 *                              and its connection overlap with skiff's own work
 *   skiff-systemd set UNIT     stdin: property lines, then "END"
 *   skiff-systemd stop UNIT    stops the unit (waiting for the job) and resets its failed state
 *   skiff-systemd stop-idle UNIT  the same with job mode "fail": a parent slice that skiff
 *                              found empty, left alone if a job for a unit in it is queued
 *
 * A property line is "Name signature value" (encoding: src/cgroups/systemd_props.hpp).
 * The answer on stdout is one line: "OK" or "ERR <message>". `start` that reads end-of-file
 * before its PID line (skiff died during create) exits without touching systemd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#define DEST "org.freedesktop.systemd1"
#define PATH "/org/freedesktop/systemd1"
#define IFACE "org.freedesktop.systemd1.Manager"
#define TIMEOUT_USEC (30ULL * 1000000ULL)

static char errbuf[4096];

static int fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* %XX-unescapes s in place. */
static int unescape(char* s) {
    char* o = s;
    for (char* p = s; *p; ++p) {
        if (*p == '%') {
            int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
            if (l < 0) return -1;
            *o++ = (char)(h * 16 + l);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return 0;
}

static int append_number(sd_bus_message* m, char type, const char* v) {
    char* end;
    errno = 0;
    if (type == 'n' || type == 'i' || type == 'x') {
        long long n = strtoll(v, &end, 10);
        if (errno || *end) return -EINVAL;
        if (type == 'n') { int16_t x = (int16_t)n; return sd_bus_message_append_basic(m, type, &x); }
        if (type == 'i') { int32_t x = (int32_t)n; return sd_bus_message_append_basic(m, type, &x); }
        int64_t x = n;
        return sd_bus_message_append_basic(m, type, &x);
    }
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end) return -EINVAL;
    if (type == 'y') { uint8_t x = (uint8_t)n; return sd_bus_message_append_basic(m, type, &x); }
    if (type == 'q') { uint16_t x = (uint16_t)n; return sd_bus_message_append_basic(m, type, &x); }
    if (type == 'u') { uint32_t x = (uint32_t)n; return sd_bus_message_append_basic(m, type, &x); }
    uint64_t x = n;
    return sd_bus_message_append_basic(m, type, &x);
}

/* "k=v,k=v" as a(st) or a(ss). */
static int append_pairs(sd_bus_message* m, const char* sig, char* v) {
    int r = sd_bus_message_open_container(m, 'a', sig[2] == 's' && sig[3] == 't' ? "(st)" : "(ss)");
    if (r < 0) return r;
    int numeric = strcmp(sig, "a(st)") == 0;
    char* save = NULL;
    for (char* item = strtok_r(v, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char* eq = strchr(item, '=');
        if (!eq) return -EINVAL;
        *eq = 0;
        char* val = eq + 1;
        if (unescape(item) < 0 || unescape(val) < 0) return -EINVAL;
        if (numeric) {
            char* end;
            errno = 0;
            uint64_t n = strtoull(val, &end, 10);
            if (errno || *end) return -EINVAL;
            r = sd_bus_message_append(m, "(st)", item, n);
        } else {
            r = sd_bus_message_append(m, "(ss)", item, val);
        }
        if (r < 0) return r;
    }
    return sd_bus_message_close_container(m);
}

static int append_property(sd_bus_message* m, char* line) {
    char* name = line;
    char* sig = strchr(name, ' ');
    if (!sig) return fail("malformed property line");
    *sig++ = 0;
    char* value = strchr(sig, ' ');
    if (!value) return fail("malformed property line for %s", name);
    *value++ = 0;
    int r = sd_bus_message_open_container(m, 'r', "sv");
    if (r >= 0) r = sd_bus_message_append(m, "s", name);
    if (r >= 0) r = sd_bus_message_open_container(m, 'v', sig);
    if (r < 0) return fail("property %s: %s", name, strerror(-r));
    if (strcmp(sig, "b") == 0) {
        r = sd_bus_message_append(m, "b", strcmp(value, "1") == 0);
    } else if (strlen(sig) == 1 && strchr("ynqiuxt", sig[0])) {
        r = append_number(m, sig[0], value);
    } else if (strcmp(sig, "s") == 0) {
        r = unescape(value) < 0 ? -EINVAL : sd_bus_message_append(m, "s", value);
    } else if (strcmp(sig, "as") == 0) {
        r = sd_bus_message_open_container(m, 'a', "s");
        char* save = NULL;
        for (char* it = strtok_r(value, ",", &save); r >= 0 && it; it = strtok_r(NULL, ",", &save))
            r = unescape(it) < 0 ? -EINVAL : sd_bus_message_append(m, "s", it);
        if (r >= 0) r = sd_bus_message_close_container(m);
    } else if (strcmp(sig, "ay") == 0) {
        size_t n = strlen(value) / 2;
        uint8_t buf[8192];
        if (n > sizeof buf || strlen(value) % 2) return fail("property %s: bad byte array", name);
        for (size_t i = 0; i < n; ++i) {
            int h = hexval(value[2 * i]), l = hexval(value[2 * i + 1]);
            if (h < 0 || l < 0) return fail("property %s: bad byte array", name);
            buf[i] = (uint8_t)(h * 16 + l);
        }
        r = sd_bus_message_append_array(m, 'y', buf, n);
    } else if (strcmp(sig, "a(st)") == 0 || strcmp(sig, "a(ss)") == 0) {
        r = append_pairs(m, sig, value);
    } else {
        return fail("property %s: unsupported signature %s", name, sig);
    }
    if (r >= 0) r = sd_bus_message_close_container(m);
    if (r >= 0) r = sd_bus_message_close_container(m);
    if (r < 0) return fail("property %s=%s: %s", name, value, strerror(-r));
    return 0;
}

/* The request: property lines up to the terminating line, which is returned in *last. */
static int read_request(char*** lines, size_t* count, char** last) {
    char* line = NULL;
    size_t cap = 0;
    ssize_t n;
    *lines = NULL;
    *count = 0;
    *last = NULL;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n') line[n - 1] = 0;
        if (strncmp(line, "PID ", 4) == 0 || strcmp(line, "END") == 0) {
            *last = line;
            return 0;
        }
        *lines = realloc(*lines, (*count + 1) * sizeof(char*));
        (*lines)[(*count)++] = strdup(line);
    }
    free(line);
    return 0;
}

/* systemd's own socket first, when root may use it (systemctl does the same): no bus daemon
 * between us and systemd means no Hello and AddMatch round trips and one hop per message
 * instead of two; systemd sends its job signals to every direct connection. The system bus
 * (dbus-daemon) is the fallback, e.g. where the socket is not reachable. */
static sd_bus* connect_private(int* err) {
    sd_bus* bus = NULL;
    int r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
    if (r >= 0) r = sd_bus_start(bus);
    if (r >= 0) return bus;
    sd_bus_unref(bus);
    *err = r;
    return NULL;
}

/* The user's manager (skiff's rootless --systemd-cgroup; src/cgroups/systemd_user.hpp says
 * where the addresses come from): its own socket first, as `systemctl --user` does, else the
 * user's bus. Through a bus daemon systemd sends its job signals only to subscribers, so that
 * connection subscribes. */
static sd_bus* connect_user(const char* private_address, const char* bus_address) {
    sd_bus* bus = NULL;
    int r_private = -ENOENT, r_bus = -ENOENT;
    if (private_address) {
        r_private = sd_bus_new(&bus);
        if (r_private >= 0) r_private = sd_bus_set_address(bus, private_address);
        if (r_private >= 0) r_private = sd_bus_start(bus);
        if (r_private >= 0) return bus;
        bus = sd_bus_unref(bus);
    }
    if (bus_address) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        r_bus = sd_bus_new(&bus);
        if (r_bus >= 0) r_bus = sd_bus_set_address(bus, bus_address);
        if (r_bus >= 0) r_bus = sd_bus_set_bus_client(bus, 1);
        if (r_bus >= 0) r_bus = sd_bus_start(bus);
        if (r_bus >= 0) r_bus = sd_bus_call_method(bus, DEST, PATH, IFACE, "Subscribe", &e, NULL, "");
        sd_bus_error_free(&e);
        if (r_bus >= 0) return bus;
        sd_bus_unref(bus);
    }
    fail("cannot connect to the user's systemd (%s: %s; %s: %s)",
         private_address ? private_address : "its own socket", strerror(-r_private),
         bus_address ? bus_address : "the user bus", strerror(-r_bus));
    return NULL;
}

static sd_bus* connect_bus(void) {
    int r_private = -EPERM, r_system;
    sd_bus* bus = NULL;
    const char *user_private = getenv("SKIFF_SYSTEMD_USER_PRIVATE"), *user_bus = getenv("SKIFF_SYSTEMD_USER_BUS");
    if (user_private || user_bus) return connect_user(user_private, user_bus);
    if (geteuid() == 0 && (bus = connect_private(&r_private))) return bus;
    r_system = sd_bus_open_system(&bus);
    if (r_system >= 0) return bus;
    fail("cannot connect to systemd over D-Bus (system bus: %s; /run/systemd/private: %s)",
         strerror(-r_system), strerror(-r_private));
    return NULL;
}

struct job_wait {
    const char* path;
    char result[64];
    int done;
};

static int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error* e) {
    struct job_wait* w = userdata;
    uint32_t id;
    const char *path, *unit, *result;
    if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
    if (w->path && strcmp(path, w->path) == 0) {
        snprintf(w->result, sizeof w->result, "%s", result);
        w->done = 1;
    }
    return 0;
}

static uint64_t now_usec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static int wait_job(sd_bus* bus, struct job_wait* w, const char* unit) {
    uint64_t deadline = now_usec() + TIMEOUT_USEC;
    while (!w->done) {
        int r = sd_bus_process(bus, NULL);
        if (r < 0) return fail("waiting for the job of %s: %s", unit, strerror(-r));
        if (r > 0) continue;
        uint64_t now = now_usec();
        if (now >= deadline) return fail("timed out waiting for systemd's job on %s", unit);
        r = sd_bus_wait(bus, deadline - now);
        if (r < 0) return fail("waiting for the job of %s: %s", unit, strerror(-r));
    }
    return 0;
}

static void reset_failed(sd_bus* bus, const char* unit) {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_call_method(bus, DEST, PATH, IFACE, "ResetFailedUnit", &e, NULL, "s", unit);
    sd_bus_error_free(&e);
}

static int start_unit(sd_bus* bus, const char* unit, char** props, size_t n, pid_t pid) {
    int is_slice = strlen(unit) > 6 && strcmp(unit + strlen(unit) - 6, ".slice") == 0;
    struct job_wait w = {0};
    sd_bus_slot* slot = NULL;
    int r = sd_bus_match_signal(bus, &slot, DEST, PATH, IFACE, "JobRemoved", on_job_removed, &w);
    if (r < 0) return fail("subscribe to systemd's job signals: %s", strerror(-r));
    for (int attempt = 0;; ++attempt) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        r = sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "StartTransientUnit");
        if (r >= 0) r = sd_bus_message_append(m, "ss", unit, "replace");
        if (r >= 0) r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0) return fail("build StartTransientUnit: %s", strerror(-r));
        for (size_t i = 0; i < n; ++i) {
            char* copy = strdup(props[i]);
            int pr = append_property(m, copy);
            free(copy);
            if (pr < 0) return -1;
        }
        if (!is_slice) {
            r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t)pid);
            if (r < 0) return fail("build StartTransientUnit: %s", strerror(-r));
        }
        r = sd_bus_message_close_container(m);
        if (r >= 0) r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0) return fail("build StartTransientUnit: %s", strerror(-r));
        r = sd_bus_call(bus, m, TIMEOUT_USEC, &e, &reply);
        sd_bus_message_unref(m);
        if (r < 0) {
            if (attempt == 0 && sd_bus_error_has_name(&e, "org.freedesktop.systemd1.UnitExists")) {
                /* A dead or failed leftover of the same name: reset it, try once more. */
                sd_bus_error_free(&e);
                reset_failed(bus, unit);
                continue;
            }
            fail("systemd refused to start %s: %s", unit, e.message ? e.message : strerror(-r));
            sd_bus_error_free(&e);
            return -1;
        }
        const char* job;
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0) return fail("StartTransientUnit reply: %s", strerror(-r));
        w.path = strdup(job);
        sd_bus_message_unref(reply);
        break;
    }
    if (wait_job(bus, &w, unit) < 0) {
        reset_failed(bus, unit);
        return -1;
    }
    if (strcmp(w.result, "done") != 0) {
        reset_failed(bus, unit);
        return fail("systemd could not start %s: job %s", unit, w.result);
    }
    sd_bus_slot_unref(slot);
    return 0;
}

static int set_properties(sd_bus* bus, const char* unit, char** props, size_t n) {
    sd_bus_message* m = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r = sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "SetUnitProperties");
    if (r >= 0) r = sd_bus_message_append(m, "sb", unit, 1);
    if (r >= 0) r = sd_bus_message_open_container(m, 'a', "(sv)");
    if (r < 0) return fail("build SetUnitProperties: %s", strerror(-r));
    for (size_t i = 0; i < n; ++i)
        if (append_property(m, props[i]) < 0) return -1;
    r = sd_bus_message_close_container(m);
    if (r >= 0) r = sd_bus_call(bus, m, TIMEOUT_USEC, &e, NULL);
    if (r < 0) {
        fail("systemd refused the properties of %s: %s", unit, e.message ? e.message : strerror(-r));
        sd_bus_error_free(&e);
        return -1;
    }
    return 0;
}

static int stop_unit(sd_bus* bus, const char* unit, const char* mode) {
    struct job_wait w = {0};
    sd_bus_slot* slot = NULL;
    sd_bus_message* reply = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r = sd_bus_match_signal(bus, &slot, DEST, PATH, IFACE, "JobRemoved", on_job_removed, &w);
    if (r < 0) return fail("subscribe to systemd's job signals: %s", strerror(-r));
    r = sd_bus_call_method(bus, DEST, PATH, IFACE, "StopUnit", &e, &reply, "ss", unit, mode);
    if (r < 0) {
        int gone = sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit");
        if (!gone) fail("systemd refused to stop %s: %s", unit, e.message ? e.message : strerror(-r));
        sd_bus_error_free(&e);
        reset_failed(bus, unit);
        return gone ? 0 : -1;
    }
    const char* job;
    if (sd_bus_message_read(reply, "o", &job) < 0) return fail("StopUnit reply unreadable");
    w.path = strdup(job);
    sd_bus_message_unref(reply);
    r = wait_job(bus, &w, unit);
    /* A failed unit stays loaded until reset; after this nothing of it remains. */
    reset_failed(bus, unit);
    return r;
}

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc != 3) {
        fprintf(stderr, "usage: skiff-systemd start|set|stop UNIT\n");
        return 2;
    }
    const char *verb = argv[1], *unit = argv[2];
    sd_bus* bus = connect_bus();
    char** props = NULL;
    size_t n = 0;
    char* last = NULL;
    if (strcmp(verb, "start") == 0 && strcmp(unit, "-") == 0) {
        static char named[512];
        if (!fgets(named, sizeof named, stdin) || strncmp(named, "UNIT ", 5) != 0)
            return 0; /* skiff went away (or failed) before it knew the unit */
        named[strcspn(named, "\n")] = 0;
        unit = named + 5;
    }
    if (strncmp(verb, "stop", 4) != 0) read_request(&props, &n, &last);
    int r;
    if (!bus) {
        r = -1;
    } else if (strcmp(verb, "start") == 0) {
        if (!last) return 0; /* skiff went away before the init existed */
        long pid = strtol(last + 4, NULL, 10);
        r = start_unit(bus, unit, props, n, (pid_t)pid);
    } else if (strcmp(verb, "set") == 0) {
        r = set_properties(bus, unit, props, n);
    } else if (strcmp(verb, "stop") == 0) {
        r = stop_unit(bus, unit, "replace");
    } else if (strcmp(verb, "stop-idle") == 0) {
        r = stop_unit(bus, unit, "fail");
    } else {
        r = fail("unknown verb %s", verb);
    }
    if (r < 0) printf("ERR %s\n", errbuf);
    else printf("OK\n");
    fflush(stdout);
    sd_bus_flush_close_unref(bus);
    return r < 0 ? 1 : 0;
}
