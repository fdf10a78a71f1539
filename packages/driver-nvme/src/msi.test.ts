// Tests MSI-X vectors as Linux irqs: pci_request_irq() through core's request_irq(), handlers in hard-IRQ context.
import { describe, expect, it } from "vitest";
import { Kernel, buildTopology, requestIrq, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { msixRaise, pciAllocIrqVectors, pciFreeIrq, pciFreeIrqVectors, pciIrqCount, pciIrqVector, pciRequestIrq } from "@dmabuf-sdk/driver-nvme";

function boot() {
  const k = new Kernel(topologyKernelOptions("same-switch"));
  const t = buildTopology(k, "same-switch");
  return { k, pdev: t.importerSlot, other: t.exporterSlot };
}

describe("MSI-X vectors as Linux irqs (pci_alloc_irq_vectors, pci_request_irq → request_irq)", () => {
  it("a raised vector's handler runs in hard-IRQ context on the idle task, at the next instant, and is counted", () => {
    const { k, pdev } = boot();
    expect(pciAllocIrqVectors(pdev, 2)).toBe(2);
    const seen: { hardirq: boolean; comm: string }[] = [];
    pciRequestIrq(pdev, 1, () => (seen.push({ hardirq: k.lockdep.inHardirqContext(), comm: k.current.comm }), true));
    msixRaise(k, pdev, 1);
    expect(seen).toEqual([]);
    k.clock.flush();
    expect(seen).toEqual([{ hardirq: true, comm: k.sched.idle.comm }]);
    expect(pciIrqCount(pdev, 1)).toBe(1);
    pciFreeIrq(pdev, 1);
    pciFreeIrqVectors(pdev);
    expect(k.warnings()).toEqual([]);
  });

  it("each vector of each function is its own Linux irq, taken by request_irq while requested and free again after", () => {
    const { k, pdev, other } = boot();
    pciAllocIrqVectors(pdev, 2);
    pciAllocIrqVectors(other, 1);
    const irqs = [pciIrqVector(pdev, 0), pciIrqVector(pdev, 1), pciIrqVector(other, 0)];
    expect(new Set(irqs).size).toBe(3);
    expect(() => pciIrqVector(pdev, 2)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    for (const [d, v] of [[pdev, 0], [pdev, 1], [other, 0]] as const) pciRequestIrq(d, v, () => true);
    // The core's irq line is taken: another request_irq() on it is EBUSY.
    for (const irq of irqs) expect(() => requestIrq(k, irq, () => "IRQ_NONE", {}, "intruder", "x")).toThrow(expect.objectContaining({ errno: "EBUSY" }));
    expect(() => pciRequestIrq(pdev, 0, () => true)).toThrow(expect.objectContaining({ errno: "EBUSY" }));
    expect(() => pciRequestIrq(pdev, 2, () => true)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    for (const [d, v] of [[pdev, 0], [pdev, 1], [other, 0]] as const) pciFreeIrq(d, v);
    for (const irq of irqs) expect(() => requestIrq(k, irq, () => "IRQ_NONE", {}, "next", "y")).not.toThrow();
  });

  it("a vector raised after its handler was freed is lost (spurious), and nothing runs", () => {
    const { k, pdev } = boot();
    pciAllocIrqVectors(pdev, 1);
    let calls = 0;
    pciRequestIrq(pdev, 0, () => (calls++, true));
    msixRaise(k, pdev, 0);
    pciFreeIrq(pdev, 0);
    k.clock.flush();
    msixRaise(k, pdev, 0);
    k.clock.flush();
    expect([calls, pciIrqCount(pdev, 0)]).toEqual([0, 0]);
    pciFreeIrqVectors(pdev);
  });
});
