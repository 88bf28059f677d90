#include "container/criu_rpc.hpp"

#include <sched.h>

#include <cstdlib>
#include <map>

#include "base/error.hpp"

namespace skiff::container::criu::rpc {
namespace {

// ---- protobuf wire format: varints (wire type 0) and length-delimited fields (2) ----

enum Wire { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(char(uint8_t(v) | 0x80));
        v >>= 7;
    }
    out.push_back(char(v));
}

void put_key(std::string& out, int field, Wire w) { put_varint(out, (uint64_t(field) << 3) | w); }

void put_uint(std::string& out, int field, uint64_t v) {
    put_key(out, field, kVarint);
    put_varint(out, v);
}

void put_bool(std::string& out, int field) { put_uint(out, field, 1); }

void put_bytes(std::string& out, int field, const std::string& s) {
    put_key(out, field, kBytes);
    put_varint(out, s.size());
    out += s;
}

struct Field {
    int number = 0;
    uint64_t value = 0;  // varint fields
    std::string bytes;   // length-delimited fields
};

std::vector<Field> parse(const std::string& in) {
    std::vector<Field> out;
    size_t i = 0;
    auto varint = [&]() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (i >= in.size()) throw Error("criu rpc: truncated message", EPROTO);
            uint8_t b = uint8_t(in[i++]);
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        throw Error("criu rpc: bad varint", EPROTO);
    };
    while (i < in.size()) {
        uint64_t key = varint();
        Field f;
        f.number = int(key >> 3);
        switch (key & 7) {
        case kVarint: f.value = varint(); break;
        case kBytes: {
            uint64_t n = varint();
            if (n > in.size() - i) throw Error("criu rpc: truncated field", EPROTO);
            f.bytes = in.substr(i, n);
            i += n;
            break;
        }
        case kFixed64: i += 8; break;
        case kFixed32: i += 4; break;
        default: throw Error("criu rpc: unknown wire type", EPROTO);
        }
        if (i > in.size()) throw Error("criu rpc: truncated field", EPROTO);
        out.push_back(std::move(f));
    }
    return out;
}

// ---- rpc.proto field numbers (proto2) ----

namespace req {  // criu_req
constexpr int type = 1, opts = 2, notify_success = 3;
}
namespace opt {  // criu_opts
constexpr int images_dir_fd = 1, ext_unix_sk = 4, tcp_established = 5, evasive_devices = 6, shell_job = 7,
              file_locks = 8, log_level = 9, log_file = 10, notify_scripts = 12, root = 13, auto_dedup = 16,
              work_dir_fd = 17, cg_root = 25, rst_sibling = 26, inherit_fd = 27, manage_cgroups_mode = 34,
              external = 37, empty_ns = 38, lazy_pages = 48, orphan_pts_master = 50, lsm_profile = 53,
              lsm_mount_context = 63;
}
namespace resp {  // criu_resp
constexpr int type = 1, success = 2, restore = 4, notify = 5, cr_errno = 7, cr_errmsg = 9;
}

}  // namespace

