// A temp directory standing in for /sys/fs/cgroup: tests pre-create the interface files the
// kernel would offer, run the manager, and read back what it wrote. Removed on destruction.
#pragma once
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace skiff::cgroups::testing {

class TempTree {
public:
    TempTree() {
        char tmpl[] = "/tmp/skiff-cgtest-XXXXXX";
        char* d = ::mkdtemp(tmpl);
        if (!d) std::abort();
        root_ = d;
    }
    ~TempTree() {
        ::nftw(root_.c_str(),
               [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
               FTW_DEPTH | FTW_PHYS);
    }
    TempTree(const TempTree&) = delete;
    TempTree& operator=(const TempTree&) = delete;

    const std::string& root() const { return root_; }
    std::string path(const std::string& rel) const { return root_ + "/" + rel; }

    void mkdir(const std::string& rel) const {
        std::string cur = root_;
        std::istringstream in(rel);
        std::string part;
        while (std::getline(in, part, '/')) {
            if (part.empty()) continue;
            cur += "/" + part;
            ::mkdir(cur.c_str(), 0755);
        }
    }
    // Creates the file (and its directories) with content.
    void file(const std::string& rel, const std::string& content = "") const {
        auto slash = rel.rfind('/');
        if (slash != std::string::npos) mkdir(rel.substr(0, slash));
        std::ofstream(path(rel), std::ios::trunc) << content;
    }
    std::string read(const std::string& rel) const {
        std::ifstream in(path(rel));
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    bool exists(const std::string& rel) const {
        struct stat st;
        return ::stat(path(rel).c_str(), &st) == 0;
    }

private:
    std::string root_;
};

}  // namespace skiff::cgroups::testing
