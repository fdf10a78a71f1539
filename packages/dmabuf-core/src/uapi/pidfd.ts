// kernel/pid.c and fs/pidfs.c: pidfds (pidfd_open, pidfd_getfd's pidfd_get_task) and their flags.
import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import { File, O_CLOEXEC, O_RDWR, type FileOperations } from "./file.js";
import type { Task } from "./task.js";

/** `PIDFD_NONBLOCK` (= O_NONBLOCK). @public */
export const PIDFD_NONBLOCK = 0o4000;
/** `PIDFD_SELF_THREAD`: a pidfd value meaning "the calling thread". @public */
export const PIDFD_SELF_THREAD = -10000;
/** `PIDFD_SELF_THREAD_GROUP`: "the calling process". @public */
export const PIDFD_SELF_THREAD_GROUP = -20000;

/** `struct pid`: stays valid after the task is reaped; then it has no task. @public */
export interface Pid {
  readonly nr: number;
  task: Task | null;
}

/** pidfs `file_operations`: a pidfd refers to a `struct pid`. */
export const PIDFS_FILE_OPERATIONS: FileOperations = { name: "pidfd" };

/** `pidfd_pid()`: the pid behind a pidfd file. @throws KernelError `EBADF` for any other file. @public */
export function pidfdPid(file: File): Pid {
  if (file.fops !== PIDFS_FILE_OPERATIONS) throw new KernelError("EBADF", "pidfd_pid", `${file.fops.name} file is not a pidfd`);
  return file.privateData as Pid;
}

/**
 * `pidfd_get_task(pidfd, &flags)` as the current task: resolves the
 * thread-group leader the pidfd refers to.
 * - `EBADF`: not an open fd, or an fd that is not a pidfd;
 * - `ESRCH`: the process has been reaped.
 * `PIDFD_SELF_THREAD(_GROUP)` refer to the caller.
 * @public
 */
export function pidfdGetTask(kernel: Kernel, pidfd: number): { task: Task; flags: number } {
  const current = kernel.current;
  if (pidfd === PIDFD_SELF_THREAD || pidfd === PIDFD_SELF_THREAD_GROUP) return { task: current, flags: 0 };
  const file = current.files.lookup(pidfd);
  if (!file) throw new KernelError("EBADF", "pidfd_get_pid", `fd ${pidfd}`);
  const pid = pidfdPid(file);
  if (!pid.task || pid.task.state === "dead") throw new KernelError("ESRCH", "pidfd_get_task", `pid ${pid.nr} has no task`);
  return { task: pid.task, flags: file.flags };
}

/** `pidfd_create()`: a new pidfd file for `pid`. */
export function pidfdCreate(kernel: Kernel, pid: Pid, flags: number): File {
  return new File(kernel, PIDFS_FILE_OPERATIONS, pid, O_RDWR | (flags & PIDFD_NONBLOCK) | O_CLOEXEC);
}
