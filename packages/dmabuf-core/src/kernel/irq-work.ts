// kernel/irq_work.c: work run from a (self-)interrupt, in hard-IRQ context, outside the queuer's locks.
import type { Kernel } from "./kernel.js";

/**
 * `irq_work_queue()` of a one-shot function: `fn` runs from the irq_work
 * interrupt (hard-IRQ context, on the idle CPU in the model) as soon as the
 * queuing task lets other work run.
 * @public
 */
export function irqWorkQueue(k: Kernel, name: string, fn: () => void): void {
  k.sched.raiseIrq(`irq_work ${name}`, fn);
}