std::string restore_request(const std::vector<std::string>& args, Plan& plan) {
    static const std::map<std::string, int> kFlags = {
        {"--tcp-established", opt::tcp_established}, {"--ext-unix-sk", opt::ext_unix_sk},
        {"--shell-job", opt::shell_job},             {"--file-locks", opt::file_locks},
        {"--auto-dedup", opt::auto_dedup},           {"--lazy-pages", opt::lazy_pages},
        {"--evasive-devices", opt::evasive_devices}, {"--restore-sibling", opt::rst_sibling},
    };
    static const std::map<std::string, uint64_t> kCgroupModes = {
        {"ignore", 0}, {"soft", 3}, {"full", 4}, {"strict", 5}};
    std::string o;
    bool have_images = false;
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size()) throw Error("criu rpc: " + a + " without a value", EINVAL);
            return args[++i];
        };
        if (auto f = kFlags.find(a); f != kFlags.end()) {
            put_bool(o, f->second);
        } else if (a == "--images-dir") {
            plan.images = value();
            put_uint(o, opt::images_dir_fd, kImagesFd);
            have_images = true;
        } else if (a == "--work-dir") {
            plan.work = value();
            put_uint(o, opt::work_dir_fd, kWorkFd);
        } else if (a == "--log-file") {
            put_bytes(o, opt::log_file, value());
        } else if (a.rfind("-v", 0) == 0 && a.size() == 3) {
            put_uint(o, opt::log_level, uint64_t(a[2] - '0'));
        } else if (a == "--root") {
            put_bytes(o, opt::root, value());
        } else if (a == "--restore-detached") {
            // swrk always leaves the restored tree running on its own
        } else if (a == "--pidfile") {
            plan.pidfile = value();
        } else if (a.rfind("--manage-cgroups=", 0) == 0) {
            auto m = kCgroupModes.find(a.substr(17));
            if (m == kCgroupModes.end()) throw Error("criu rpc: cgroup mode " + a, EINVAL);
            put_uint(o, opt::manage_cgroups_mode, m->second);
        } else if (a == "--cgroup-root") {
            // [controllers:]path
            const std::string& v = value();
            std::string root;
            size_t colon = v.find(':');
            if (colon != std::string::npos && v[0] != '/') put_bytes(root, 1, v.substr(0, colon));
            put_bytes(root, 2, colon != std::string::npos && v[0] != '/' ? v.substr(colon + 1) : v);
            put_bytes(o, opt::cg_root, root);
        } else if (a == "--external") {
            put_bytes(o, opt::external, value());
        } else if (a == "--inherit-fd") {
            // fd[N]:key
            const std::string& v = value();
            size_t close = v.find("]:");
            if (v.rfind("fd[", 0) != 0 || close == std::string::npos) throw Error("criu rpc: inherit-fd " + v, EINVAL);
            std::string entry;
            put_bytes(entry, 1, v.substr(close + 2));
            put_uint(entry, 2, uint64_t(std::strtol(v.c_str() + 3, nullptr, 10)));
            put_bytes(o, opt::inherit_fd, entry);
        } else if (a == "--empty-ns") {
            if (value() != "net") throw Error("criu rpc: empty-ns " + args[i], EINVAL);
            put_uint(o, opt::empty_ns, CLONE_NEWNET);
        } else if (a == "--lsm-profile") {
            put_bytes(o, opt::lsm_profile, value());
        } else if (a == "--lsm-mount-context") {
            put_bytes(o, opt::lsm_mount_context, value());
        } else {
            throw Error("criu rpc: no RPC form for the restore option " + a, EINVAL);
        }
    }
    if (!have_images || plan.work.empty()) throw Error("criu rpc: no image or work directory", EINVAL);
    put_bool(o, opt::notify_scripts);
    put_bool(o, opt::orphan_pts_master);
    std::string r;
    put_uint(r, req::type, kRestore);
    put_bytes(r, req::opts, o);
    return r;
}

std::string notify_reply(bool ok) {
    std::string r;
    put_uint(r, req::type, kNotify);
    put_uint(r, req::notify_success, ok ? 1 : 0);
    return r;
}

Response parse_response(const std::string& bytes) {
    Response out;
    bool typed = false;
    for (const auto& f : parse(bytes)) {
        switch (f.number) {
        case resp::type: out.type = int(f.value); typed = true; break;
        case resp::success: out.success = f.value != 0; break;
        case resp::cr_errno: out.cr_errno = int(f.value); break;
        case resp::cr_errmsg: out.cr_errmsg = f.bytes; break;
        case resp::restore:
            for (const auto& g : parse(f.bytes))
                if (g.number == 1) out.restored_pid = pid_t(g.value);
            break;
        case resp::notify:
            for (const auto& g : parse(f.bytes)) {
                if (g.number == 1) out.notify_script = g.bytes;
                if (g.number == 2) out.notify_pid = pid_t(g.value);
            }
            break;
        default: break;
        }
    }
    if (!typed) throw Error("criu rpc: an answer without a type", EPROTO);
    return out;
}

}  // namespace skiff::container::criu::rpc
