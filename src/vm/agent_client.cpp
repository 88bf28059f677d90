// The host's side of the agent channel (agent_client.hpp): a session port held under a lock,
// the start request, and the relay of stdio, signals and the terminal's size.
#include "vm/agent_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/channel.hpp"
#include "linux/fd.hpp"
#include "vm/agent_channel.hpp"
#include "vm/boot_limit.hpp"
#include "vm/clock.hpp"
#include "vm/paths.hpp"

namespace skiff::vm {
namespace {

// One session port of the VM, held for the whole conversation.
class Session {
public:
    Session(const std::string& root, const std::string& id) {
        std::string dir = vm_dir(root, id);
        std::string pod = text::read_file_or_empty(dir + "/pod");  // an app container of a pod VM
        if (!pod.empty()) dir = pod;
        wait_for_guest(dir);
        // Through the directory's fd: a state root can make the full path longer than a
        // socket address holds.
        dir_.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!dir_) throw_errno("open " + dir);
        double until = monotonic_seconds() + 600;
        for (;;) {
            for (slot_ = 0; slot_ < channel::kSessions; ++slot_) {
                std::string name = "agent" + std::to_string(slot_);
                Fd lock(::openat(dir_.get(), (name + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
                if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) < 0) continue;
                sock_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
                struct sockaddr_un sa = {};
                sa.sun_family = AF_UNIX;
                std::snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s.sock", dir_.get(), name.c_str());
                if (!sock_ || ::connect(sock_.get(), (struct sockaddr*)&sa, sizeof sa) < 0)
                    throw_errno("VM isolation: connect to the guest agent (" + dir + "/" + name + ".sock)");
                lock_ = std::move(lock);
                return;
            }
            // Every port busy: wait for one (each is held only while its process runs).
            if (monotonic_seconds() > until) throw Error("VM isolation: every agent session of the VM stays busy", EBUSY);
            struct timespec ts = {0, 50000000};
            ::nanosleep(&ts, nullptr);
        }
    }

    int slot() const { return slot_; }
    int fd() const { return sock_.get(); }

    void send(char type, const std::string& payload) {
        if (!channel::write_all(sock_.get(), channel::encode(type, payload)))
            throw_errno("VM isolation: write to the guest agent");
    }

    // Opens the session. QEMU may still hold output of this port's previous client, which
    // it delivers to us: everything before the agent's hello with our nonce is skipped.
    void start(nlohmann::json request) {
        unsigned char random[8] = {};
        if (::getrandom(random, sizeof random, 0) != sizeof random) throw_errno("getrandom");
        std::string nonce;
        for (unsigned char b : random) nonce += {"0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15]};
        request["nonce"] = nonce;
        hello_ = channel::encode(channel::hello, nonce);
        send(channel::start, request.dump());
    }

    // The next whole frame; false when the connection ends (the VM is gone).
    bool next(char& type, std::string& payload) {
        for (;;) {
            if (take(type, payload)) return true;
            if (!fill()) return false;
        }
    }
    // Whether a frame is complete without reading (after poll said readable, fill once).
    bool fill() {
        char b[65536];
        ssize_t n;
        do n = ::read(sock_.get(), b, sizeof b);
        while (n < 0 && errno == EINTR);
        if (n <= 0) return false;
        buf_.append(b, size_t(n));
        return true;
    }
    bool take(char& type, std::string& payload) {
        if (!hello_.empty()) {
            size_t at = buf_.find(hello_);
            if (at == std::string::npos) {
                // Keep only what could be the start of the hello.
                if (buf_.size() >= hello_.size()) buf_.erase(0, buf_.size() - hello_.size() + 1);
                return false;
            }
            buf_.erase(0, at + hello_.size());
            hello_.clear();
        }
        return channel::decode(buf_, type, payload);
    }

private:
    // `exec` may follow `start` at once: the guest must have booted first, within the same
    // limit `start` gives it (the annotation recorded at create, else the environment's).
    static void wait_for_guest(const std::string& dir) {
        std::string source;
        double limit = boot_limit(dir, &source);
        double until = monotonic_seconds() + limit;
        for (;;) {
            std::string st = text::read_file_or_empty(dir + "/status");
            if (st.find("exit ") != std::string::npos) throw Error("cannot exec in a stopped container", EINVAL);
            if (st.find("up\n") != std::string::npos) return;
            if (monotonic_seconds() > until)
                throw Error("VM isolation: the guest did not come up within " + std::to_string(int(limit)) +
                                " s (" + source + ")",
                            ETIMEDOUT);
            struct timespec ts = {0, 20000000};
            ::nanosleep(&ts, nullptr);
        }
    }

    Fd dir_, lock_, sock_;
    int slot_ = -1;
    std::string buf_;
    std::string hello_;  // the agent's hello frame we still wait for
};

void write_out(int fd, const std::string& s) {
    if (fd >= 0) channel::write_all(fd, s);
}

std::string window_size(int fd) {
    struct winsize ws = {};
    if (fd < 0 || ::ioctl(fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_row) return "";
    return std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col);
}

// Where the process's stdio meet the host: the caller's stdio, or a pty whose master went
// to the console socket (the slave in raw mode: the guest's pty does the line discipline).
struct Endpoint {
    int in = 0, out = 1, err = 2;
    int tty = -1;  // whose window size the guest's terminal follows
    Fd slave;
    std::optional<struct termios> restore;

