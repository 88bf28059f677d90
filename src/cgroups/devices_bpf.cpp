#include "cgroups/devices_bpf.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/error.hpp"

namespace skiff::cgroups::bpf {

namespace {

// Registers: r1 = ctx on entry; after the prologue r2 = type, r3 = access, r4 = major,
// r5 = minor; r1 is then scratch.
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst;
    i.src_reg = src;
    i.off = off;
    i.imm = imm;
    return i;
}

bpf_insn load_ctx(uint8_t dst, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, 1, off, 0); }
bpf_insn alu_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn mov_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn jmp_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
    return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

uint32_t access_mask(const std::string& access) {
    uint32_t m = 0;
    for (char c : access.empty() ? std::string("rwm") : access) {
        if (c == 'r') m |= BPF_DEVCG_ACC_READ;
        else if (c == 'w') m |= BPF_DEVCG_ACC_WRITE;
        else if (c == 'm') m |= BPF_DEVCG_ACC_MKNOD;
        else throw Error(std::string("linux.resources.devices: invalid access \"") + access + "\"");
    }
    return m;
}

long sys_bpf(int cmd, bpf_attr* attr) { return ::syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

std::vector<bpf_insn> device_program(const std::vector<oci::DeviceRule>& rules) {
    std::vector<bpf_insn> p = {
        load_ctx(2, 0),                // access_type
        alu_imm(BPF_AND, 2, 0xFFFF),   // low half: device type
        load_ctx(3, 0),
        alu_imm(BPF_RSH, 3, 16),       // high half: access bits
        load_ctx(4, 4),                // major
        load_ctx(5, 8),                // minor
    };
    // Last rule first: the first match of this walk is the last match in spec order.
    bool terminated = false;
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
        const auto& r = *it;
        std::vector<bpf_insn> block;  // jumps use off = -1 as "to the next rule" until patched
        std::string type = r.type.empty() ? "a" : r.type;
        if (type != "a") {
            int32_t t;
            if (type == "c") t = BPF_DEVCG_DEV_CHAR;
            else if (type == "b") t = BPF_DEVCG_DEV_BLOCK;
            else throw Error("linux.resources.devices: invalid type \"" + type + "\"");
            block.push_back(jmp_imm(BPF_JNE, 2, t, -1));
        }
        uint32_t mask = access_mask(r.access);
        const uint32_t all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
        if (r.allow && mask != all) {
            // allow matches only when every requested bit is granted
            block.push_back(mov_reg(1, 3));
            block.push_back(alu_imm(BPF_AND, 1, static_cast<int32_t>(~mask & all)));
            block.push_back(jmp_imm(BPF_JNE, 1, 0, -1));
        } else if (!r.allow && mask != all) {
            // deny matches when any requested bit is denied
            block.push_back(mov_reg(1, 3));
            block.push_back(alu_imm(BPF_AND, 1, static_cast<int32_t>(mask)));
            block.push_back(jmp_imm(BPF_JEQ, 1, 0, -1));
        }
        if (type != "a" && r.major && *r.major >= 0)
            block.push_back(jmp_imm(BPF_JNE, 4, static_cast<int32_t>(*r.major), -1));
        if (type != "a" && r.minor && *r.minor >= 0)
            block.push_back(jmp_imm(BPF_JNE, 5, static_cast<int32_t>(*r.minor), -1));
        block.push_back(mov_imm(0, r.allow ? 1 : 0));
        block.push_back(exit_insn());
        for (size_t i = 0; i < block.size(); ++i)
            if (BPF_CLASS(block[i].code) == BPF_JMP && BPF_OP(block[i].code) != BPF_EXIT &&
                block[i].off == -1)
                block[i].off = static_cast<int16_t>(block.size() - i - 1);
        p.insert(p.end(), block.begin(), block.end());
        // A rule that matches everything ends the program: the verifier refuses dead code.
        if (block.size() == 2) {
            terminated = true;
            break;
        }
    }
    if (!terminated) {
        p.push_back(mov_imm(0, 0));
        p.push_back(exit_insn());
    }
    return p;
}

