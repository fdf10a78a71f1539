// kernel/irq/manage.c + drivers/pci/msi: MSI-X vectors of a PCI function and their handlers, delivered as hard interrupts on virtual time.
import { KernelError, type Kernel, type PciDev } from "@dmabuf-sdk/dmabuf-core";

/** `irq_handler_t`: returns whether the interrupt was handled (`IRQ_HANDLED`). */
export type IrqHandler = (vector: number) => boolean;

interface Vectors {
  readonly handlers: (IrqHandler | null)[];
  /** Interrupts raised and delivered, per vector (`/proc/interrupts`). */
  readonly counts: number[];
}

const VECTORS = new WeakMap<PciDev, Vectors>();

/** `pci_alloc_irq_vectors(pdev, 1, n, PCI_IRQ_MSIX)`: `n` vectors (`EINVAL` for none). */
export function pciAllocIrqVectors(pdev: PciDev, n: number): number {
  if (n < 1) throw new KernelError("EINVAL", "pci_alloc_irq_vectors", `${n} vectors`);
  pdev.kernel.alloc.kzalloc("msi_desc");
  VECTORS.set(pdev, { handlers: new Array<IrqHandler | null>(n).fill(null), counts: new Array<number>(n).fill(0) });
  return n;
}

/** `pci_free_irq_vectors()`: every handler must have been freed. */
export function pciFreeIrqVectors(pdev: PciDev): void {
  const v = VECTORS.get(pdev);
  if (v?.handlers.some((h) => h)) pdev.kernel.warn(`${pdev.name}: pci_free_irq_vectors with handlers still requested`);
  VECTORS.delete(pdev);
}

/** `pci_request_irq()` on `vector`: `EINVAL` without vectors, `EBUSY` when taken. */
export function pciRequestIrq(pdev: PciDev, vector: number, handler: IrqHandler): void {
  const v = VECTORS.get(pdev);
  if (!v || vector >= v.handlers.length) throw new KernelError("EINVAL", "pci_request_irq", `vector ${vector}`);
  if (v.handlers[vector]) throw new KernelError("EBUSY", "pci_request_irq", `vector ${vector}`);
  v.handlers[vector] = handler;
}

/** `pci_free_irq()`. */
export function pciFreeIrq(pdev: PciDev, vector: number): void {
  const v = VECTORS.get(pdev);
  if (v) v.handlers[vector] = null;
}

/** Interrupts delivered on `vector` so far. */
export function pciIrqCount(pdev: PciDev, vector: number): number {
  return VECTORS.get(pdev)?.counts[vector] ?? 0;
}

/**
 * The device signals MSI-X `vector`: the handler runs as a hard interrupt at
 * the next instant of virtual time (not inside the device's own step). A
 * masked or unrequested vector is lost, as a spurious interrupt would be.
 */
export function msixRaise(kernel: Kernel, pdev: PciDev, vector: number): void {
  kernel.clock.schedule(0, () => {
    const v = VECTORS.get(pdev);
    const h = v?.handlers[vector];
    if (!v || !h) {
      kernel.printk.warn(`${pdev.name}: spurious MSI-X vector ${vector}`);
      return;
    }
    v.counts[vector]!++;
    h(vector);
  });
}
