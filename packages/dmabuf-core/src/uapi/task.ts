// include/linux/sched.h: struct task_struct, a process with its mm, files and cred, and its life cycle.
import type { Kernel } from "../kernel/kernel.js";
import type { LockOwner } from "../kernel/lockdep.js";
import type { Cgroup } from "./cgroup.js";
import type { Cred } from "./cred.js";
import { FdTable } from "./fdtable.js";
import { Mm } from "./mm.js";
import { UserSyscalls } from "./syscalls.js";

/** Task life cycle: running, exited but not reaped, gone. @public */
export type TaskState = "running" | "zombie" | "dead";

/**
 * `struct task_struct` of a single-threaded process (pid == tgid): credentials,
 * cgroup membership, an fd table and an address space. `sys` makes syscalls
 * as this task and returns what the syscall returns.
 * @public
 */
export class Task implements LockOwner {
  state: TaskState = "running";
  exitCode = 0;
  /** `task->mm`; null once the task has exited (`exit_mm()`). */
  mm: Mm | null;
  readonly files: FdTable;
  readonly children = new Set<Task>();
  /** Syscalls made as this task. */
  readonly sys: UserSyscalls;

  constructor(
    readonly kernel: Kernel,
    readonly pid: number,
    public comm: string,
    public cred: Cred,
    public cgroup: Cgroup,
    public parent: Task | null,
    /** `PF_KTHREAD`: a kernel thread (kworker, kthread, idle): no address space, not in a cgroup's procs. */
    readonly kthread = false,
  ) {
    this.mm = kthread ? null : new Mm(kernel);
    this.files = new FdTable(kernel, () => `${this.comm}[${this.pid}]`);
    this.sys = new UserSyscalls(kernel, this);
    if (!kthread) {
      cgroup._addProc(this);
      parent?.children.add(this);
    }
  }

  /** `task->tgid`. */
  get tgid(): number {
    return this.pid;
  }

  toString(): string {
    return `${this.comm}[${this.pid}]`;
  }
}
