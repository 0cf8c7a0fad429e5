"""pl Python module runner.

Started by the executor (src/exec/python/pool.ts) as
`python3 runner.py <mem_mb>`; serves steps of Python modules one at a time.

Protocol: JSON lines over fd 3 (a socket the parent created), in both
directions. The module's stdout/stderr are NOT the protocol channel: a module
may print anything (it is logged by the parent), and stdin is /dev/null.

  parent -> runner  {"t":"run", "module":{...}, "ctor":{...}, "parameters", "inputData", "limits":{"cpu_ms"}, "step":{...}, "tmpdir"}
                    {"t":"reply", "id", "ok", "value"|"error"}
  runner -> parent  {"t":"ready", "pid", "baseline_mb", "as_limit_mb"}
                    {"t":"started", "cpu0_ms", "rlimit_cpu_s"}   (only for a step with limits.cpu_ms)
                    {"t":"progress"|"log"|"call"|"ask", ...}
                    {"t":"result", "ok", "output"|"error", "usage", "tmpdir"}  (tmpdir: whether the step made its temp folder: the module read context.tmpdir)

Limits: RLIMIT_AS = address space at start + mem_mb (set once; a process
serves one memory limit). Per step with cpu_ms: ITIMER_PROF raises
CpuLimitExceeded inside Python code after cpu_ms of CPU time, and
RLIMIT_CPU (whole seconds, one second of slack) kills the process with
SIGXCPU if the module is stuck in C code. Cancellation: SIGUSR1 sets
context.signal.aborted; the parent kills the process after a grace period.
"""
import os
import signal
import sys

PROTO_FD = 3


def _init_of_namespace():
    """PID 1 of the step's PID namespace (started by `unshare --pid --fork`).

    The runner proper is forked off as PID 2; this process only reaps and
    forwards SIGUSR1 (cancel) to it. When the runner ends, this process exits
    with its status (a signal as 128 + signal number: an init cannot re-raise
    a signal on itself) and the kernel kills whatever is left in the
    namespace. Its own parent-death signal (unshare --kill-child) ends it
    when the node goes away.
    """
    child = os.fork()
    if child == 0:
        return
    os.close(PROTO_FD)
    signal.signal(signal.SIGUSR1, lambda s, f: os.kill(child, signal.SIGUSR1))
    signal.signal(signal.SIGTERM, lambda s, f: os.kill(child, signal.SIGKILL))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(1)
        if pid == child:
            os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


NAMESPACED = os.getpid() == 1
if NAMESPACED:
    _init_of_namespace()

import importlib.util  # noqa: E402 - the namespace's init forks before the runner's imports
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402


def _prctl_setup():
    """Dies with the node (Linux only); outside a namespace, also becomes a child subreaper.

    As a subreaper, the runner inherits what its descendants orphan (a
    double fork, a setsid()): while any process a step started lives, the
    runner has a child. So a runner with no child at all after a step has
    nothing to clear, and skips the walk over /proc. Returns whether it is one.
    """
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: if the node process is SIGKILLed, do not linger
        return not NAMESPACED and libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


SUBREAPER = _prctl_setup()
os.set_inheritable(PROTO_FD, False)
_reader = os.fdopen(os.dup(PROTO_FD), "rb")
os.set_inheritable(_reader.fileno(), False)

# Memory kept aside so that a MemoryError can still be reported.
_reserve = bytearray(1 << 20)


def send(msg):
    try:
        data = (json.dumps(msg, allow_nan=False) + "\n").encode("utf-8")
    except (TypeError, ValueError) as err:
        data = (json.dumps({"t": "log", "level": "error", "msg": "runner could not encode a message: %s" % err}) + "\n").encode()
    view = memoryview(data)
    while view:
        n = os.write(PROTO_FD, view)
        view = view[n:]


def read_msg():
    line = _reader.readline()
    if not line:
        os._exit(0)
    return json.loads(line)


def _status_field(data, field):
    at = data.find(b"\n" + field.encode() + b":")
    if at < 0:
        return None
    fields = data[at + len(field) + 2:data.find(b"\n", at + 1)].split()
    return int(fields[0]) if fields else None


_status_fd = [None]


def vm_kb(*fields):
    """`Vm*` fields of /proc/self/status in KiB; one field: its value.

    Read after every step: the file stays open (opened by the process that
    reads it: a namespace's init forks the runner first) and is read again
    from offset 0, which makes the kernel write it anew.
    """
    try:
        if _status_fd[0] is None:
            _status_fd[0] = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
        data = os.pread(_status_fd[0], 8192, 0)
    except OSError:
        data = b""
    values = tuple(_status_field(data, f) for f in fields)
    return values[0] if len(values) == 1 else values


