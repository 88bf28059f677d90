#include "container/intel_rdt.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "container/lifecycle.hpp"
#include "container/state.hpp"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "base/text.hpp"
#include "oci/config.hpp"

namespace skiff::container {
namespace {

const std::string kField = "linux.intelRdt";

bool is_dir(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void write_text(const std::string& path, const std::string& text, const std::string& what) {
    // O_CREAT for the unit tests' stand-in tree; resctrl's files always exist.
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) throw_errno(what + ": open " + path);
    if (::write(fd.get(), text.data(), text.size()) != ssize_t(text.size())) throw_errno(what + ": write " + path);
}

// The lines of a schemata text without blanks, so "L3:0=ff; 1=f" matches "L3:0=ff;1=f".
std::vector<std::string> schema_lines(const std::string& text) {
    std::vector<std::string> out;
    for (auto line : text::lines(text)) {
        std::string s;
        for (char c : line)
            if (c != ' ' && c != '\t') s += c;
        if (!s.empty()) out.push_back(s);
    }
    return out;
}

// What goes to the schemata file, in the spec's order: l3CacheSchema (without MB lines
// when memBwSchema is set), memBwSchema, then the raw schemata lines.
std::string requested(const oci::IntelRdt& c) {
    std::string out;
    for (const auto& line : schema_lines(c.l3_cache_schema))
        if (c.mem_bw_schema.empty() || line.rfind("MB:", 0) != 0) out += line + "\n";
    for (const auto& line : schema_lines(c.mem_bw_schema)) out += line + "\n";
    for (const auto& s : c.schemata)
        for (const auto& line : schema_lines(s)) out += line + "\n";
    return out;
}

}  // namespace

std::string resctrl_mount() {
    std::string info;
    try {
        info = text::read_file("/proc/self/mountinfo");
    } catch (const Error&) {
        return "";
    }
    for (auto line : text::lines(info)) {
        auto dash = line.find(" - ");
        if (dash == std::string_view::npos) continue;
        auto fstype = line.substr(dash + 3);
        if (fstype.substr(0, fstype.find(' ')) != "resctrl") continue;
        auto fields = text::fields(line.substr(0, dash));
        if (fields.size() > 4) return text::unescape_mountinfo(fields[4]);
    }
    return "";
}

IntelRdt::IntelRdt(std::string root, const oci::IntelRdt& config, std::string id)
    : root_(std::move(root)), id_(std::move(id)), config_(config) {}

std::string IntelRdt::group_dir() const {
    return config_.clos_id.empty() ? root_ + "/" + id_ : root_ + "/" + config_.clos_id;
}

std::string IntelRdt::mon_dir() const { return group_dir() + "/mon_groups/" + id_; }

void IntelRdt::validate() const {
    if (root_.empty())
        throw Error(kField + ": Intel RDT needs the resctrl filesystem, which is not mounted on this host", ENOTSUP);
    if (!config_.l3_cache_schema.empty() && !is_dir(root_ + "/info/L3"))
        throw Error(kField + ".l3CacheSchema: Intel RDT/CAT is not enabled on this host", ENOTSUP);
    if (!config_.mem_bw_schema.empty() && !is_dir(root_ + "/info/MB"))
        throw Error(kField + ".memBwSchema: Intel RDT/MBA is not enabled on this host", ENOTSUP);
    if (config_.enable_monitoring && !is_dir(root_ + "/info/L3_MON"))
        throw Error(kField + ".enableMonitoring: Intel RDT monitoring is not enabled on this host", ENOTSUP);
    const bool writes = !requested(config_).empty();
    if (!config_.clos_id.empty() && !writes && !is_dir(group_dir()))
        throw Error(kField + ".closID: no resctrl group \"" + config_.clos_id + "\" in " + root_, ENOENT);
}

void IntelRdt::write_schemata(const std::string& text) const {
    if (!text.empty()) write_text(group_dir() + "/schemata", text, kField);
}

void IntelRdt::apply(pid_t pid) {
    validate();
    const std::string dir = group_dir();
    const std::string want = requested(config_);
    bool made_mon = false;
    try {
        if (is_dir(dir) && !config_.clos_id.empty() && !want.empty()) {
            // A group that exists already is shared: what we asked for must be what it has.
            auto have = schema_lines(text::read_file(dir + "/schemata"));
            for (const auto& line : schema_lines(want)) {
                bool found = false;
                for (const auto& h : have) found = found || h == line;
                if (!found)
                    throw Error(kField + ".closID: group \"" + config_.clos_id + "\" has another schemata than \"" +
                                    line + "\"", EEXIST);
            }
        } else if (!is_dir(dir)) {
            if (::mkdir(dir.c_str(), 0755) < 0) throw_errno(kField + ": mkdir " + dir);
            made_group_ = true;
            write_schemata(want);
        } else {
            write_schemata(want);
        }
        write_text(dir + "/tasks", std::to_string(pid), kField);
        if (config_.enable_monitoring) {
            if (::mkdir(mon_dir().c_str(), 0755) < 0 && errno != EEXIST) throw_errno(kField + ": mkdir " + mon_dir());
            made_mon = true;
            write_text(mon_dir() + "/tasks", std::to_string(pid), kField);
        }
    } catch (const Error&) {
        if (made_mon) ::rmdir(mon_dir().c_str());
        if (made_group_) ::rmdir(dir.c_str());
        made_group_ = false;
        throw;
    }
}

void IntelRdt::remove() const {
    if (root_.empty()) return;
    if (config_.enable_monitoring) ::rmdir(mon_dir().c_str());
    if (config_.clos_id.empty() && ::rmdir(group_dir().c_str()) < 0 && errno != ENOENT)
        log::warn(kField + ": remove " + group_dir() + ": " + std::string(strerror(errno)));
}

void IntelRdt::update(const std::string& l3, const std::string& mb) const {
    if (root_.empty()) {
        // runc's words.
        if (!l3.empty()) throw Error("Intel RDT/CAT: l3 cache schema is not enabled", ENOTSUP);
        throw Error("Intel RDT/MBA: memory bandwidth schema is not enabled", ENOTSUP);
    }
    if (!l3.empty() && !is_dir(root_ + "/info/L3")) throw Error("Intel RDT/CAT: l3 cache schema is not enabled", ENOTSUP);
    if (!mb.empty() && !is_dir(root_ + "/info/MB"))
        throw Error("Intel RDT/MBA: memory bandwidth schema is not enabled", ENOTSUP);
    if (!is_dir(group_dir())) throw Error("Intel RDT: the container has no resctrl group (" + group_dir() + ")", ENOENT);
    std::string text;
    for (const auto& line : schema_lines(l3)) text += line + "\n";
    for (const auto& line : schema_lines(mb)) text += line + "\n";
    write_schemata(text);
}

void check_intel_rdt(const oci::Spec& spec, const std::string& id) {
    if (!spec.linux || !spec.linux->intel_rdt) return;
    IntelRdt(resctrl_mount(), *spec.linux->intel_rdt, id).validate();
}

void apply_intel_rdt(const oci::Spec& spec, const std::string& id, pid_t pid) {
    if (!spec.linux || !spec.linux->intel_rdt) return;
    IntelRdt(resctrl_mount(), *spec.linux->intel_rdt, id).apply(pid);
}

void remove_intel_rdt(const std::string& config, const std::string& id) {
    if (config.find("\"intelRdt\"") == std::string::npos) return;  // most have none
    try {
        oci::Spec spec = oci::parse_config(config);
        if (spec.linux && spec.linux->intel_rdt) IntelRdt(resctrl_mount(), *spec.linux->intel_rdt, id).remove();
    } catch (const Error& e) {
        log::warn(kField + ": " + e.what());
    }
}

void update_intel_rdt(const std::string& config, const std::string& id, const std::string& l3,
                      const std::string& mb) {
    oci::IntelRdt rdt;
    oci::Spec spec = oci::parse_config(config);
    if (spec.linux && spec.linux->intel_rdt) rdt = *spec.linux->intel_rdt;
    IntelRdt(resctrl_mount(), rdt, id).update(l3, mb);
}

void update_intel_rdt(const Globals& g, const std::string& id, const std::string& l3, const std::string& mb) {
    validate_id(id);
    Store store(g.root);
    Record r = store.load(id);
    if (status_of(store, r) == Status::stopped) throw Error("container not running", ESRCH);
    update_intel_rdt(r.config, id, l3, mb);
}

}  // namespace skiff::container
