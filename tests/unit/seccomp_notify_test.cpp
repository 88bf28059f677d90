// SCMP_ACT_NOTIFY end to end: a child loads a NOTIFY filter, hands the listener fd and the
// container process state to tests/helpers/seccomp_agent, and the agent answers its mkdir.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/error.hpp"
#include "init/seccomp_listener.hpp"
#include "linux/channel.hpp"
#include "init/seccomp_profile.hpp"
#include "seccomp_test_util.hpp"

using namespace skiff;
using skiff::test::rule;
using skiff::test::run_in_child;

namespace {

std::string agent_path() {
    char self[PATH_MAX] = {};
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
    return dir.substr(0, dir.rfind('/')) + "/seccomp_agent";
}

// A running agent plus the temp dir it lives in; the destructor removes everything.
class Agent {
public:
    explicit Agent(const std::string& mode) {
        char tmpl[] = "/tmp/skiff-seccomp-XXXXXX";
        if (!::mkdtemp(tmpl)) return;
        dir_ = tmpl;
        socket_ = dir_ + "/agent.sock";
        int out[2];
        if (::pipe2(out, O_CLOEXEC) < 0) return;
        std::string exe = agent_path();
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            ::execl(exe.c_str(), exe.c_str(), socket_.c_str(), mode.c_str(), (char*)nullptr);
            ::_exit(127);
        }
        ::close(out[1]);
        out_ = out[0];
    }

    ~Agent() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) ::close(out_);
        if (!dir_.empty()) {
            ::unlink(socket_.c_str());
            ::rmdir((dir_ + "/made").c_str());
            ::rmdir(dir_.c_str());
        }
    }

    // Reads agent output until `want` appears or the deadline passes.
    bool wait_for(const std::string& want, int timeout_ms = 10000) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (output_.find(want) == std::string::npos) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{out_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            ssize_t n = ::read(out_, buf, sizeof buf);
            if (n <= 0) return output_.find(want) != std::string::npos;
            output_.append(buf, static_cast<size_t>(n));
        }
        return true;
    }

    // Exit status of the agent, or -1 if it did not end within the timeout.
    int wait_exit(int timeout_ms = 10000) {
        for (int waited = 0; waited < timeout_ms; waited += 10) {
            int status;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return status;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }

    // The JSON the agent received, from its "state <json>" line.
    nlohmann::json state() const {
        auto at = output_.find("state ");
        if (at == std::string::npos) return nullptr;
        auto end = output_.find('\n', at);
        return nlohmann::json::parse(output_.substr(at + 6, end - at - 6), nullptr, false);
    }

    const std::string& dir() const { return dir_; }
    const std::string& socket() const { return socket_; }
    const std::string& output() const { return output_; }

private:
    std::string dir_, socket_, output_;
    pid_t pid_ = -1;
    int out_ = -1;
};

oci::Seccomp notify_mkdir(const std::string& socket) {
    oci::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    s.listener_path = socket;
    s.listener_metadata = "skiff-test-metadata";
    s.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    s.syscalls.push_back(rule({"mkdir", "mkdirat"}, "SCMP_ACT_NOTIFY"));
    return s;
}

const char* kState =
    R"({"ociVersion":"1.3.0","id":"c1","status":"creating","pid":1,"bundle":"/b",)"
    R"("annotations":{"k":"v"}})";

// In a child: load the filter, send the fd, then mkdir <dir>/made; returns its errno.
int child_mkdir(const oci::Seccomp& s, const std::string& dir) {
    return run_in_child([&] {
        int fd = seccomp::load(s);
        if (fd < 0) return 150;
        // The init's own steps: connect before the filter, send after it (process.cpp).
        int sock = connect_unix(s.listener_path, "seccomp listener");
        init::send_listener(sock, kState, ::getpid(), s.listener_metadata, fd);
        ::close(sock);
        ::close(fd);
        return ::mkdir((dir + "/made").c_str(), 0700) == 0 ? 0 : errno;
    });
}

}  // namespace

TEST(SeccompNotify, AgentMakesMkdirFailWithChosenErrno) {
    Agent agent("errno:" + std::to_string(EROFS));
    ASSERT_TRUE(agent.wait_for("ready\n")) << agent.output();
    oci::Seccomp s = notify_mkdir(agent.socket());

    int status = child_mkdir(s, agent.dir());
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), EROFS);
    struct stat st;
    EXPECT_NE(::stat((agent.dir() + "/made").c_str(), &st), 0);

    EXPECT_TRUE(agent.wait_for("done\n")) << agent.output();
    int agent_status = agent.wait_exit();
    EXPECT_TRUE(WIFEXITED(agent_status) && WEXITSTATUS(agent_status) == 0) << agent.output();
    EXPECT_NE(agent.output().find("notif "), std::string::npos);

    // The container process state, as runtime-spec config-linux.md describes it.
    auto state = agent.state();
    ASSERT_TRUE(state.is_object()) << agent.output();
    EXPECT_EQ(state["ociVersion"], "1.3.0");
    EXPECT_EQ(state["fds"], nlohmann::json::array({"seccompFd"}));
    EXPECT_TRUE(state["pid"].is_number_integer());
    EXPECT_EQ(state["metadata"], "skiff-test-metadata");
    EXPECT_EQ(state["state"]["id"], "c1");
    EXPECT_EQ(state["state"]["status"], "creating");
    EXPECT_EQ(state["state"]["annotations"]["k"], "v");
}

TEST(SeccompNotify, AgentLetsMkdirContinue) {
    Agent agent("continue");
    ASSERT_TRUE(agent.wait_for("ready\n")) << agent.output();
    int status = child_mkdir(notify_mkdir(agent.socket()), agent.dir());
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
    struct stat st;
    EXPECT_EQ(::stat((agent.dir() + "/made").c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(WEXITSTATUS(agent.wait_exit()), 0) << agent.output();
}

TEST(SeccompNotify, ConnectToMissingSocketIsAnError) {
    char tmpl[] = "/tmp/skiff-seccomp-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string path = std::string(tmpl) + "/nobody.sock";
    try {
        ::close(connect_unix(path, "seccomp listener"));
        ADD_FAILURE() << "connect_unix did not throw";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "connect to seccomp listener " + path + ": No such file or directory");
    }
    ::rmdir(tmpl);
}

TEST(SeccompNotify, ListenerMessageWrapsTheState) {
    auto doc = nlohmann::json::parse(init::listener_message(kState, 42, ""));
    EXPECT_EQ(doc["ociVersion"], "1.3.0");
    EXPECT_EQ(doc["fds"], nlohmann::json::array({"seccompFd"}));
    EXPECT_EQ(doc["pid"], 42);
    EXPECT_FALSE(doc.contains("metadata"));  // OPTIONAL, and absent when not configured
    EXPECT_EQ(doc["state"]["bundle"], "/b");
    auto quoted = nlohmann::json::parse(init::listener_message(kState, 7, "a \"b\"\n"));
    EXPECT_EQ(quoted["metadata"], "a \"b\"\n");
}
