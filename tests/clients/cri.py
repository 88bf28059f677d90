"""A minimal CRI (runtime.v1) client, enough to run a pod and one container the way the
kubelet does, with a runtime handler. Messages are encoded by hand (a few protobuf fields)
so the test needs only grpcio, not generated code. Field numbers follow the CRI's api.proto."""

import grpc

VARINT, LEN = 0, 2
NODE = 2  # NamespaceMode.NODE: share the host's namespace (no CNI network needed)
CONTAINER_EXITED = 2


def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def msg(*fields):
    """fields: (number, value) pairs; value is int, str, bytes (an encoded message), or a
    list of str for repeated strings. None values are skipped."""
    out = bytearray()
    for num, val in fields:
        if val is None:
            continue
        if isinstance(val, list):
            for v in val:
                out += msg((num, v))
        elif isinstance(val, bool) or isinstance(val, int):
            out += _varint(num << 3 | VARINT) + _varint(int(val))
        else:
            data = val.encode() if isinstance(val, str) else val
            out += _varint(num << 3 | LEN) + _varint(len(data)) + data
    return bytes(out)


def map_entries(num, mapping):
    return [(num, msg((1, k), (2, v))) for k, v in mapping.items()]


def parse(data):
    """Decodes one message level into {field number: [values]}; LEN values stay bytes."""
    fields, i = {}, 0

    def varint():
        nonlocal i
        shift = result = 0
        while True:
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result
    while i < len(data):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == VARINT:
            val = varint()
        elif wt == LEN:
            n = varint()
            val = data[i:i + n]
            i += n
        elif wt == 1:
            val, i = data[i:i + 8], i + 8
        elif wt == 5:
            val, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        fields.setdefault(num, []).append(val)
    return fields


def first(fields, num, default=None):
    return fields.get(num, [default])[0]


def parse_map(values):
    return {first(parse(e), 1, b"").decode(): first(parse(e), 2, b"").decode() for e in values}


class RuntimeService:
    def __init__(self, socket_path):
        self.channel = grpc.insecure_channel("unix://" + socket_path)

    def close(self):
        self.channel.close()

    def call(self, method, request, timeout=60):
        rpc = self.channel.unary_unary(f"/runtime.v1.RuntimeService/{method}",
                                       request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
        return parse(rpc(request, timeout=timeout))

    def version(self):
        r = self.call("Version", msg((1, "v1")))
        return first(r, 2, b"").decode(), first(r, 4, b"").decode()

    @staticmethod
    def sandbox_config(name, uid, log_dir, cgroup_parent):
        security = msg((1, msg((1, NODE), (2, 0), (3, 0))))  # host network, pod pid/ipc
        linux = msg((1, cgroup_parent), (2, security))
        # No hostname: with the host's network the pod shares the host's UTS namespace.
        return msg((1, msg((1, name), (2, uid), (3, "default"), (4, 0))),
                   (3, log_dir), (8, linux))

    def run_pod(self, config, handler):
        return first(self.call("RunPodSandbox", msg((1, config), (2, handler)), timeout=120),
                     1).decode()

    def pod_status(self, pod_id):
        r = self.call("PodSandboxStatus", msg((1, pod_id), (2, True)))
        return parse(first(r, 1)), parse_map(r.get(2, []))

    def create_container(self, pod_id, sandbox_config, name, image, command, log_path):
        config = msg((1, msg((1, name), (2, 0))), (2, msg((1, image))), (3, command),
                     (11, log_path))
        return first(self.call("CreateContainer", msg((1, pod_id), (2, config),
                                                      (3, sandbox_config))), 1).decode()

    def start_container(self, cid):
        # (a VM-isolated container's start returns once its guest is up: a boot under TCG)
        self.call("StartContainer", msg((1, cid)), timeout=600)

    def container_status(self, cid):
        r = self.call("ContainerStatus", msg((1, cid), (2, True)))
        status = parse(first(r, 1))
        return {"state": first(status, 3, 0), "exit_code": first(status, 7, 0),
                "reason": first(status, 10, b"").decode(),
                "message": first(status, 11, b"").decode()}, parse_map(r.get(2, []))

    def remove_container(self, cid):
        self.call("RemoveContainer", msg((1, cid)))

    def stop_pod(self, pod_id):
        self.call("StopPodSandbox", msg((1, pod_id)))

    def remove_pod(self, pod_id):
        self.call("RemovePodSandbox", msg((1, pod_id)))
