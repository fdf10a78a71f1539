// Race: an Xe GPU is hot-unplugged (xe_device_remove: drm_dev_unplug, xe_bo_pci_dev_remove_all) while a peer device's DMA into a VRAM buffer it exported is in flight.
import {
  DmaFence,
  O_RDWR,
  SpinLock,
  dmaBufPut,
  dmaFenceContextAlloc,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceWait,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  type ExploreScenario,
  type Kernel,
  type Topology,
} from "@dmabuf-sdk/dmabuf-core";
import { XE_PL_TT, XE_PL_VRAM0, xeBoCreate, xeBoPut, xeBoRead, xeBoWrite, xeDeviceRemove, xeGemPrimeExport } from "@dmabuf-sdk/driver-xe";
import { boot, bytes, xeOn } from "@dmabuf-sdk/driver-xe/testing";
import { CompatDynamicImporter, sgtDmaRead, sgtDmaWrite } from "@dmabuf-sdk/map-sgt";

const KiB = 1n << 10n;
/** Where the importer's DMA writes, and what. */
const AT = 0x3000n;
const DMA = bytes(0x100, 5);

/** The topology each booted kernel was built on. */
const TOPOLOGY = new WeakMap<Kernel, Topology>();

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function importerFence(k: Kernel): DmaFence {
  const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "importer dma", "&importer->fence_lock");
  return new DmaFence(k, { getDriverName: () => "rdma", getTimelineName: () => "dma" }, lock, dmaFenceContextAlloc(k, 1), 1n);
}

/**
 * Xe exports a VRAM-placed BO; an RDMA-style dynamic importer on the peer
 * device maps it and posts a DMA write fenced in the buffer's resv (write
 * usage), which its interrupt completes. The GPU is removed in any order
 * against that: removal waits for every fence of an exported BO before it
 * migrates it to system memory and invalidates the importers (xe_device_remove
 * → xe_bo_pci_dev_remove_all), so the transfer lands before the move and is
 * carried over; the importer maps again and reads the same bytes, and waits
 * for its own transfer before it unmaps for good. Only
 * `ENODEV` is an allowed error; every read must see the BO's contents.
 * @public
 */
export function xeUnplugVsDma(): ExploreScenario {
  return {
    name: "xe-unplug-vs-dma",
    boot() {
      const m = boot("same-switch");
      TOPOLOGY.set(m.k, m.t);
      return m.k;
    },
    build(k) {
      const { exporterSlot, importerSlot } = TOPOLOGY.get(k)!;
      const xe = xeOn(exporterSlot);
      const bo = xeBoCreate(xe, 64n * KiB, { placements: [XE_PL_VRAM0, XE_PL_TT] });
      const initial = bytes(0x4000, 9);
      xeBoWrite(bo, 0n, initial);
      const dmabuf = xeGemPrimeExport(bo, O_RDWR);
      const app = k.fork({ comm: "rdma-app" });
      const imp = k.runAs(app, () => new CompatDynamicImporter(importerSlot, dmabuf));
      const fence = importerFence(k);
      let posted = false;
      const expected = (): Uint8Array => {
        const e = initial.slice();
        if (posted) e.set(DMA, Number(AT));
        return e;
      };
      const mismatches: string[] = [];
      const read = (): void => {
        const got = sgtDmaRead(importerSlot, imp.ensureMapped(), 0n, initial.length);
        if (!equal(got, expected())) mismatches.push(`the importer read other bytes than the BO's (memType ${bo.memType})`);
      };
      return {
        tasks: [
          { name: "pci remove", steps: [{ label: "xe_device_remove (hot-unplug)", run: () => xeDeviceRemove(xe) }] },
          {
            name: "importer",
            task: app,
            steps: [
              { label: "map + read", run: read },
              {
                label: "post DMA write (fence in resv)",
                run: () => {
                  const sgt = imp.ensureMapped();
                  dmaResvLock(dmabuf.resv);
                  try {
                    dmaResvReserveFences(dmabuf.resv, 1);
                    dmaResvAddFence(dmabuf.resv, fence, "DMA_RESV_USAGE_WRITE");
                  } finally {
                    dmaResvUnlock(dmabuf.resv);
                  }
                  k.sched.raiseIrq("rdma DMA done", () => {
                    sgtDmaWrite(importerSlot, sgt, AT, DMA);
                    posted = true;
                    dmaFenceSignal(fence);
                  });
                },
              },
              { label: "read again", run: read },
              {
                label: "wait for the DMA, detach",
                run: () => {
                  dmaFenceWait(fence, false);
                  imp.detach();
                },
              },
            ],
          },
        ],
        finish() {
          if (!equal(xeBoRead(bo, 0n, initial.length), expected())) mismatches.push(`the BO lost bytes across the unplug (memType ${bo.memType})`);
          dmaBufPut(dmabuf);
          dmaFencePut(fence);
          xeBoPut(bo);
          k.exitTask(app, 0);
        },
        check: (outcomes) => [
          ...mismatches,
          ...outcomes.filter((o) => o.errno !== undefined && o.errno !== "ENODEV").map((o) => `${o.task}: ${o.step} failed with ${o.errno} (only ENODEV is allowed)`),
        ],
      };
    },
  };
}
