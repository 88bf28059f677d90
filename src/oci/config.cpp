// config.json top level (config.md): ociVersion, root, mounts, hooks, hostname, annotations;
// the sections live in parse_process.cpp, parse_linux.cpp and parse_resources.cpp.
#include "oci/config.hpp"

#include <cctype>
#include <cerrno>

#include "base/error.hpp"
#include "oci/namespace_types.hpp"
#include "oci/parse_internal.hpp"

namespace skiff::oci {

namespace detail {
namespace {

bool has_option(const Mount& m, const char* name) {
    for (const auto& o : m.options)
        if (o == name) return true;
    return false;
}

// The kernel refuses a map whose ranges overlap on either side, and takes at most 340 lines.
void check_map_ranges(const Node& n, const std::vector<IdMapping>& maps) {
    if (maps.size() > 340) n.fail("at most 340 mappings, got " + std::to_string(maps.size()));
    for (size_t i = 0; i < maps.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
            auto overlap = [](uint64_t a, uint64_t b, uint64_t size_a, uint64_t size_b) {
                return a < b + size_b && b < a + size_a;
            };
            const auto& a = maps[i];
            const auto& b = maps[j];
            const char* side = overlap(a.container_id, b.container_id, a.size, b.size) ? "containerID"
                               : overlap(a.host_id, b.host_id, a.size, b.size)       ? "hostID"
                                                                                      : nullptr;
            if (side)
                n.child(i).fail(std::string(side) + " range overlaps that of [" + std::to_string(j) + "]");
        }
    }
}

// config.md: uidMappings / gidMappings and idmap / ridmap make an idmapped mount, which the
// kernel offers for bind mounts only.
void check_mount_idmap(const Node& e, const Mount& m) {
    const bool maps = !m.uid_mappings.empty();
    const bool option = has_option(m, "idmap") || has_option(m, "ridmap");
    if (!maps && !option) return;
    const bool bind = m.type == "bind" || has_option(m, "bind") || has_option(m, "rbind");
    if (!bind)
        e.child(maps ? "uidMappings" : "options")
            .fail("idmapped mounts are only supported for bind mounts");
    if (maps) {
        check_map_ranges(e.child("uidMappings"), m.uid_mappings);
        check_map_ranges(e.child("gidMappings"), m.gid_mappings);
    }
}

// idmap / ridmap without mappings of their own take the container's user namespace.
void check_idmap_userns(const Node& top, const Spec& s) {
    const bool userns = s.linux && find_namespace(*s.linux, "user");
    for (size_t i = 0; i < s.mounts.size(); ++i) {
        const Mount& m = s.mounts[i];
        if (!m.uid_mappings.empty() || userns) continue;
        if (has_option(m, "idmap") || has_option(m, "ridmap"))
            top.child("mounts").child(i).child("options")
                .fail("idmap without uidMappings and gidMappings needs a user namespace");
    }
}

std::vector<Mount> read_mounts(const Node& n) {
    std::vector<Mount> out;
    for (auto& e : n.elements()) {
        e.want_object();
        Mount m;
        auto dest = e.required("destination");
        m.destination = dest.str();
        // runtime-spec v1.3, Linux: the destination SHOULD be absolute; a relative one MAY be
        // given for compatibility and MUST be read as relative to "/" (deprecated). So only an
        // empty destination is an error here, and a relative one is kept as written: the mount
        // step resolves it against the container's "/".
        if (m.destination.empty()) dest.fail("must not be empty");
        m.source = e.opt_str("source").value_or("");
        m.type = e.opt_str("type").value_or("");
        if (auto o = e.get("options")) m.options = o->strings();
        if (auto u = e.get("uidMappings")) m.uid_mappings = read_id_mappings(*u);
        if (auto g = e.get("gidMappings")) m.gid_mappings = read_id_mappings(*g);
        // An idmapped mount needs both maps to build its user namespace.
        if (m.uid_mappings.empty() != m.gid_mappings.empty())
            e.child(m.uid_mappings.empty() ? "uidMappings" : "gidMappings")
                .fail("required when the other id mapping of this mount is set");
        check_mount_idmap(e, m);
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<Hook> read_hook_list(const Node& n) {
    std::vector<Hook> out;
    for (auto& e : n.elements()) {
        e.want_object();
        Hook h;
        auto path = e.required("path");
        h.path = path.str();
        require_absolute(path, h.path);
        if (auto a = e.get("args")) h.args = a->strings();
        if (auto v = e.get("env")) h.env = v->strings();
        h.timeout = e.opt_int<int32_t>("timeout");
        if (h.timeout && *h.timeout <= 0)
            e.child("timeout").fail("must be greater than 0, got " + std::to_string(*h.timeout));
        out.push_back(std::move(h));
    }
    return out;
}

Hooks read_hooks(const Node& n) {
    n.want_object();
    Hooks h;
    if (auto l = n.get("prestart")) h.prestart = read_hook_list(*l);
    if (auto l = n.get("createRuntime")) h.create_runtime = read_hook_list(*l);
    if (auto l = n.get("createContainer")) h.create_container = read_hook_list(*l);
    if (auto l = n.get("startContainer")) h.start_container = read_hook_list(*l);
    if (auto l = n.get("poststart")) h.poststart = read_hook_list(*l);
    if (auto l = n.get("poststop")) h.poststop = read_hook_list(*l);
    return h;
}

// SemVer 2.0.0: MAJOR.MINOR.PATCH without leading zeros, then optional "-pre" and "+build",
// each a dot-separated list of non-empty [0-9A-Za-z-] identifiers.
bool is_semver(const std::string& v) {
    auto ident_ok = [](const std::string& id) {
        if (id.empty()) return false;
        for (char c : id)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
        return true;
    };
    auto list_ok = [&](const std::string& l) {
        size_t start = 0;
        for (;;) {
            size_t dot = l.find('.', start);
            if (!ident_ok(l.substr(start, dot - start))) return false;
            if (dot == std::string::npos) return true;
            start = dot + 1;
        }
    };
    size_t plus = v.find('+');
    std::string head = v.substr(0, plus);
    if (plus != std::string::npos && !list_ok(v.substr(plus + 1))) return false;
    size_t dash = head.find('-');
    if (dash != std::string::npos && !list_ok(head.substr(dash + 1))) return false;
    std::string core = head.substr(0, dash);
    int parts = 0;
    size_t start = 0;
    for (;;) {
        size_t dot = core.find('.', start);
        std::string num = core.substr(start, dot - start);
        if (num.empty() || (num.size() > 1 && num[0] == '0')) return false;
        for (char c : num)
            if (!std::isdigit(static_cast<unsigned char>(c))) return false;
        ++parts;
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return parts == 3;
}

Spec read_spec(const Node& n) {
    n.want_object();
    Spec s;
    s.oci_version = n.req_str("ociVersion");
    if (s.oci_version.empty()) n.child("ociVersion").fail("must not be empty");
    // config.md: ociVersion MUST be in SemVer v2.0.0 format
    if (!is_semver(s.oci_version))
        n.child("ociVersion").fail("\"" + s.oci_version + "\" is not a SemVer 2.0.0 version");

    // root is OPTIONAL in the spec only for VM-based runtimes; a Linux container needs one.
    auto root = n.required("root");
    root.want_object();
    Root r;
    auto rp = root.required("path");
    r.path = rp.str();
    if (r.path.empty()) rp.fail("must not be empty");
    r.readonly = root.opt_bool("readonly").value_or(false);
    s.root = r;

    if (auto m = n.get("mounts")) s.mounts = read_mounts(*m);
    if (auto p = n.get("process")) s.process = read_process(*p);
    s.hostname = n.opt_str("hostname").value_or("");
    s.domainname = n.opt_str("domainname").value_or("");
    if (auto h = n.get("hooks")) s.hooks = read_hooks(*h);
    if (auto a = n.get("annotations")) s.annotations = a->string_map();
    if (auto l = n.get("linux")) s.linux = read_linux(*l);

    // runc's rule: the host's names are not ours to change, so a name needs a private UTS ns.
    check_idmap_userns(n, s);
    const bool has_uts = s.linux && find_namespace(*s.linux, "uts");
    if (!s.hostname.empty() && !has_uts)
        n.child("hostname").fail("cannot set a hostname without a uts namespace");
    if (!s.domainname.empty() && !has_uts)
        n.child("domainname").fail("cannot set a domainname without a uts namespace");
    return s;
}

}  // namespace
}  // namespace detail

Spec parse_config(std::string_view json_text) {
    auto doc = detail::parse_json_text(json_text, "config.json");
    return detail::read_spec(detail::Node(doc, "", "config.json"));
}

Process parse_process(std::string_view json_text) {
    // Paths are rooted at "process" so messages read like the config.json field they mirror.
    auto doc = detail::parse_json_text(json_text, "process.json");
    return detail::read_process(detail::Node(doc, "process"));
}

Resources parse_resources(std::string_view json_text) {
    auto doc = detail::parse_json_text(json_text, "resources");
    return detail::read_resources(detail::Node(doc, "resources"));
}

}  // namespace skiff::oci
