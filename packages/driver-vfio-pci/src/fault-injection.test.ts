// Tests: fault injection over the vfio-pci export and SGT import paths leaves errno returns and nothing leaked.
import { describe, expect, it } from "vitest";
import {
  Kernel,
  KernelError,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  buildTopology,
  dmaBufGet,
  dmaBufPut,
  topologyKernelOptions,
  type AllocSite,
} from "@dmabuf-sdk/dmabuf-core";
import { CompatDynamicImporter } from "@dmabuf-sdk/map-sgt";
import { vfioPciModule, vfioPciProbe, vfioWriteCommand } from "@dmabuf-sdk/driver-vfio-pci";
import { exportRaw, revokeRaw, type Env } from "@dmabuf-sdk/driver-vfio-pci/testing";
import { faultSweep, syscallOk } from "@dmabuf-sdk/dmabuf-core/testing";

/**
 * The export and SGT import paths end to end, unwinding like a careful
 * program: probe, open, export two ranges, attach and map an SGT importer,
 * mmap and touch, revoke and restore (memory), map again, revoke for good,
 * then close everything.
 */
function scenario(k: Kernel): void {
  const t = buildTopology(k, "cross-root");
  k.modprobe(vfioPciModule);
  const user = k.fork({ comm: "vmm" });
  const undo: (() => void)[] = [];
  try {
    const vdev = vfioPciProbe(k, t.exporterSlot);
    const devFd = syscallOk(user.sys.open(vdev.cdevPath, O_RDWR), "open");
    undo.push(() => void user.sys.close(devFd));
    const e: Env = { k, t, vdev, user, devFd };
    const fd = syscallOk(exportRaw(e, { ranges: [{ offset: 0x4000n, length: 0x2000n }, { offset: 0n, length: 0x1000n }], openFlags: O_RDWR | O_CLOEXEC }), "VFIO_DEVICE_FEATURE_DMA_BUF");
    undo.push(() => void user.sys.close(fd));
    const dmabuf = k.runAs(user, () => dmaBufGet(k, fd));
    undo.push(() => dmaBufPut(dmabuf));
    const imp = new CompatDynamicImporter(t.importerSlot, dmabuf);
    undo.push(() => imp.detach());
    imp.map();
    const addr = user.sys.mmap(0x3000n, PROT_READ, MAP_SHARED, fd);
    syscallOk(addr, "mmap");
    undo.push(() => void user.sys.munmap(addr, 0x3000n));
    user.sys.peek(addr, 0x3000);
    syscallOk(vfioWriteCommand(user, devFd, false), "memory off");
    syscallOk(vfioWriteCommand(user, devFd, true), "memory on");
    imp.map();
    syscallOk(revokeRaw(e, fd), "revoke");
  } finally {
    while (undo.length) undo.pop()!();
    k.exitTask(user, 0);
    k.clock.flush();
  }
}

describe("fault injection over the vfio-pci export and SGT import paths", () => {
  const sweep = faultSweep(() => new Kernel(topologyKernelOptions("cross-root")), scenario);
  const { clean, attempts } = sweep;

  it("the scenario succeeds without injection and leaves nothing behind", () => {
    expect(clean.leakReport().text()).toBe("");
    expect(clean.lockdep.reports()).toEqual([]);
    expect(clean.warnings()).toEqual([]);
  });

  it("reaches the allocation sites of the paths", () => {
    const sites = new Set<AllocSite>(attempts.map((r) => r.site));
    expect([...sites].sort()).toEqual(["alloc_iova", "get_unused_fd", "iommu_map", "kzalloc", "sg_alloc_table"].sort());
    expect(attempts.map((r) => r.what)).toEqual(expect.arrayContaining(["pci_p2pdma", "dma_ranges", "vfio_pci_dma_buf", "phys_vec", "dma_buf_file", "dma_buf", "dma_buf_attachment", "dma_buf_dma"]));
  });

  it.each(attempts.map((r) => ({ nth: r.nth, site: r.site, what: r.what })))("failing attempt $nth ($site: $what) unwinds completely", ({ nth }) => {
    const { kernel: k, error: err } = sweep.failAttempt(nth);
    expect(k.faults.failures).toBe(1);
    if (err) expect(err).toBeInstanceOf(KernelError);
    expect(k.leakReport().text()).toBe("");
    expect(k.lockdep.reports()).toEqual([]);
    expect(k.warnings()).toEqual([]);
    expect(k.oopses()).toEqual([]);
  });
});
