// drivers/pci/msi: MSI-X vectors of a PCI function, each a Linux irq with its handler (core request_irq), delivered in hard-IRQ context.
import { KernelWeakMap, KernelLocal, KernelError, freeIrq, raiseIrq, requestIrq, type Kernel, type PciDev } from "@dmabuf-sdk/dmabuf-core";

/** `irq_handler_t`: returns whether the interrupt was handled (`IRQ_HANDLED`). @public */
export type IrqHandler = (vector: number) => boolean;

interface Vectors {
  /** `pci_irq_vector(pdev, nr)`: the Linux irq of each vector. */
  readonly irqs: number[];
  readonly handlers: (IrqHandler | null)[];
  /** Interrupts raised and delivered, per vector (`/proc/interrupts`). */
  readonly counts: number[];
}

const VECTORS = new KernelWeakMap<PciDev, Vectors>("VECTORS", (pdev) => pdev.kernel);
const NEXT_IRQ = new KernelLocal<number>("NEXT_IRQ");

/**
 * `msi_domain_alloc_irqs()`: the next Linux irq number. MSI irqs are numbered
 * from 4096 here, clear of the legacy range and of other drivers' lines
 * (the Xe model numbers its own from 128).
 */
function allocIrq(k: Kernel): number {
  const n = NEXT_IRQ.get(k) ?? 4096;
  NEXT_IRQ.set(k, n + 1);
  return n;
}

/**
 * `pci_irq_vector(pdev, nr)`: the Linux irq of MSI-X vector `nr`, or
 * `EINVAL` when the function has no such vector.
 * @public
 */
export function pciIrqVector(pdev: PciDev, nr: number): number {
  const irq = VECTORS.get(pdev)?.irqs[nr];
  if (irq === undefined) throw new KernelError("EINVAL", "pci_irq_vector", `vector ${nr}`);
  return irq;
}

/** `pci_alloc_irq_vectors(pdev, 1, n, PCI_IRQ_MSIX)`: `n` vectors (`EINVAL` for none). @public */
export function pciAllocIrqVectors(pdev: PciDev, n: number): number {
  if (n < 1) throw new KernelError("EINVAL", "pci_alloc_irq_vectors", `${n} vectors`);
  pdev.kernel.alloc.kzalloc("msi_desc");
  VECTORS.set(pdev, { irqs: Array.from({ length: n }, () => allocIrq(pdev.kernel)), handlers: new Array<IrqHandler | null>(n).fill(null), counts: new Array<number>(n).fill(0) });
  return n;
}

/** `pci_free_irq_vectors()`: every handler must have been freed. @public */
export function pciFreeIrqVectors(pdev: PciDev): void {
  const v = VECTORS.get(pdev);
  if (v?.handlers.some((h) => h)) pdev.kernel.warn(`${pdev.name}: pci_free_irq_vectors with handlers still requested`);
  VECTORS.delete(pdev);
}

/**
 * `pci_request_irq()` on `vector`: `request_irq()` of its Linux irq, so the
 * handler runs in hard-IRQ context under lockdep's IRQ rules.
 * `EINVAL` without vectors, `EBUSY` when taken.
 * @public
 */
export function pciRequestIrq(pdev: PciDev, vector: number, handler: IrqHandler): void {
  const v = VECTORS.get(pdev);
  if (!v || vector >= v.handlers.length) throw new KernelError("EINVAL", "pci_request_irq", `vector ${vector}`);
  if (v.handlers[vector]) throw new KernelError("EBUSY", "pci_request_irq", `vector ${vector}`);
  requestIrq(pdev.kernel, v.irqs[vector]!, () => {
    v.counts[vector]!++;
    return handler(vector) ? "IRQ_HANDLED" : "IRQ_NONE";
  }, {}, `${pdev.name} q${vector}`, v);
  v.handlers[vector] = handler;
}

/** `pci_free_irq()`. @public */
export function pciFreeIrq(pdev: PciDev, vector: number): void {
  const v = VECTORS.get(pdev);
  if (!v?.handlers[vector]) return;
  freeIrq(pdev.kernel, v.irqs[vector]!, v);
  v.handlers[vector] = null;
}

/** Interrupts delivered on `vector` so far. @public */
export function pciIrqCount(pdev: PciDev, vector: number): number {
  return VECTORS.get(pdev)?.counts[vector] ?? 0;
}

/**
 * The device signals MSI-X `vector`: its Linux irq is raised and the handler
 * runs in hard-IRQ context at the next instant of virtual time (not inside
 * the device's own step). A masked or unrequested vector is lost, as a
 * spurious interrupt would be.
 * @public
 */
export function msixRaise(kernel: Kernel, pdev: PciDev, vector: number): void {
  const v = VECTORS.get(pdev);
  const irq = v?.irqs[vector];
  if (!v || irq === undefined || !v.handlers[vector]) {
    kernel.printk.warn(`${pdev.name}: spurious MSI-X vector ${vector}`);
    return;
  }
  raiseIrq(kernel, irq);
}
