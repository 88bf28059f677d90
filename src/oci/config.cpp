// config.json top level (config.md): ociVersion, root, mounts, hooks, hostname, annotations;
// the sections live in parse_process.cpp, parse_linux.cpp and parse_resources.cpp.
#include "oci/config.hpp"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "linux/error.hpp"
#include "oci/parse_internal.hpp"

namespace skiff::oci {

namespace detail {
namespace {

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

Spec read_spec(const Node& n) {
    n.want_object();
    Spec s;
    s.oci_version = n.req_str("ociVersion");
    if (s.oci_version.empty()) n.child("ociVersion").fail("must not be empty");

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
    auto has_uts = [&] {
        if (!s.linux) return false;
        for (auto& ns : s.linux->namespaces)
            if (ns.type == "uts") return true;
        return false;
    };
    if (!s.hostname.empty() && !has_uts())
        n.child("hostname").fail("cannot set a hostname without a uts namespace");
    if (!s.domainname.empty() && !has_uts())
        n.child("domainname").fail("cannot set a domainname without a uts namespace");
    return s;
}

}  // namespace
}  // namespace detail

Spec parse_config(std::string_view json_text) {
    auto doc = detail::parse_json_text(json_text, "config.json");
    return detail::read_spec(detail::Node(doc, "", "config.json"));
}

Spec load_config(const std::string& bundle_dir) {
    const std::string file = (bundle_dir.empty() ? std::string(".") : bundle_dir) + "/config.json";
    errno = 0;
    std::ifstream in(file, std::ios::binary);
    if (!in) throw_errno("open " + file, errno ? errno : ENOENT);
    // An ifstream opens a directory fine and then reads nothing; say what is wrong instead.
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) throw_errno("read " + file, EISDIR);
    std::stringstream buf;
    buf << in.rdbuf();
    if (in.bad()) throw_errno("read " + file, errno ? errno : EIO);
    auto doc = detail::parse_json_text(buf.str(), file);
    return detail::read_spec(detail::Node(doc, "", file));
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
