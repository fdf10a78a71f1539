// One simulated kernel: boot options, its DI container, oops/WARN handling, and the subsystems it owns.
import { installKernelLocals } from "./kernel-local.js";
import { createRequire } from "node:module";
import type { DependencyContainer, InjectionToken } from "tsyringe";
import { KernelBug, KernelError } from "./kernel-error.js";
import { FaultInjector } from "./fault-inject.js";
import { LeakChecker, LeakSource, ObjectTracker, type LeakEntry } from "./leak.js";
import { Lockdep } from "./lockdep.js";
import { ModuleLoader, type LoadOptions } from "./module-loader.js";
import type { KernelModule, LoadedModule } from "./module.js";
import { Printk } from "./printk.js";
import { KernelRandom } from "./random.js";
import { KernelAllocator } from "./slab.js";
import { KernelClock } from "./time.js";
import { Scheduler } from "./sched.js";
import { Workqueues } from "./workqueue.js";
import { Trace } from "./trace.js";
import { Platform } from "../platform/platform.js";
import { CgroupRoot } from "../uapi/cgroup.js";
import { INIT_CRED, type Cred } from "../uapi/cred.js";
import { Devfs } from "../uapi/devfs.js";
import type { Pid } from "../uapi/pidfd.js";
import { Task } from "../uapi/task.js";
import type { Cgroup } from "../uapi/cgroup.js";
import { registerDmaBufCore, type DmaBufCoreState } from "../dma-buf/dma-buf-core-module.js";

// tsyringe and its reflect-metadata polyfill are CommonJS. Loaded through
// `import`, Node 20 translates each of their 35 files for the ESM loader
// (~40 ms of CPU, a sixth of the CLI's start-up); `require` loads the same
// module instances, which an `import "tsyringe"` elsewhere then shares.
const require = createRequire(import.meta.url);
require("reflect-metadata");
const { container: rootContainer } = require("tsyringe") as typeof import("tsyringe");

/** Boot options of a {@link Kernel}. @public */
export interface KernelOptions {
  /** Seed of `get_random_*()`; the same seed gives the same run. */
  seed: number;
  /** `panic_on_warn`: WARNs and failed lockdep assertions throw {@link KernelBug} instead of being logged and recorded. Default false, as in the kernel; the conformance app checks the records instead. */
  panicOnWarn: boolean;
  /** `CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS`. */
  allowMissingNamespaceImports: boolean;
  /** IOMMU mode of the machine. */
  iommu: "dma" | "identity" | "off";
  /** `iommu.strict=`: with `iommu: 'dma'`, strict (true, the default) or lazy flush-queue (false) unmapping. */
  iommuStrict: boolean;
  /** IOMMU input address width (bits). */
  iommuAddressWidth: number;
  /** `RLIMIT_NOFILE` of new processes. */
  nrOpen: number;
  /** Lockdep turns itself off after the first splat (`debug_locks_off()`), as the kernel does. Default false: every distinct splat is recorded. */
  lockdepOneShot: boolean;
}

const DEFAULTS: KernelOptions = {
  seed: 1,
  panicOnWarn: false,
  allowMissingNamespaceImports: false,
  iommu: "dma",
  iommuStrict: true,
  iommuAddressWidth: 48,
  nrOpen: 1024,
  lockdepOneShot: false,
};

/** One oops: a model bug caught at the syscall boundary. @public */
export interface Oops {
  readonly syscall: string;
  readonly error: unknown;
}

/**
 * One simulated machine: its own DI container, module loader and symbol
 * table, platform, processes, dma-bufs, log and trace. Nothing is global:
 * two kernels in one process never see each other.
 * @public
 */
