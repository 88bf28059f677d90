// The manager against this host's real cgroups (whatever layout it has): create with
// resources, place a process, pause, list, kill, destroy. Root only; each test removes the
// cgroups it made, also when an assertion fails.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "cgroups/fs.hpp"
#include "cgroups/fs_manager.hpp"
#include "base/error.hpp"

using namespace skiff;
using namespace skiff::cgroups;

namespace {

class HostCgroup : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        opts_.container_id = "unit-" + std::to_string(::getpid());
        opts_.cgroups_path = "/skiff-unit/" + opts_.container_id;
        opts_.warn = [](const std::string&) {};
        mgr_ = std::make_unique<FsManager>(opts_);
    }
    void TearDown() override {
        if (child_ > 0) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
        }
        if (mgr_) {
            try {
                mgr_->destroy();
            } catch (...) {
            }
            for (const auto& h : mgr_->hierarchies()) {
                std::string parent = h.host_path.substr(0, h.host_path.rfind('/'));
                ::rmdir(parent.c_str());
            }
        }
    }
    pid_t spawn_sleeper() {
        child_ = ::fork();
        if (child_ == 0) {
            ::execl("/bin/sleep", "sleep", "300", nullptr);
            ::_exit(127);
        }
        return child_;
    }
    Options opts_;
    std::unique_ptr<FsManager> mgr_;
    pid_t child_ = -1;
};

}  // namespace

TEST_F(HostCgroup, ResourcesReachTheKernel) {
    oci::Resources r;
    r.memory = oci::Memory{};
    r.memory->limit = 64 * 1024 * 1024;
    r.pids = oci::Pids{32};
    r.cpu = oci::Cpu{};
    r.cpu->shares = 512;
    r.cpu->quota = 20000;
    r.cpu->period = 100000;
    mgr_->create(&r);
    const auto& pl = mgr_->placement();
    auto mem = pl.controllers.at("memory");
    EXPECT_EQ(fs::read_line(fs::join(mem.dir, mem.v2 ? "memory.max" : "memory.limit_in_bytes")),
              "67108864");
    auto pids = pl.controllers.at("pids");
    EXPECT_EQ(fs::read_line(fs::join(pids.dir, "pids.max")), "32");
    auto cpu = pl.controllers.at("cpu");
    if (cpu.v2) {
        EXPECT_EQ(fs::read_line(fs::join(cpu.dir, "cpu.max")), "20000 100000");
        EXPECT_EQ(fs::read_line(fs::join(cpu.dir, "cpu.weight")), "20");
    } else {
        EXPECT_EQ(fs::read_line(fs::join(cpu.dir, "cpu.cfs_quota_us")), "20000");
        EXPECT_EQ(fs::read_line(fs::join(cpu.dir, "cpu.shares")), "512");
    }
    for (const auto& h : mgr_->hierarchies()) EXPECT_TRUE(fs::exists(h.host_path)) << h.host_path;
}

TEST_F(HostCgroup, PlaceFreezeListKillDestroy) {
    mgr_->create(nullptr);
    pid_t pid = spawn_sleeper();
    ASSERT_GT(pid, 0);
    mgr_->add_process(pid);
    for (const auto& h : mgr_->hierarchies()) {
        auto procs = fs::read(fs::join(h.host_path, "cgroup.procs"));
        EXPECT_NE(procs.find(std::to_string(pid)), std::string::npos) << h.host_path;
    }
    EXPECT_EQ(mgr_->pids(), std::vector<pid_t>{pid});
    mgr_->freeze();
    EXPECT_TRUE(mgr_->frozen());
    mgr_->thaw();
    EXPECT_FALSE(mgr_->frozen());
    auto stats = nlohmann::json::parse(mgr_->stats_json());
    EXPECT_EQ(stats["pids"]["current"], 1);
    // A nested cgroup the container made must not keep destroy() from succeeding.
    for (const auto& h : mgr_->hierarchies()) fs::mkdir_p(fs::join(h.host_path, "inner"));
    mgr_->kill_all(SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    child_ = -1;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    mgr_->destroy();
    for (const auto& h : mgr_->hierarchies()) EXPECT_FALSE(fs::exists(h.host_path)) << h.host_path;
    mgr_->destroy();  // twice is fine: a missing cgroup is not an error
}

TEST_F(HostCgroup, KillAllWithOtherSignalsThroughTheFreezer) {
    mgr_->create(nullptr);
    pid_t pid = spawn_sleeper();
    mgr_->add_process(pid);
    mgr_->kill_all(SIGTERM);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    child_ = -1;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    EXPECT_FALSE(mgr_->frozen());
}

TEST_F(HostCgroup, RemoveIfEmptyKeepsAPopulatedCgroupAndRemovesAnEmptyOne) {
    mgr_->create(nullptr);
    pid_t pid = spawn_sleeper();
    mgr_->add_process(pid);
    // A live task: nothing may go from the hierarchy that lists it, so kill_all still finds it.
    EXPECT_FALSE(mgr_->remove_if_empty());
    EXPECT_EQ(mgr_->pids(), std::vector<pid_t>{pid});
    mgr_->kill_all(SIGKILL);
    ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
    child_ = -1;
    // The kernel drops a dead task from its cgroups asynchronously: retry briefly.
    bool removed = false;
    for (int i = 0; i < 200 && !(removed = mgr_->remove_if_empty()); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(removed);
    for (const auto& h : mgr_->hierarchies()) EXPECT_FALSE(fs::exists(h.host_path)) << h.host_path;
    EXPECT_TRUE(mgr_->remove_if_empty());  // a missing cgroup counts as removed
}
