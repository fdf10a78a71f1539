// Test kit of memcg-lsm: a kernel with the system heap, memcg and SELinux loaded, tasks in cgroups, dmabuf stat readers.
import { Kernel, O_RDWR, buildTopology, topologyKernelOptions, type Cgroup, type Kernel as K, type Task, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import {
  cgroupRead,
  dmaHeapModuleWithParams,
  memcgModuleWithParams,
  selinuxLoadPolicy,
  selinuxModule,
  selinuxModuleWithParams,
  systemHeapModule,
} from "../index.js";

/** @public */
export interface BootOptions {
  topology?: TopologyName;
  memAccounting?: boolean;
  memcgDisabled?: boolean;
  /** Load SELinux (enforcing unless "permissive"), optionally with a policy. */
  selinux?: boolean | "permissive";
  policy?: string;
}

/** A kernel with the system heap (and what it requires) loaded. @public */
export function boot(opts: BootOptions = {}): { k: K; t: ReturnType<typeof buildTopology> } {
  const name = opts.topology ?? "same-switch";
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name);
  if (opts.memcgDisabled) k.loadModule(memcgModuleWithParams({ cgroupDisableMemory: true }));
  if (opts.memAccounting !== undefined) k.modprobe(dmaHeapModuleWithParams({ memAccounting: opts.memAccounting }));
  k.modprobe(systemHeapModule);
  if (opts.selinux) k.modprobe(opts.selinux === "permissive" ? selinuxModuleWithParams({ enforcing: false }) : selinuxModule);
  if (opts.policy !== undefined) selinuxLoadPolicy(k, opts.policy);
  return { k, t };
}

/** @public */
export const ALLOCATOR = "u:r:allocator_app_t:s0";
/** @public */
export const CLIENT = "u:r:client_app_t:s0";

/**
 * A process labelled `security` in `cgroup` (a path, created if needed),
 * child of init unless `parent` is given, with fds 0-2 open on /dev/null as a
 * real process has them (so a pidfd it opens is never fd 0, which
 * `charge_pid_fd` reads as "not set").
 * @public
 */
export function spawn(k: K, comm: string, security: string, cgroup: string | Cgroup, parent?: Task, opts: { stdio?: boolean } = {}): Task {
  const cg = typeof cgroup === "string" ? k.cgroups.mkdirP(cgroup) : cgroup;
  const t = k.fork({ comm, cred: { security }, cgroup: cg, parent: parent ?? k.init });
  if (opts.stdio ?? true) {
    if (!k.devfs.lookup("null")) k.devfs.register("null", { fops: { name: "null" } });
    while (t.files.fds().length < 3) t.sys.open("/dev/null", O_RDWR);
  }
  return t;
}

/** `dmabuf` of a cgroup's memory.stat, in bytes. @public */
export function dmabuf(k: K, cgroup: string | Cgroup): bigint {
  const m = /^dmabuf (\d+)$/m.exec(cgroupRead(k, cgroup, "memory.stat"));
  if (!m) throw new Error("no dmabuf line in memory.stat");
  return BigInt(m[1]!);
}

/** `memory.current` in bytes. @public */
export function current(k: K, cgroup: string | Cgroup): bigint {
  return BigInt(cgroupRead(k, cgroup, "memory.current").trim());
}

/** Allow rule text with the class defined. @public */
export const policy = (...rules: string[]): string => ["class dma_heap { charge_to }", ...rules].join("\n") + "\n";

/** @public */
export const ALLOW_CLIENT = "allow allocator_app_t client_app_t:dma_heap charge_to;";

/** Exits every process but init (children of init are reaped as they exit). @public */
export function exitAll(k: K): void {
  for (const t of k.tasks()) if (t !== k.init && t.state === "running") k.exitTask(t, 0);
  for (const t of k.tasks()) if (t !== k.init && t.state === "zombie") k.reap(t);
}
