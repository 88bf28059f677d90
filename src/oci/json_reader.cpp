#include "oci/json_reader.hpp"

#include <cctype>

#include "base/error.hpp"

namespace skiff::oci::detail {

const char* json_type_name(const json& j) {
    switch (j.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float: return "number";
        case json::value_t::string: return "string";
        case json::value_t::array: return "array";
        case json::value_t::object: return "object";
        default: return "binary";
    }
}

namespace {

// Keys that are not plain identifiers (sysctl names, annotation keys with dots or slashes) are
// written as ["key"] so the path stays unambiguous.
bool plain_key(std::string_view key) {
    if (key.empty()) return false;
    for (char c : key)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

}  // namespace

void Node::fail(const std::string& why) const {
    throw Error((path_.empty() ? std::string(root_name_) : path_) + ": " + why);
}

void Node::range_fail_text(const std::string& lo, const std::string& hi) const {
    fail(j_->dump() + " is out of range (" + lo + ".." + hi + ")");
}

std::string Node::child_path(std::string_view key) const {
    if (plain_key(key)) return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    return path_ + "[" + json(std::string(key)).dump() + "]";
}

Node Node::child(std::string_view key) const {
    static const json null_value;
    auto it = j_->find(std::string(key));
    return Node(it == j_->end() ? null_value : *it, child_path(key), root_name_);
}

Node Node::child(size_t index) const {
    return Node((*j_)[index], path_ + "[" + std::to_string(index) + "]", root_name_);
}

void Node::want_object() const {
    if (!j_->is_object()) fail(std::string("expected an object, got ") + json_type_name(*j_));
}

void (*field_lookup_hook)(const std::string& path) = nullptr;

bool Node::has(std::string_view key) const {
    want_object();
    if (field_lookup_hook) field_lookup_hook(child_path(key));
    auto it = j_->find(std::string(key));
    return it != j_->end() && !it->is_null();
}

std::optional<Node> Node::get(std::string_view key) const {
    want_object();
    if (field_lookup_hook) field_lookup_hook(child_path(key));
    auto it = j_->find(std::string(key));  // one lookup for presence and the child
    if (it == j_->end() || it->is_null()) return std::nullopt;
    return Node(*it, child_path(key), root_name_);
}

Node Node::required(std::string_view key) const {
    if (!has(key)) child(key).fail("required");
    return child(key);
}

std::vector<std::pair<std::string, Node>> Node::members() const {
    want_object();
    std::vector<std::pair<std::string, Node>> out;
    for (auto it = j_->begin(); it != j_->end(); ++it) out.emplace_back(it.key(), child(it.key()));
    return out;
}

std::vector<Node> Node::elements() const {
    if (!j_->is_array()) fail(std::string("expected an array, got ") + json_type_name(*j_));
    std::vector<Node> out;
    out.reserve(j_->size());
    for (size_t i = 0; i < j_->size(); ++i) out.push_back(child(i));
    return out;
}

std::string Node::str() const {
    if (!j_->is_string()) fail(std::string("expected a string, got ") + json_type_name(*j_));
    return j_->get<std::string>();
}

bool Node::boolean() const {
    if (!j_->is_boolean()) fail(std::string("expected a boolean, got ") + json_type_name(*j_));
    return j_->get<bool>();
}

std::vector<std::string> Node::strings() const {
    if (!j_->is_array())
        fail(std::string("expected an array of strings, got ") + json_type_name(*j_));
    std::vector<std::string> out;
    out.reserve(j_->size());
    for (size_t i = 0; i < j_->size(); ++i) out.push_back(child(i).str());
    return out;
}

std::map<std::string, std::string> Node::string_map() const {
    if (!j_->is_object())
        fail(std::string("expected an object of strings, got ") + json_type_name(*j_));
    std::map<std::string, std::string> out;
    for (auto& [k, v] : members()) out[k] = v.str();
    return out;
}

std::optional<std::string> Node::opt_str(std::string_view key) const {
    auto c = get(key);
    if (!c) return std::nullopt;
    return c->str();
}

std::optional<bool> Node::opt_bool(std::string_view key) const {
    auto c = get(key);
    if (!c) return std::nullopt;
    return c->boolean();
}

std::optional<std::vector<std::string>> Node::opt_strings(std::string_view key) const {
    auto c = get(key);
    if (!c) return std::nullopt;
    return c->strings();
}

json parse_json_text(std::string_view text, const std::string& what) {
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        // parse_error, or out_of_range for a number too big for a double (1e400).
        // Drop nlohmann's "[json.exception.parse_error.101] " tag; keep the position and reason.
        std::string detail = e.what();
        if (auto pos = detail.find("] "); detail.rfind("[json.exception", 0) == 0 &&
                                          pos != std::string::npos)
            detail = detail.substr(pos + 2);
        throw Error(what + ": not valid JSON: " + detail);
    }
}

}  // namespace skiff::oci::detail