export class Kernel {
  readonly options: KernelOptions;
  /** The kernel's container (a child of tsyringe's root, which stays empty). */
  readonly container: DependencyContainer;
  readonly clock = new KernelClock();
  readonly random: KernelRandom;
  readonly printk: Printk;
  readonly trace: Trace;
  readonly faults: FaultInjector;
  readonly alloc: KernelAllocator;
  readonly lockdep: Lockdep;
  /** Kernel threads, the idle task, interrupts and the pick-next policy. */
  readonly sched: Scheduler;
  /** Worker pools and the system workqueues. */
  readonly workqueues: Workqueues;
  readonly objects = new ObjectTracker();
  readonly leaks: LeakChecker;
  readonly modules: ModuleLoader;
  readonly platform: Platform;
  readonly cgroups = new CgroupRoot();
  readonly devfs = new Devfs();
  /** `init_task` / pid 1. */
  readonly init: Task;
  /** State of the dma-buf core (`db_list`, …). */
  readonly dmaBuf: DmaBufCoreState;
  readonly #pids = new Map<number, Pid>();
  #nextPid = 1;
  #ino = 1;
  #current: Task;
  readonly #warnedOnce = new Set<string>();
  /** Per-kernel state of other files and packages ({@link KernelLocal}), by their private key. */
  readonly #locals = new Map<object, unknown>();

