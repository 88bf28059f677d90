#include "cgroups/systemd_legacy.hpp"

#include <string>

namespace skiff::cgroups::systemd {

std::vector<Property> legacy_properties(const std::vector<Property>& props, const oci::Resources& r) {
    std::vector<Property> out;
    const auto& b = r.block_io;
    for (const Property& p : props) {
        if (p.name == "CPUWeight" && r.cpu && r.cpu->shares && *r.cpu->shares) {
            out.push_back({"CPUShares", "t", std::to_string(*r.cpu->shares)});
        } else if (p.name == "IOWeight" && b && b->weight && *b->weight) {
            out.push_back({"BlockIOWeight", "t", std::to_string(*b->weight)});
        } else if (p.name == "IODeviceWeight" && b) {
            std::string v;
            for (const auto& d : b->weight_device) {
                if (!d.weight || !*d.weight) continue;
                v += (v.empty() ? "" : ",") + escape("/dev/block/" + std::to_string(d.major) + ":" +
                                                     std::to_string(d.minor)) +
                     "=" + std::to_string(*d.weight);
            }
            out.push_back({"BlockIODeviceWeight", "a(st)", v});
        } else if (p.name == "MemoryMax") {
            out.push_back({"MemoryLimit", p.sig, p.value});
        } else if (p.name == "IOReadBandwidthMax") {
            out.push_back({"BlockIOReadBandwidth", p.sig, p.value});
        } else if (p.name == "IOWriteBandwidthMax") {
            out.push_back({"BlockIOWriteBandwidth", p.sig, p.value});
        } else if (p.name == "IOAccounting") {
            out.push_back({"BlockIOAccounting", p.sig, p.value});
        } else {
            out.push_back(p);
        }
    }
    return out;
}

}  // namespace skiff::cgroups::systemd