def host_pid():
    """This process's pid as the node sees it (/proc is the node's: in a PID namespace getpid() says 2)."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def clear_leftovers():
    """Kills every process a step left behind, so none outlives its step.

    In the step's PID namespace, kill(-1) reaches every process in it but the
    init and this runner, wherever they moved (new sessions, double forks).
    Without a namespace this runner leads a process group: its other members
    are killed (a process that called setsid() is out of reach), after a
    check that the runner has a child at all (see _prctl_setup).
    """
    if NAMESPACED:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    else:
        if SUBREAPER:
            try:
                os.waitpid(-1, os.WNOHANG)  # reaps a finished child, if there is one
            except ChildProcessError:
                return  # no child at all, so no descendant is left: its orphans would be ours
        me = os.getpid()
        try:
            pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
        except OSError:
            pids = []
        for pid in pids:
            if pid == me:
                continue
            try:
                if os.getpgid(pid) == me:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    # our own children are reaped here; the rest by the namespace's init
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_ms():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1000.0


class CpuLimitExceeded(BaseException):
    """Raised in the module by SIGPROF when the step used its CPU time (BaseException: `except Exception` does not swallow it)."""


class Aborted(BaseException):
    pass


_aborted = False


# (cpu at step start, limit) of the running step; SIGPROF is tick-sampled and
# fires early under CPU contention, so the handler re-checks getrusage and
# re-arms the timer for what is left instead of failing early.
_cpu_budget = [0.0, None]


def _on_prof(signum, frame):
    c0, limit = _cpu_budget
    if limit is None:
        return
    left = limit - (cpu_ms() - c0)
    if left > 0.5:
        signal.setitimer(signal.ITIMER_PROF, left / 1000.0)
        return
    raise CpuLimitExceeded()


def _on_usr1(signum, frame):
    global _aborted
    _aborted = True


signal.signal(signal.SIGPROF, _on_prof)
signal.signal(signal.SIGUSR1, _on_usr1)
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

MEM_MB = int(sys.argv[1]) if len(sys.argv) > 1 else 512
BASELINE_KB = vm_kb("VmSize") or 0
AS_LIMIT = (BASELINE_KB * 1024) + MEM_MB * 1024 * 1024
try:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
except (ValueError, OSError):
    AS_LIMIT = None

_classes = {}
_instances = {}
_global_state = {}


def make_error(name, message, stack=None, details=None, retryable=False):
    out = {"name": name, "message": message, "retryable": bool(retryable)}
    if stack:
        out["stack"] = stack
    if details:
        out["details"] = details
    return out


class ModuleLoadError(Exception):
    pass


def load_class(module):
    cid = module["cid"]
    cls = _classes.get(cid)
    if cls is not None:
        return cls
    entry = module["entry"]
    if not os.path.isfile(entry):
        raise ModuleLoadError("module %s: %s does not exist" % (module["key"], entry))
    folder = os.path.dirname(entry)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = "pl_module_" + "".join(c if c.isalnum() else "_" for c in cid)
    spec = importlib.util.spec_from_file_location(name, entry)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except (Exception, SyntaxError) as err:
        raise ModuleLoadError("module %s cannot be loaded from %s: %s: %s" % (module["key"], entry, type(err).__name__, err)) from err
    wanted = module.get("className")
    if wanted:
        cls = getattr(mod, wanted, None)
        if not isinstance(cls, type):
            raise ModuleLoadError("module %s: function.py defines no class %s" % (module["key"], wanted))
    else:
        found = [v for v in vars(mod).values() if isinstance(v, type) and v.__module__ == name]
        if len(found) != 1:
            raise ModuleLoadError("module %s: function.py must define exactly one class, or the manifest must name it (found: %s)"
                                  % (module["key"], ", ".join(c.__name__ for c in found) or "none"))
        cls = found[0]
    if not callable(getattr(cls, "eval", None)):
        raise ModuleLoadError("module %s: class %s has no eval() method" % (module["key"], cls.__name__))
    _classes[cid] = cls
    return cls


# (cid, ctor, key) of the last step: the same module and constructor arguments again skip encoding the key
_last_ctor = [None, None, None]


def instance_for(msg):
    module = msg["module"]
    c = msg["ctor"]
    if _last_ctor[0] == module["cid"] and _last_ctor[1] == c:
        key = _last_ctor[2]
    else:
        key = module["cid"] + "\0" + json.dumps(c, sort_keys=True)
        _last_ctor[0], _last_ctor[1], _last_ctor[2] = module["cid"], c, key
    inst = _instances.get(key)
    if inst is None:
        cls = load_class(module)
        inst = cls(c["name"], c["settings"], c["parameters"], c["globalSettings"], c["globalParameters"], _global_state)
        if len(_instances) >= 256:
            _instances.pop(next(iter(_instances)))
        _instances[key] = inst
    return inst


class _RemoteError(Exception):
    def __init__(self, data):
        super().__init__(data.get("message", ""))
        self.pl_name = data.get("name", "Error")
        self.details = data.get("details")
        self.retryable = bool(data.get("retryable", False))


def _named_error(data):
    cls = type(str(data.get("name", "Error")), (_RemoteError,), {})
    return cls(data)


_next_id = [1]


def request(msg):
    rid = _next_id[0]
    _next_id[0] += 1
    msg["id"] = rid
    send(msg)
    while True:
        m = read_msg()
        if m.get("t") == "reply" and m.get("id") == rid:
            if m.get("ok"):
                return m.get("value")
            raise _named_error(m.get("error") or {})


class Signal:
    @property
    def aborted(self):
        return _aborted

    def throw_if_aborted(self):
        if _aborted:
            raise Aborted("the step was cancelled")


class _Log:
    def _log(self, level, msg, data=None):
        out = {"t": "log", "level": level, "msg": str(msg)}
        if data is not None:
            try:
                json.dumps(data)
                out["data"] = data
            except (TypeError, ValueError):
                out["data"] = str(data)
        send(out)

    def debug(self, msg, data=None):
        self._log("debug", msg, data)

    def info(self, msg, data=None):
        self._log("info", msg, data)

    def warn(self, msg, data=None):
        self._log("warn", msg, data)

    warning = warn

    def error(self, msg, data=None):
        self._log("error", msg, data)


class _Addons:
    def webhook(self, name, data=None):
        return request({"t": "call", "kind": "webhook", "name": str(name), "data": data})

    def callback(self, name, data=None):
        return request({"t": "call", "kind": "callback", "name": str(name), "data": data})

    def llm(self, name, req=None):
        return request({"t": "call", "kind": "llm", "name": str(name), "data": req})


class _Human:
    def ask(self, question=None, choices=None, timeout_ms=None, timeoutMs=None):
        if isinstance(question, dict):
            q = question
            question, choices = q.get("question"), q.get("choices", choices)
            timeout_ms = q.get("timeoutMs", q.get("timeout_ms", timeout_ms))
        t = timeout_ms if timeout_ms is not None else timeoutMs
        ask = {"question": str(question)}
        if choices is not None:
            ask["choices"] = [str(c) for c in choices]
        if t is not None:
            ask["timeoutMs"] = t
        return request({"t": "ask", "question": ask})


# the running step's temp folder: made when the module first reads context.tmpdir
_step_dir = {"path": None, "made": False}


class Context:
    # stateless helpers, shared by every step (the signal reads the runner's abort flag)
    signal = Signal()
    log = _Log()
    addons = _Addons()
    human = _Human()

    def __init__(self, step):
        self.run_id = step.get("runId")
        self.step = step.get("key")
        self.attempt = step.get("attempt")
        self.constraints = step.get("constraints") or {}

    @property
    def tmpdir(self):
        """The step's own temp folder (made on first use, removed by the node after the step)."""
        path = _step_dir["path"]
        if path is not None and not _step_dir["made"]:
            os.makedirs(path, mode=0o700, exist_ok=True)
            _step_dir["made"] = True
        return path

    def progress(self, n, total=None, message=None):
        out = {"t": "progress", "n": float(n)}
        if total is not None:
            out["total"] = float(total)
        if message is not None:
            out["message"] = str(message)
        send(out)


