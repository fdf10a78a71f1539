// kernel/irq/manage.c + handle.c: request_irq() and device interrupts delivered in hard-IRQ context.
import { KernelLocal } from "./kernel-local.js";
import { KernelError } from "./kernel-error.js";
import type { Kernel } from "./kernel.js";
import type { TimerHandle } from "./time.js";

/** `irqreturn_t`. @public */
export type IrqReturn = "IRQ_NONE" | "IRQ_HANDLED";

/** An interrupt handler (`irq_handler_t`). @public */
export type IrqHandler = (irq: number, devId: unknown) => IrqReturn;

interface IrqAction {
  readonly name: string;
  readonly handler: IrqHandler;
  readonly devId: unknown;
  readonly shared: boolean;
}

const ACTIONS = new KernelLocal<Map<number, IrqAction[]>>("ACTIONS");

function actionsOf(k: Kernel): Map<number, IrqAction[]> {
  let m = ACTIONS.get(k);
  if (!m) ACTIONS.set(k, (m = new Map()));
  return m;
}

/**
 * `request_irq(irq, handler, flags, name, dev_id)`. A second handler on one
 * line needs `IRQF_SHARED` on both (`EBUSY` otherwise) and a `dev_id`.
 * @throws KernelError `EINVAL` (shared without dev_id), `EBUSY`.
 * @public
 */
export function requestIrq(k: Kernel, irq: number, handler: IrqHandler, flags: { shared?: boolean }, name: string, devId: unknown): void {
  const shared = flags.shared ?? false;
  if (shared && devId === undefined) throw new KernelError("EINVAL", "request_irq", "IRQF_SHARED without dev_id");
  const m = actionsOf(k);
  const list = m.get(irq) ?? [];
  if (list.length && !(shared && list.every((a) => a.shared))) throw new KernelError("EBUSY", "request_irq", `irq ${irq} is taken by ${list[0]!.name}`);
  list.push({ name, handler, devId, shared });
  m.set(irq, list);
}

/** `free_irq(irq, dev_id)`: WARNs when no such handler was requested. @public */
export function freeIrq(k: Kernel, irq: number, devId: unknown): void {
  const list = actionsOf(k).get(irq) ?? [];
  const i = list.findIndex((a) => a.devId === devId);
  if (i < 0) {
    k.warn(`Trying to free already-free IRQ ${irq}`);
    return;
  }
  list.splice(i, 1);
  if (!list.length) actionsOf(k).delete(irq);
}

/** `handle_irq_event()`: every action of the line, in hard-IRQ context on the current task. */
export function handleIrq(k: Kernel, irq: number): IrqReturn {
  return k.sched.irq(() => {
    let ret: IrqReturn = "IRQ_NONE";
    for (const a of [...(actionsOf(k).get(irq) ?? [])]) if (a.handler(irq, a.devId) === "IRQ_HANDLED") ret = "IRQ_HANDLED";
    if (ret === "IRQ_NONE") k.trace.emit("irq_spurious", { irq });
    return ret;
  });
}

/**
 * The platform raises interrupt `irq` `delayNs` from now (a device finished
 * work): the handlers run in hard-IRQ context on the idle CPU.
 * @public
 */
export function raiseIrq(k: Kernel, irq: number, delayNs = 0): TimerHandle {
  return k.sched.raiseIrq(`${irq}`, () => void handleIrqHandlers(k, irq), delayNs);
}

function handleIrqHandlers(k: Kernel, irq: number): void {
  let handled = false;
  for (const a of [...(actionsOf(k).get(irq) ?? [])]) if (a.handler(irq, a.devId) === "IRQ_HANDLED") handled = true;
  if (!handled) k.trace.emit("irq_spurious", { irq });
}

/** Registered handler names of `irq` (`/proc/interrupts`). @internal */
export function irqActions(k: Kernel, irq: number): string[] {
  return (actionsOf(k).get(irq) ?? []).map((a) => a.name);
}