bool evaluate(const std::vector<bpf_insn>& program, uint32_t type, uint32_t access,
              uint32_t major, uint32_t minor) {
    uint64_t reg[11] = {};
    const uint32_t ctx[3] = {type | (access << 16), major, minor};
    for (size_t pc = 0; pc < program.size(); ++pc) {
        const bpf_insn& i = program[pc];
        uint8_t cls = BPF_CLASS(i.code), op = BPF_OP(i.code);
        if (cls == BPF_LDX) {
            reg[i.dst_reg] = ctx[i.off / 4];
        } else if (cls == BPF_ALU || cls == BPF_ALU64) {
            uint64_t v = BPF_SRC(i.code) == BPF_X ? reg[i.src_reg] : static_cast<uint64_t>(int64_t{i.imm});
            if (op == BPF_MOV) reg[i.dst_reg] = v;
            else if (op == BPF_AND) reg[i.dst_reg] &= v;
            else if (op == BPF_RSH) reg[i.dst_reg] >>= v;
            else throw Error("evaluate: unsupported alu op");
            if (cls == BPF_ALU) reg[i.dst_reg] &= 0xFFFFFFFFu;
        } else if (cls == BPF_JMP) {
            if (op == BPF_EXIT) return reg[0] != 0;
            uint64_t v = static_cast<uint64_t>(int64_t{i.imm});
            bool take = op == BPF_JEQ ? reg[i.dst_reg] == v : reg[i.dst_reg] != v;
            if (op != BPF_JEQ && op != BPF_JNE) throw Error("evaluate: unsupported jump");
            if (take) pc += static_cast<size_t>(i.off);
        } else {
            throw Error("evaluate: unsupported instruction");
        }
    }
    throw Error("evaluate: program ran off its end");
}

void attach_device_program(int dir_fd, const std::vector<bpf_insn>& program) {
    // Programs attached before ours: detached once ours is in.
    uint32_t old_ids[64] = {};
    bpf_attr q{};
    q.query.target_fd = static_cast<uint32_t>(dir_fd);
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
    q.query.prog_cnt = 64;
    uint32_t old_count = sys_bpf(BPF_PROG_QUERY, &q) == 0 ? q.query.prog_cnt : 0;

    static const char license[] = "Apache";
    char log[4096] = {};
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<uint64_t>(program.data());
    load.insn_cnt = static_cast<uint32_t>(program.size());
    load.license = reinterpret_cast<uint64_t>(license);
    load.log_buf = reinterpret_cast<uint64_t>(log);
    load.log_size = sizeof log;
    load.log_level = 1;
    int prog = static_cast<int>(sys_bpf(BPF_PROG_LOAD, &load));
    if (prog < 0 && errno == ENOSPC) {  // log too small: load again without it
        load.log_buf = 0;
        load.log_size = 0;
        load.log_level = 0;
        prog = static_cast<int>(sys_bpf(BPF_PROG_LOAD, &load));
    }
    if (prog < 0) {
        int e = errno;
        throw Error(std::string("load the device cgroup program: ") + std::strerror(e) +
                        (log[0] ? std::string(": ") + log : std::string()),
                    e);
    }
    bpf_attr at{};
    at.target_fd = static_cast<uint32_t>(dir_fd);
    at.attach_bpf_fd = static_cast<uint32_t>(prog);
    at.attach_type = BPF_CGROUP_DEVICE;
    at.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &at) != 0) {
        int e = errno;
        ::close(prog);
        throw_errno("attach the device cgroup program", e);
    }
    ::close(prog);  // the attachment keeps the program alive
    for (uint32_t i = 0; i < old_count && i < 64; ++i) {
        bpf_attr g{};
        g.prog_id = old_ids[i];
        int old = static_cast<int>(sys_bpf(BPF_PROG_GET_FD_BY_ID, &g));
        if (old < 0) continue;
        bpf_attr d{};
        d.target_fd = static_cast<uint32_t>(dir_fd);
        d.attach_bpf_fd = static_cast<uint32_t>(old);
        d.attach_type = BPF_CGROUP_DEVICE;
        int rc = static_cast<int>(sys_bpf(BPF_PROG_DETACH, &d));
        int e = errno;
        ::close(old);
        if (rc != 0) throw_errno("detach the previous device cgroup program", e);
    }
}

}  // namespace skiff::cgroups::bpf
