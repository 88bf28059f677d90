// The guest agent's side of the agent channel (agent_channel.hpp): the session ports, the
// guest skiff each session runs, and the relay of its stdio or terminal. Driven by the
// agent's poll loop in agent.cpp.
#pragma once
#include <poll.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "vm/agent_outbox.hpp"

namespace skiff::vm {

// Accepts on `listener` the connection of a skiff that sends a pty master over a console
// socket; -1 if `launcher` ends first (then its status is in launcher_status).
int receive_pty_master(int listener, pid_t launcher, int& launcher_status, bool& launcher_done);
// A listening console socket at `path` (-1 on failure).
int listen_console(const std::string& path);

class AgentSessions {
public:
    // Finds the skiff.agent<N> ports (none on a host that offers none) and asks for SIGIO when
    // the host connects to one, so that idle ports need no polling.
    void open_ports(const std::string& id);
    // Appends what to poll; handle() takes the same vector back from index `from`.
    void add_polls(std::vector<struct pollfd>& polls);
    void handle(const std::vector<struct pollfd>& polls, size_t from);
    // A child the init reaped that is not the container's `skiff run`.
    void child_exited(pid_t pid, int status);
    // After SIGIO or a timeout: which idle ports has the host connected to.
    void recheck();
    // The poll timeout the sessions need (ms, -1 for none).
    int poll_timeout() const;

private:
    struct Session {
        int nr = 0;
        int port = -1;
        bool connected = false;
        std::string inbuf;
        pid_t pid = -1;  // what the session follows: the exec'd process, or the guest skiff
        int in = -1, out = -1, err = -1, master = -1;
        bool describe = false;  // stdout is a JSON pid list: send the processes it names
        std::string captured;
        Outbox to_host, to_process;  // never a blocking write (agent_outbox.hpp)
        bool in_end = false;         // close stdin once to_process is written
    };
    void on_frame(Session& s, char type, const std::string& payload);
    void launch(Session& s, const std::string& request);
    void end_process(Session& s, int status);
    void drop(Session& s);
    // Closes the agent's ends of the followed process's stdio and forgets it (it runs on).
    void forget_process(Session& s);
    void send(Session& s, char type, const std::string& payload);
    bool pump(Session& s, int& fd, char type);
    void to_process(Session& s, const std::string& bytes);
    void flushed_to_process(Session& s, int& fd, bool ok);

    std::string id_;  // the container, as the guest's skiff knows it
    std::vector<Session> sessions_;
    std::vector<std::pair<size_t, int*>> polled_;  // (session, its fd) per poll entry
};

}  // namespace skiff::vm
