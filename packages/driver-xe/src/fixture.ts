// The Xe conformance fixtures: VRAM and system-memory exporters and a GPU importer binding at a fixed VA.
import {
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  dmaBufPut,
  dmaResvLock,
  dmaResvUnlock,
  withGetters,
  type ConformanceFixtures,
  type ExportedBuffer,
  type ExporterFixture,
  type FixtureContext,
  type ImportedBuffer,
  type ImporterFixture,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufSgtRoute } from "@dmabuf-sdk/map-sgt";
import { XE_PL_TT, XE_PL_VRAM0, xeBoCreate, xeBoEvict, xeBoPut, xeBoRead, xeBoWrite, type XeBoPlacement } from "./xe-bo.js";
import { XE_SRIOV_PF, xeDeviceOf, xeDeviceProbe, xeDeviceRemove, type XeDevice } from "./xe-device.js";
import { xeDmaBufImportMapped, xeGemPrimeExport, xeGemPrimeImport } from "./xe-dma-buf.js";
import { xeModule } from "./module.js";
import { xeVmBind, xeVmCreate, xeVmDestroy, xeVmRead, xeVmRebind, xeVmUnbind, xeVmWrite, type XeVm, type XeVma } from "./xe-pt.js";

/** GPU virtual address where the importer fixture binds the imported buffer. @public */
export const XE_FIXTURE_VA = 0x1_0000_0000n;

/** The Xe device on a slot, binding the driver to it if needed (`driver_override` + bind). */
function xeOn(pdev: PciDev): XeDevice {
  return xeDeviceOf(pdev) ?? xeDeviceProbe(pdev);
}

function exporter(name: string, placements: readonly XeBoPlacement[], description: string): ExporterFixture {
  return {
    name,
    description,
    get modules() {
      return [xeModule];
    },
    // The exporter slot of `sriov` is a VF: the Xe VF driver is not modelled.
    placeable: (t) => t.name !== "sriov",
    hotUnplug: true,
    topologyOptions: { sriovPf: XE_SRIOV_PF },
    export(ctx: FixtureContext, size: bigint): ExportedBuffer {
      const xe = xeOn(ctx.topology.exporterSlot);
      const bo = xeBoCreate(xe, size, { placements, name });
      let dmabuf;
      try {
        dmabuf = xeGemPrimeExport(bo, O_RDWR | O_CLOEXEC);
      } finally {
        xeBoPut(bo); // the dma-buf holds the BO from here
      }
      return {
        dmabuf,
        write: (offset, data) => xeBoWrite(bo, offset, data),
        read: (offset, len) => xeBoRead(bo, offset, len),
        invalidate() {
          dmaResvLock(bo.resv);
          try {
            return { kind: xeBoEvict(bo), remap: "remap" };
          } finally {
            dmaResvUnlock(bo.resv);
          }
        },
        unplug() {
          // xe_device_remove(): in-flight DMA waited for, the BO moves to system memory, importers invalidated;
          // CPU mappings fault to the TTM dummy page (xe_gem_fault once drm_dev_enter() fails) or SIGBUS.
          xeDeviceRemove(xe);
          return { kind: "unplug", remap: "remap", cpuFault: xe.unplugMmap === "sigbus" ? "SIGBUS" : "dummy-page" };
        },
        release: () => dmaBufPut(dmabuf),
      };
    },
  };
}

/** Conformance fixture: an Xe VRAM BO (may fall back to system memory), offered as [SGT_P2P(dev), SGT]. @public */
export const xeVramExporterFixture: ExporterFixture = exporter(
  "xe-vram",
  [XE_PL_VRAM0, XE_PL_TT],
  "Intel Xe VRAM BO offering [SGT_P2P(dev), SGT]: P2P over the LMEM BAR when reachable, else migrated to system pages; invalidate evicts",
);

/** Conformance fixture: an Xe system-memory BO, offered as [SGT]. @public */
export const xeSystemExporterFixture: ExporterFixture = exporter(
  "xe-system",
  [XE_PL_TT],
  "Intel Xe system-memory BO offering [SGT] (page-backed); invalidate swaps it out",
);

/**
 * Conformance fixture: the Xe GPU on the importer slot (the PF on `sriov`)
 * as a dynamic importer offering [IOV(pf, LMEM BAR), SGT(dev, ACCEPTS_P2P)].
 * `map()` binds the import into a GPU VM; DMA goes through the GPU's page
 * tables (DPAs over IOV, DMA addresses over SGT).
 * @public
 */
export const xeImporterFixture: ImporterFixture = {
  name: "xe",
  description: "Intel Xe GPU, dynamic importer offering [IOV(pf, LMEM BAR), SGT(dev, ACCEPTS_P2P)]; binds the import in a GPU VM",
  get modules() {
    return [xeModule];
  },
  placeable: () => true,
  hotUnplug: true,
  // The PF of `sriov` is an Xe device.
  topologyOptions: { sriovPf: XE_SRIOV_PF },
  import(ctx, buffer): ImportedBuffer {
    const xe = xeOn(ctx.topology.importerSlot);
    const bo = xeGemPrimeImport(xe, buffer.dmabuf);
    const imp = bo.import;
    if (!imp) {
      xeBoPut(bo);
      throw new KernelError("EINVAL", "xe_fixture_import", "a buffer of the importing device itself");
    }
    let vm: XeVm;
    try {
      vm = xeVmCreate(xe);
    } catch (e) {
      xeBoPut(bo);
      throw e;
    }
    let vma: XeVma | null = null;
    const ensure = (): void => {
      if (!vma) vma = xeVmBind(vm, bo, XE_FIXTURE_VA, 0n, bo.size);
      else if (!vma.bound) xeVmRebind(vm);
    };
    const view: Omit<ImportedBuffer, "attachment" | "mapped"> = {
      map: ensure,
      route() {
        const r = imp.sg ? dmaBufSgtRoute(imp.sg) : undefined;
        return r === undefined ? undefined : r === "bus-addr" ? "BUS_ADDR" : "THRU_HOST_BRIDGE";
      },
      dmaRead(offset, len) {
        ensure();
        return xeVmRead(vm, XE_FIXTURE_VA + offset, len);
      },
      dmaWrite(offset, data) {
        ensure();
        xeVmWrite(vm, XE_FIXTURE_VA + offset, data);
      },
      staleDmaRead: (len) => xeVmRead(vm, XE_FIXTURE_VA, len),
      unmap() {
        if (vma) xeVmUnbind(vma);
        vma = null;
        dmaResvLock(bo.resv);
        try {
          xeBoEvict(bo);
        } finally {
          dmaResvUnlock(bo.resv);
        }
      },
      unplug() {
        xeDeviceRemove(xe);
      },
      detach() {
        view.unmap();
        xeVmDestroy(vm);
        xeBoPut(bo);
      },
    };
    return withGetters(view, { attachment: () => imp.attach ?? imp.lastAttach, mapped: () => xeDmaBufImportMapped(bo) });
  },
};

/** What the xe module offers the conformance matrix. @public */
export const xeFixtures: ConformanceFixtures = {
  package: "@dmabuf-sdk/driver-xe",
  exporters: [xeVramExporterFixture, xeSystemExporterFixture],
  importers: [xeImporterFixture],
};