    ~Endpoint() {
        if (restore) ::tcsetattr(in, TCSANOW, &*restore);
    }
};

void make_raw(int fd, std::optional<struct termios>* keep) {
    struct termios t;
    if (::tcgetattr(fd, &t) < 0) return;
    if (keep) *keep = t;
    ::cfmakeraw(&t);
    ::tcsetattr(fd, TCSANOW, &t);
}

void open_terminal(Endpoint& e, const ExecRequest& r) {
    if (r.console_socket.empty()) {
        if (::isatty(0)) {
            make_raw(0, &e.restore);
            e.tty = 0;
        }
        e.err = 1;
        return;
    }
    Fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master || ::grantpt(master.get()) < 0 || ::unlockpt(master.get()) < 0) throw_errno("open a pty");
    const char* name = ::ptsname(master.get());
    if (!name) throw_errno("ptsname");
    e.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!e.slave) throw_errno(std::string("open ") + name);
    make_raw(e.slave.get(), nullptr);
    Fd sock(connect_unix(r.console_socket, "console socket"));
    send_fds(sock.get(), "/dev/console", {master.get()});
    e.in = e.out = e.err = e.tty = e.slave.get();
}

const int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

// Until the guest reports the status: stdin and signals to the guest, output to the caller.
int relay(Session& s, Endpoint& e) {
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kForwarded) sigaddset(&set, sig);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    Fd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
    int in = e.in;
    for (;;) {
        struct pollfd p[3] = {{s.fd(), POLLIN, 0}, {in, POLLIN, 0}, {sfd.get(), POLLIN, 0}};
        if (::poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (p[0].revents) {
            if (!s.fill()) {
                write_out(2, "skiff: the VM ended before the exec'd process did\n");
                return 137;
            }
            char type;
            std::string payload;
            while (s.take(type, payload)) {
                if (type == channel::output) write_out(e.out, payload);
                else if (type == channel::errout) write_out(e.err, payload);
                else if (type == channel::exited) return std::atoi(payload.c_str());
            }
        }
        if (in >= 0 && p[1].revents) {
            char b[65536];
            ssize_t n = ::read(in, b, sizeof b);
            if (n > 0) {
                s.send(channel::input, std::string(b, size_t(n)));
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                if (e.tty < 0) s.send(channel::input_end, "");
                in = -1;  // (a terminal's end of file is the guest's: ^D arrives as a byte)
            }
        }
        if (p[2].revents) {
            struct signalfd_siginfo si;
            if (::read(sfd.get(), &si, sizeof si) != sizeof si) continue;
            if (si.ssi_signo == SIGWINCH) {
                std::string ws = window_size(e.tty);
                if (!ws.empty()) s.send(channel::resize, ws);
            } else {
                s.send(channel::signal, std::to_string(si.ssi_signo));
            }
        }
    }
}

void write_pid_file(const std::string& path, pid_t pid) {
    if (path.empty()) return;
    std::string tmp = path + ".tmp";
    Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!f || !channel::write_all(f.get(), std::to_string(pid)) || ::rename(tmp.c_str(), path.c_str()) < 0)
        throw_errno("write the pid file " + path);
}

}  // namespace

bool is_vm(const std::string& root, const std::string& id) {
    struct stat st;
    return ::stat(vm_dir(root, id).c_str(), &st) == 0;
}

