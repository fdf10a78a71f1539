// fs/file_table.c: fput() defers the final __fput() so it never runs under the caller's locks.
import { KernelLocal } from "../kernel/kernel-local.js";
import type { Kernel } from "../kernel/kernel.js";
import { initWork, scheduleWork, type WorkStruct } from "../kernel/workqueue.js";
import type { File } from "./file.js";

interface DelayedFput {
  readonly list: File[];
  readonly work: WorkStruct;
}

const STATE = new KernelLocal<DelayedFput>("STATE");

function delayedFput(k: Kernel): DelayedFput {
  let s = STATE.get(k);
  if (!s) {
    const list: File[] = [];
    // delayed_fput(): every file on the list gets its final put, on a kworker.
    const work = initWork(k, "delayed_fput_work", () => {
      for (const f of list.splice(0)) f.put();
    });
    STATE.set(k, (s = { list, work }));
  }
  return s;
}

/**
 * `fput()`: drops a reference; the last one is not released here but from
 * `delayed_fput_work` on the system workqueue (the kernel uses task work on
 * return to user space for tasks and this work for kernel threads; the
 * model has no task work, so every final put takes the kworker path).
 * @public
 */
export function fput(file: File): void {
  if (file.count > 1) {
    file.put();
    return;
  }
  const s = delayedFput(file.kernel);
  s.list.push(file);
  scheduleWork(s.work);
}
