// A cursor into a parsed JSON document that knows its own JSON path, so every type, range or
// enum error can say exactly where it is: "linux.namespaces[2].type: unknown ...".
// Internal to src/oci/.
//
// Conventions shared by all the parsers:
// - Unknown properties are ignored (runtime-spec: "MUST ignore unknown properties").
// - A property set to JSON null counts as absent, as Go-based producers emit null for nil.
// - Integers: a JSON float is accepted only when it is integral (1.0 reads as 1; 1.5 is a type
//   error), and every integer is range-checked against the C++ field's type, so unsigned fields
//   reject negatives and uint32 fields reject values above 4294967295.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace skiff::oci::detail {

using nlohmann::json;

// "string", "number", "array", ... for "expected X, got Y" messages.
const char* json_type_name(const json& j);

// A test's window on the parser: when set, every field lookup (get, has, required, opt_*)
// reports the JSON path it asked for, present or not. tests/unit/oci_fields_test.cpp lists
// every field the parser knows this way and checks each is applied or refused.
extern void (*field_lookup_hook)(const std::string& path);

class Node {
public:
    // `path` is the JSON path of `j`; an empty path means the document root, reported as
    // `root_name` (e.g. "config.json"). Nodes live only while the document is read, so the
    // root name is borrowed from the caller (every child shares it).
    Node(const json& j, std::string path, std::string_view root_name = "config.json")
        : j_(&j), path_(std::move(path)), root_name_(root_name) {}

    const json& raw() const { return *j_; }
    const std::string& path() const { return path_; }

    // Throws skiff::Error("<path>: <why>").
    [[noreturn]] void fail(const std::string& why) const;

    // --- objects -------------------------------------------------------------------------
    void want_object() const;
    // True when the key exists and is not null.
    bool has(std::string_view key) const;
    // The child if present (and not null).
    std::optional<Node> get(std::string_view key) const;
    // The child, or "<path>.<key>: required".
    Node required(std::string_view key) const;
    // Every member of an object, in document order of the parser (sorted by key).
    std::vector<std::pair<std::string, Node>> members() const;

    // --- arrays --------------------------------------------------------------------------
    std::vector<Node> elements() const;

    // --- scalars -------------------------------------------------------------------------
    std::string str() const;
    bool boolean() const;
    template <typename T>
    T integer() const;
    std::vector<std::string> strings() const;                  // array of strings
    std::map<std::string, std::string> string_map() const;     // object of strings

    // --- shorthands for "optional field of this object" ----------------------------------
    std::optional<std::string> opt_str(std::string_view key) const;
    std::optional<bool> opt_bool(std::string_view key) const;
    template <typename T>
    std::optional<T> opt_int(std::string_view key) const {
        auto c = get(key);
        if (!c) return std::nullopt;
        return c->integer<T>();
    }
    std::optional<std::vector<std::string>> opt_strings(std::string_view key) const;

    std::string req_str(std::string_view key) const { return required(key).str(); }
    template <typename T>
    T req_int(std::string_view key) const {
        return required(key).integer<T>();
    }

    Node child(std::string_view key) const;  // no presence check; internal
    Node child(size_t index) const;

private:
    [[noreturn]] void range_fail_text(const std::string& lo, const std::string& hi) const;

    const json* j_;
    std::string path_;
    std::string_view root_name_;
    std::string child_path(std::string_view key) const;
};

template <typename T>
T Node::integer() const {
    static_assert(std::is_integral_v<T>);
    using L = std::numeric_limits<T>;
    const json& j = *j_;
    auto out_of_range = [&]() {
        range_fail_text(std::to_string(L::min()), std::to_string(L::max()));
    };
    if (j.is_number_unsigned()) {
        const auto v = j.get<uint64_t>();
        if (v > static_cast<uint64_t>(L::max())) out_of_range();
        return static_cast<T>(v);
    }
    if (j.is_number_integer()) {
        const auto v = j.get<int64_t>();
        if (v < 0 && (!L::is_signed || v < static_cast<int64_t>(L::min()))) out_of_range();
        if (v > 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(L::max())) out_of_range();
        return static_cast<T>(v);
    }
    if (j.is_number_float()) {
        const double d = j.get<double>();
        if (!std::isfinite(d) || std::trunc(d) != d)
            fail("expected an integer, got " + j.dump());
        // long double holds both 2^64-1 and -2^63 exactly, so the bounds compare exactly.
        const long double ld = d;
        if (ld < static_cast<long double>(L::min()) || ld > static_cast<long double>(L::max()))
            out_of_range();
        return static_cast<T>(d);
    }
    fail(std::string("expected an integer, got ") + json_type_name(j));
}

// Parses text as JSON; syntax errors become "<what>: not valid JSON: <detail>".
json parse_json_text(std::string_view text, const std::string& what);

}  // namespace skiff::oci::detail