  static {
    // kernel-local.ts keeps the only way in, module-private.
    installKernelLocals((k) => k.#locals);
  }
  readonly #warnings: string[] = [];
  readonly #oopses: Oops[] = [];

  constructor(options: Partial<KernelOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.container = rootContainer.createChildContainer();
    this.random = new KernelRandom(this.options.seed);
    this.printk = new Printk(() => this.clock.nowNs);
    this.trace = new Trace(() => this.clock.nowNs, () => this.#current?.comm ?? "swapper/0");
    this.faults = new FaultInjector(() => this.random.getRandomU32() / 0x1_0000_0000);
    this.alloc = new KernelAllocator(this.faults);
    this.lockdep = new Lockdep(() => this.#current, { panicOnWarn: this.options.panicOnWarn, log: (t) => this.printk.warn(t), oneShot: this.options.lockdepOneShot });
    this.sched = new Scheduler(this);
    this.workqueues = new Workqueues(this);
    this.platform = new Platform(this.alloc, this.trace, { iommu: this.options.iommu, iommuStrict: this.options.iommuStrict, iommuAddressWidth: this.options.iommuAddressWidth });
    this.modules = new ModuleLoader(this);
    this.init = this.#newTask("init", INIT_CRED, this.cgroups.root, null);
    this.#current = this.init;
    this.leaks = new LeakChecker(() => [
      this.objects,
      this.platform.physmem,
      ...(this.platform.iommu ? [this.platform.iommu] : []),
      { name: "fds", collect: () => this.tasks().flatMap((t) => t.files.collect()) },
      ...this.providers(LeakSource),
    ]);
    this.container.register(Kernel, { useValue: this });
    this.container.register(Platform, { useValue: this.platform });
    this.dmaBuf = registerDmaBufCore(this);
  }

  /** The task the kernel is running on behalf of (`current`). */
  get current(): Task {
    return this.#current;
  }

  /** Runs `fn` with `task` as `current` (syscall entry). */
  runAs<T>(task: Task, fn: () => T): T {
    const prev = this.#current;
    this.#current = task;
    try {
      return fn();
    } finally {
      this.#current = prev;
    }
  }

  // ---- modules ------------------------------------------------------------

  /** `insmod`: see `ModuleLoader.load`. */
  loadModule(mod: KernelModule, opts?: LoadOptions): LoadedModule {
    return this.modules.load(mod, opts);
  }

  /** `modprobe`: loads `mod` after what it `requires`; already-loaded modules are skipped. */
  modprobe(mod: KernelModule, opts?: LoadOptions): LoadedModule {
    const loaded = this.modules.find(mod.name);
    if (loaded) return loaded;
    for (const dep of mod.requires ?? []) this.modprobe(dep, opts);
    return this.modules.load(mod, opts);
  }

  /** `rmmod`. */
  unloadModule(name: string): void {
    this.modules.unload(name);
  }

  /** Values provided under `token` by loaded modules (hooks, leak sources). */
  providers<T>(token: InjectionToken<T>): T[] {
    return this.modules.providers(token);
  }

  // ---- WARN and oops --------------------------------------------------------

  /** `WARN(1, msg)`: logs a warning; throws {@link KernelBug} under `panicOnWarn`. */
  warn(msg: string): void {
    this.#warnings.push(msg);
    this.printk.warn(`WARNING: CPU: 0 PID: ${this.#current.pid} ${msg}`);
    this.trace.emit("warn", { msg });
    if (this.options.panicOnWarn) throw new KernelBug("WARN", msg);
  }

  /** `WARN_ON(cond)`: returns `cond`, warning when it holds. */
  warnOn(cond: boolean, msg: string): boolean {
    if (cond) this.warn(msg);
    return cond;
  }

  /** `WARN_ON_ONCE()`, keyed by call site. */
  warnOnce(site: string, msg: string): void {
    if (this.#warnedOnce.has(site)) return;
    this.#warnedOnce.add(site);
    this.warn(msg);
  }

  /** Warnings so far. */
  warnings(): readonly string[] {
    return this.#warnings;
  }

  /** Records a model bug caught at the syscall boundary. */
  oops(syscall: string, error: unknown): void {
    this.#oopses.push({ syscall, error });
    this.printk.err(`BUG: ${syscall}: ${error instanceof Error ? error.message : String(error)}`);
  }

  /** Oopses so far (the conformance app requires none). */
  oopses(): readonly Oops[] {
    return this.#oopses;
  }

  // ---- processes ------------------------------------------------------------

  #newTask(comm: string, cred: Cred, cgroup: Cgroup, parent: Task | null): Task {
    const pid = this.#nextPid++;
    const t = new Task(this, pid, comm, cred, cgroup, parent);
    this.#pids.set(pid, { nr: pid, task: t });
    return t;
  }

  /** @internal A kernel thread task (`Scheduler.kthreadCreate`), outside the pid table of processes. */
  _newKthread(comm: string, pid: number): Task {
    return new Task(this, pid, comm, INIT_CRED, this.cgroups.root, null, true);
  }

  /**
   * `fork()` of `parent` (default `current`): same creds and cgroup unless
   * given, a copy of the fd table, a fresh address space.
   */
  fork(opts: { comm?: string; cred?: Partial<Cred>; cgroup?: Cgroup; parent?: Task } = {}): Task {
    const parent = opts.parent ?? this.#current;
    const cred = opts.cred ? Object.freeze({ ...parent.cred, ...opts.cred }) : parent.cred;
    const t = this.#newTask(opts.comm ?? parent.comm, cred, opts.cgroup ?? parent.cgroup, parent);
    parent.files.copyTo(t.files);
    return t;
  }

  /**
   * `do_exit()`: closes the fd table, drops the address space, leaves a
   * zombie. Children of init are reaped at once, as init does.
   */
  exitTask(task: Task, code: number): void {
    if (task.state !== "running") return;
    if (task === this.init) throw new KernelBug("panic", "Attempted to kill init!");
    this.runAs(task, () => {
      task.files.closeAll();
      task.mm?.exitMmap();
    });
    task.mm = null;
    task.exitCode = code;
    task.state = "zombie";
    for (const c of task.children) {
      c.parent = this.init;
      this.init.children.add(c);
      if (c.state === "zombie") this.reap(c);
    }
    task.children.clear();
    if (task.parent === this.init) this.reap(task);
  }

  /** `release_task()` after `wait()`: the pid no longer has a task. */
  reap(task: Task): void {
    if (task.state !== "zombie") throw new KernelError("ECHILD", "wait", `${task} has not exited`);
    task.state = "dead";
    task.cgroup._removeProc(task);
    task.parent?.children.delete(task);
    const p = this.#pids.get(task.pid);
    if (p) p.task = null;
  }

  /** `find_get_pid()`. */
  findPid(nr: number): Pid | undefined {
    return this.#pids.get(nr);
  }

  /** Tasks that have not been reaped. */
  tasks(): Task[] {
    return [...this.#pids.values()].map((p) => p.task).filter((t): t is Task => !!t && t.state !== "dead");
  }

  /** Next inode number (`get_next_ino()`). */
  nextIno(): number {
    return this.#ino++;
  }

  /** The leak report (what is alive beyond the baseline). */
  leakReport(): { entries: readonly LeakEntry[]; empty: boolean; text(): string } {
    return this.leaks.report();
  }
}
