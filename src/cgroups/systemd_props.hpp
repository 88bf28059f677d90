// The systemd unit properties of a container, as typed D-Bus values in a small text form that
// the companion (src/systemd-helper) turns into sd-bus message parts. Pure logic: no bus here.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::cgroups::systemd {

// One property. sig is its D-Bus signature; value is encoded per signature:
//   b: "1"/"0"; y q n u i x t: decimal; s: escaped text; as: escaped items joined by ',';
//   ay: hex bytes; a(st): escaped=decimal pairs joined by ','; a(ss): escaped=escaped pairs.
// escaped: every byte outside [A-Za-z0-9._/@+-] as %XX.
struct Property {
    std::string name;
    std::string sig;
    std::string value;
    bool operator==(const Property&) const = default;
};

std::string escape(const std::string& raw);
// The wire line for one property: "name sig value".
std::string wire_line(const Property& p);

// Description, Slice (Wants for a slice unit), Delegate, DefaultDependencies and accounting.
std::vector<Property> base_properties(const std::string& id, const std::string& slice, bool is_slice);

// The resources that have a unit property (the files are written as well, by the caller).
// `rules` are the device rules in force (the config's, then the defaults).
std::vector<Property> resource_properties(const oci::Resources& r, const std::vector<oci::DeviceRule>& rules);

// "0-3,7" → systemd's CPU/NUMA bitmask: byte i bit j is number 8i+j. Errors name `what`.
std::vector<uint8_t> range_to_bits(const std::string& list, const std::string& what);

// CPUQuotaPerSecUSec from cpu quota/period, rounded up to 10 ms (systemd keeps a percentage).
uint64_t quota_per_sec_usec(int64_t quota, uint64_t period);

// Annotations org.systemd.property.<Name>=<value> (value in GVariant text: 'str', true,
// uint64 5, 42, ['a','b']); <Name>Sec with a number becomes <Name>USec in microseconds, as
// in runc. Errors name the annotation.
std::vector<Property> annotation_properties(const std::map<std::string, std::string>& annotations);

}  // namespace skiff::cgroups::systemd
