// Test-only helpers (not built into dist).
import { expect } from "vitest";
import {
  Kernel,
  O_CLOEXEC,
  O_RDWR,
  buildTopology,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  dmaBufMatchMapping,
  errnoName,
  topologyKernelOptions,
  type DmaBuf,
  type Task,
  type Topology,
  type TopologyName,
  type TopologyOptions,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingPal, type DmaBufPhysList } from "@dmabuf-sdk/map-pal";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_GET,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioPciIndexToOffset,
  vfioPciModule,
  vfioPciProbe,
  type VfioPciCoreDevice,
  type VfioPciDmaBuf,
  type VfioRegionDmaRange,
} from "@dmabuf-sdk/driver-vfio-pci";
import { iommufdModule, iommufdOpenSession, type IommufdSession } from "@dmabuf-sdk/driver-iommufd";

export const P = 0x1000n;

export interface Env {
  readonly k: Kernel;
  readonly t: Topology;
  readonly user: Task;
  readonly vdev: VfioPciCoreDevice;
  /** vfio device fd of `user`. */
  readonly devFd: number;
  /** The importer slot bound to an iommufd and attached to an IOAS. */
  readonly s: IommufdSession;
}

/** vfio-pci on the exporter slot, iommufd with the importer slot attached to an IOAS, both opened by one VMM process. */
export function boot(name: TopologyName = "same-switch", topo?: TopologyOptions): Env {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name, topo);
  k.modprobe(vfioPciModule);
  k.modprobe(iommufdModule);
  const vdev = vfioPciProbe(k, t.exporterSlot);
  const user = k.fork({ comm: "vmm" });
  const devFd = user.sys.open(vdev.cdevPath, O_RDWR);
  expect(devFd).toBeGreaterThanOrEqual(0);
  const s = iommufdOpenSession(k, user, t.importerSlot);
  return { k, t, user, vdev, devFd, s };
}

/** Exports BAR ranges through VFIO_DEVICE_FEATURE_DMA_BUF; the fd holds the only reference. */
export function vfioExport(e: Env, ranges: readonly VfioRegionDmaRange[], regionIndex = 0): { fd: number; dmabuf: DmaBuf<VfioPciDmaBuf> } {
  const fd = e.user.sys.ioctl(e.devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex, openFlags: O_RDWR | O_CLOEXEC, ranges })));
  if (fd < 0) throw new Error(`export failed: ${errnoName(fd)}`);
  const dmabuf = e.k.runAs(e.user, () => dmaBufGet(e.k, fd)) as DmaBuf<VfioPciDmaBuf>;
  dmabuf.file.put();
  return { fd, dmabuf };
}

/** Writes bytes to a BAR through the vfio device fd. */
export function barWrite(e: Env, bar: number, off: bigint, data: Uint8Array): void {
  expect(e.user.sys.pwrite(e.devFd, data, vfioPciIndexToOffset(bar) + off)).toBe(data.length);
}

/** A recognisable byte pattern. */
export function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 29 + seed * 13 + (i >> 12)) & 0xff);
}

/**
 * A test PAL exporter whose `map_phys` returns `list` (possibly broken, to
 * check the importer's validation); returns an fd of `user`.
 */
export function palExporter(k: Kernel, user: Task, size: bigint, list: () => DmaBufPhysList): { fd: number; dmabuf: DmaBuf; log: string[] } {
  const log: string[] = [];
  const d = dmaBufExport(k, {
    owner: k.modules.vmlinux,
    expName: "mock_pal",
    ops: {
      release: () => void log.push("release"),
      matchMapping: (args) =>
        dmaBufMatchMapping(args, [
          dmaBufEmappingPal({
            mapPhys: () => (log.push("map_phys"), list()),
            unmapPhys: () => void log.push("unmap_phys"),
          }),
        ]),
    },
    size,
    flags: O_RDWR,
    priv: {},
  });
  return { fd: k.runAs(user, () => dmaBufFd(d, O_RDWR)), dmabuf: d, log };
}

/** IOPTEs present in the importer's current domain. */
export function ioptes(e: Env): number {
  return e.t.importerSlot.iommuGroup!.domain.pgtable?.ptes ?? 0;
}

/** Closes everything and checks the machine is clean. */
export function teardown(e: Env): void {
  e.s.close();
  e.k.exitTask(e.user, 0);
  e.k.clock.flush();
  expect(e.k.leakReport().text()).toBe("");
  expect(e.k.lockdep.reports()).toEqual([]);
  expect(e.k.oopses()).toEqual([]);
}

/** Expects `ret` to be `-errno` of `name`. */
export function expectErrno(ret: number | bigint, name: string): void {
  expect(errnoName(Number(ret)) ?? ret).toBe(name);
  expect(Number(ret)).toBeLessThan(0);
}

/** Kernel options of a named topology (re-exported for tests). */
export { topologyKernelOptions, buildTopology };