int exec(const std::string& root, const std::string& id, const ExecRequest& r) {
    Endpoint e;
    if (r.tty) open_terminal(e, r);
    Session s(root, id);
    std::string gd = std::string(channel::kGuestDir) + "/" + std::to_string(s.slot());
    nlohmann::json req;
    std::vector<std::string> args = {"exec", "-d", "--pid-file", gd + "/pid"};
    if (r.tty) args.insert(args.end(), {"--console-socket", gd + "/console.sock"});
    if (!r.process_json.empty()) {
        args.insert(args.end(), {"--process", gd + "/process.json"});
        req["files"] = {{"process.json", r.process_json}};
    } else if (r.tty) {
        args.push_back("-t");
    }
    args.insert(args.end(), r.flags.begin(), r.flags.end());
    args.insert(args.end(), {"--", id});
    args.insert(args.end(), r.args.begin(), r.args.end());
    req["args"] = args;
    req["follow"] = true;
    req["tty"] = r.tty;
    std::string ws = window_size(e.tty);
    if (!ws.empty()) {
        unsigned rows = 0, cols = 0;
        std::sscanf(ws.c_str(), "%u %u", &rows, &cols);
        req["rows"] = rows;
        req["cols"] = cols;
    }
    s.start(std::move(req));
    // Until the process started: a failure to start is the guest skiff's error and status.
    char type;
    std::string payload;
    for (;;) {
        if (!s.next(type, payload)) throw Error("VM isolation: the guest agent went away", EPIPE);
        if (type == channel::errout) write_out(2, payload);
        else if (type == channel::output) write_out(e.out, payload);
        else if (type == channel::exited) return std::atoi(payload.c_str()) ?: 255;
        else if (type == channel::started) break;
    }
    if (!r.detach) {
        write_pid_file(r.pid_file, ::getpid());
        return relay(s, e);
    }
    // Detached: the relay lives on in a process of its own, which a shim can wait for.
    pid_t proxy = ::fork();
    if (proxy < 0) throw_errno("fork");
    if (proxy == 0) {
        int code = 255;
        try {
            ::setsid();
            if (e.slave) ::ioctl(e.slave.get(), TIOCSCTTY, 0);  // SIGWINCH when the master resizes
            code = relay(s, e);
        } catch (const Error&) {
        }
        ::_exit(code & 0xff);
    }
    write_pid_file(r.pid_file, proxy);
    return 0;
}

std::vector<GuestProcess> guest_processes(const std::string& root, const std::string& id) {
    Session s(root, id);
    nlohmann::json req = {{"args", {"ps", "--format", "json", id}}, {"describe", true}};
    s.start(std::move(req));
    std::string out, err;
    char type;
    std::string payload;
    int status = -1;
    while (status < 0 && s.next(type, payload)) {
        if (type == channel::output) out += payload;
        else if (type == channel::errout) err += payload;
        else if (type == channel::exited) status = std::atoi(payload.c_str());
    }
    if (status != 0)
        throw Error("ps in the VM failed" + (err.empty() ? std::string() : ": " + err), EIO);
    std::vector<GuestProcess> procs;
    for (auto& p : nlohmann::json::parse(out)) {
        GuestProcess g;
        g.pid = p.value("pid", 0L);
        g.ppid = p.value("ppid", 0L);
        g.uid = p.value("uid", 0L);
        g.cmd = p.value("cmd", "");
        procs.push_back(g);
    }
    return procs;
}

}  // namespace skiff::vm

namespace skiff::vm {

void send_window_size(const std::string& root, const std::string& id, pid_t qemu) {
    if (qemu <= 0 || !is_vm(root, id)) return;
    Fd tty(::open(("/proc/" + std::to_string(qemu) + "/fd/0").c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    if (!tty || !::isatty(tty.get())) return;
    std::string ws = window_size(tty.get());
    if (ws.empty()) return;
    // QEMU opens the control fifo as it starts: until then a writer gets ENXIO.
    std::string msg = "winsize " + ws + "\n", ctl = vm_dir(root, id) + "/ctl.in";
    double until = monotonic_seconds() + 10;
    while (monotonic_seconds() < until && ::kill(qemu, 0) == 0) {
        Fd f(::open(ctl.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (f) {
            channel::write_all(f.get(), msg);
            return;
        }
        struct timespec ts = {0, 20000000};
        ::nanosleep(&ts, nullptr);
    }
}

}  // namespace skiff::vm

namespace skiff::vm {

int agent_session(const std::string& root, const std::string& id, nlohmann::json request, std::string* captured) {
    Session s(root, id);
    std::string gd = std::string(channel::kGuestDir) + "/" + std::to_string(s.slot());
    if (request.contains("args"))
        for (auto& a : request["args"])
            if (a == "{dir}") a = gd;
    s.start(std::move(request));
    if (!captured) {
        Endpoint e;
        return relay(s, e);
    }
    char type;
    std::string payload;
    while (s.next(type, payload)) {
        if (type == channel::output) *captured += payload;
        else if (type == channel::exited) return std::atoi(payload.c_str());
    }
    throw Error("VM isolation: the guest agent went away", EPIPE);
}

}  // namespace skiff::vm