def check_json(value, path="$"):
    """Returns None if value is JSON, else a description of the first offending path."""
    if value is None or isinstance(value, (str, bool)):
        return None
    if isinstance(value, int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "%s is the number %r (JSON has no NaN or Infinity)" % (path, value)
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            bad = check_json(v, "%s[%d]" % (path, i))
            if bad:
                return bad
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return "%s has a non-string key %r" % (path, k)
            bad = check_json(v, "%s.%s" % (path, k))
            if bad:
                return bad
        return None
    return "%s is a %s" % (path, type(value).__name__)


def set_cpu_limit(limit_ms, used_ms):
    if limit_ms is None and _cpu_budget[1] is None:
        return None  # no limit set, none to clear (most steps: no syscall)
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    _cpu_budget[0], _cpu_budget[1] = used_ms, limit_ms
    if limit_ms is None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        return None
    signal.setitimer(signal.ITIMER_PROF, max(limit_ms, 1) / 1000.0)
    secs = int(math.ceil((used_ms + limit_ms) / 1000.0)) + 1
    if hard != resource.RLIM_INFINITY:
        secs = min(secs, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (secs, hard))
    return secs


# whether the resident peak (VmHWM) is above what is resident now: only then must the next step reset it
_peak_above_rss = [True]


def usage_since(t0, c0):
    peak, rss = vm_kb("VmHWM", "VmRSS")
    _peak_above_rss[0] = peak is None or rss is None or peak > rss
    return {"wall_ms": (time.monotonic() - t0) * 1000.0, "cpu_ms": cpu_ms() - c0, "mem_peak_mb": (peak or 0) / 1024.0}


def send_result(msg):
    """The step is over: nothing it started may outlive it (usage was measured before)."""
    clear_leftovers()
    msg["tmpdir"] = _step_dir["made"]
    send(msg)


def run_step(msg):
    global _aborted, _reserve
    _aborted = False
    # a spare runner (started before any module) moves into the folder of the module it serves
    cwd = msg.get("cwd")
    if cwd and cwd != os.getcwd():
        os.chdir(cwd)
    _step_dir["path"], _step_dir["made"] = msg.get("tmpdir"), False
    limits = msg.get("limits") or {}
    cpu_limit = limits.get("cpu_ms")
    if _peak_above_rss[0]:
        reset_peak_rss()
    c0 = cpu_ms()
    t0 = time.monotonic()
    secs = set_cpu_limit(cpu_limit, c0)
    if cpu_limit is not None:
        # the parent's CPU accounting starts here; without a CPU limit its wall clock started when it sent the step
        send({"t": "started", "cpu0_ms": c0, "rlimit_cpu_s": secs})
    try:
        inst = instance_for(msg)
        out = inst.eval(msg.get("parameters") or {}, msg.get("inputData") or {}, Context(msg.get("step") or {}))
        if hasattr(out, "__await__"):
            import asyncio  # slow to import: only for async eval()
            out = asyncio.run(out)
        set_cpu_limit(None, 0)
        bad = check_json(out)
        if bad:
            send_result({"t": "result", "ok": False, "usage": usage_since(t0, c0),
                  "error": make_error("InvalidOutputError", "module output is not JSON: " + bad)})
            return
        send_result({"t": "result", "ok": True, "output": out, "usage": usage_since(t0, c0)})
    except CpuLimitExceeded:
        set_cpu_limit(None, 0)
        used = cpu_ms() - c0
        send_result({"t": "result", "ok": False, "usage": usage_since(t0, c0), "error": make_error(
            "CpuTimeExceededError", "module %s used more CPU time than its limit of %s ms (measured %d ms)" % (msg["module"]["key"], cpu_limit, used),
            details={"limit": "cpu_ms", "limit_value": cpu_limit, "measured": round(used)})})
    except MemoryError:
        _reserve = None
        set_cpu_limit(None, 0)
        stack = traceback.format_exc()
        peak = vm_kb("VmPeak") or 0
        measured = max(0, (peak - BASELINE_KB) / 1024.0)
        send_result({"t": "result", "ok": False, "fatal": True, "usage": usage_since(t0, c0), "error": make_error(
            "MemoryLimitExceededError", "module %s went over its address-space limit of %d MiB (measured %d MiB)" % (msg["module"]["key"], MEM_MB, measured),
            stack=stack, details={"limit": "mem_mb", "limit_value": MEM_MB, "measured": round(measured)})})
    except ModuleLoadError as err:
        set_cpu_limit(None, 0)
        send_result({"t": "result", "ok": False, "usage": usage_since(t0, c0), "error": make_error("ModuleLoadError", str(err), stack=traceback.format_exc())})
    except BaseException as err:  # noqa: B902 - everything a module raises is reported
        set_cpu_limit(None, 0)
        if isinstance(err, SystemExit):
            send_result({"t": "result", "ok": False, "fatal": True, "usage": usage_since(t0, c0), "error": make_error(
                "ModuleCrashedError", "module %s called exit(%s); modules must return from eval()" % (msg["module"]["key"], err.code))})
            return
        name = getattr(err, "pl_name", None) or type(err).__name__
        details = getattr(err, "details", None)
        send_result({"t": "result", "ok": False, "usage": usage_since(t0, c0), "error": make_error(
            name, str(err), stack=traceback.format_exc(), details=details if isinstance(details, dict) else None,
            retryable=getattr(err, "retryable", False) is True)})


def main():
    send({"t": "ready", "pid": host_pid(), "namespaced": NAMESPACED, "baseline_mb": BASELINE_KB / 1024.0,
          "as_limit_mb": None if AS_LIMIT is None else AS_LIMIT / (1024.0 * 1024.0)})
    while True:
        msg = read_msg()
        if msg.get("t") == "run":
            run_step(msg)
        elif msg.get("t") == "exit":
            return


if __name__ == "__main__":
    main()
