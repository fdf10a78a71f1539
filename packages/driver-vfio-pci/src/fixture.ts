// The vfio-pci conformance fixture: an exporter of a BAR range through VFIO_DEVICE_FEATURE_DMA_BUF.
import {
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  PAGE_SIZE_N,
  UserStruct,
  dmaBufGet,
  dmaBufPut,
  errnoName,
  type ConformanceFixtures,
  type ExportedBuffer,
  type ExporterFixture,
  type KernelModule,
  type PciBar,
  type PciDev,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
import { VfioPciDriver, vfioPciModule, vfioPciProbe, vfioPciUnplug } from "./module.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_PM_CTRL, VFIO_PCI_PM_CAP } from "./vfio-pci-config.js";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_PCI_CONFIG_REGION_INDEX,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioPciIndexToOffset,
  type VfioRegionDmaRange,
} from "./vfio.js";

/** Throws the errno of a failed syscall result. */
function check(ret: number, op: string): number {
  if (ret < 0) throw new KernelError(errnoName(ret) ?? "EIO", op, `returned ${ret}`);
  return ret;
}

/** The largest memory BAR of `pdev` (the exporter's VRAM-like BAR). @public */
export function largestMemBar(pdev: PciDev): PciBar | undefined {
  return pdev.bars.filter((b): b is PciBar => !!b && b.type === "mem").sort((a, b) => (a.size < b.size ? 1 : a.size > b.size ? -1 : 0))[0];
}

/**
 * The ranges the fixture exports for `size` bytes: the first half of the
 * buffer is the second half of the BAR slice and vice versa, so importers
 * have to follow more than one range, out of order.
 * @public
 */
export function fixtureRanges(size: bigint): VfioRegionDmaRange[] {
  const pages = size / PAGE_SIZE_N;
  const b = pages / 2n;
  const a = pages - b;
  return b > 0n ? [{ offset: b * PAGE_SIZE_N, length: a * PAGE_SIZE_N }, { offset: 0n, length: b * PAGE_SIZE_N }] : [{ offset: 0n, length: a * PAGE_SIZE_N }];
}

/** Writes `PCI_COMMAND` of the device through its config region, as a VMM does. @public */
export function vfioWriteCommand(task: Task, deviceFd: number, memory: boolean): number {
  const cmd = UserStruct.alloc(2).bytes;
  new DataView(cmd.buffer).setUint16(0, (memory ? PCI_COMMAND_MEMORY : 0) | PCI_COMMAND_MASTER, true);
  return task.sys.pwrite(deviceFd, cmd, vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX) + BigInt(PCI_COMMAND));
}

/** Writes the power state (D0 or D3hot) to the PMCSR through the config region. @public */
export function vfioWritePowerState(task: Task, deviceFd: number, state: "D0" | "D3hot"): number {
  const v = UserStruct.alloc(2);
  v.view.setUint16(0, state === "D0" ? 0 : 3, true);
  return task.sys.pwrite(deviceFd, v.bytes, vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX) + BigInt(VFIO_PCI_PM_CAP + PCI_PM_CTRL));
}

/**
 * Conformance exporter: vfio-pci on the topology's exporter slot. The user
 * process opens the device cdev and exports a slice of the largest memory
 * BAR as two out-of-order ranges with `VFIO_DEVICE_FEATURE_DMA_BUF`. Reads
 * and writes go through the device fd's BAR region. Invalidation clears
 * `PCI_COMMAND.MEMORY` (a revoke: maps fail with `ENODEV`; on a VF, which
 * has no memory enable of its own, a PMCSR write to D3hot); restore undoes it.
 * @public
 */
export const vfioPciExporterFixture: ExporterFixture = {
  name: "vfio-pci",
  description: "vfio-pci BAR ranges exported with VFIO_DEVICE_FEATURE_DMA_BUF (offers IOV on a VF, PAL, SGT_P2P); invalidate = PCI_COMMAND memory disable, D3hot on a VF (revoke)",
  get modules(): readonly KernelModule[] {
    return [vfioPciModule];
  },
  placeable: (topology) => largestMemBar(topology.exporterSlot) !== undefined,
  hotUnplug: true,
  export(ctx, size): ExportedBuffer {
    const k = ctx.kernel;
    const pdev = ctx.topology.exporterSlot;
    const bar = largestMemBar(pdev);
    if (!bar) throw new KernelError("ENODEV", "vfio-pci fixture", `${pdev.name} has no memory BAR`);
    const drv = k.providers(VfioPciDriver)[0];
    const vdev = drv?.devices.find((d) => d.pdev === pdev) ?? vfioPciProbe(k, pdev);
    const sys = ctx.task.sys;
    const devFd = check(sys.open(vdev.cdevPath, O_RDWR), "open");
    const ranges = fixtureRanges(size);
    const fd = sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex: bar.index, openFlags: O_RDWR | O_CLOEXEC, ranges })));
    if (fd < 0) {
      sys.close(devFd);
      check(fd, "VFIO_DEVICE_FEATURE_DMA_BUF");
    }
    const dmabuf = k.runAs(ctx.task, () => dmaBufGet(k, fd));
    sys.close(fd);
    /** Runs `fn` over the BAR pieces behind [offset, offset + len) of the buffer. */
    const pieces = (offset: bigint, len: number, fn: (barOff: bigint, pos: number, n: number) => void): void => {
      let pos = 0;
      while (pos < len) {
        let off = offset + BigInt(pos);
        const r = ranges.find((x) => (off < x.length ? true : ((off -= x.length), false)));
        if (!r) throw new KernelError("ERANGE", "vfio-pci fixture", `offset ${offset + BigInt(pos)} beyond the buffer`);
        const n = Math.min(len - pos, Number(r.length - off));
        fn(r.offset + off, pos, n);
        pos += n;
      }
    };
    const region = vfioPciIndexToOffset(bar.index);
    return {
      dmabuf,
      write(offset, data) {
        pieces(offset, data.length, (barOff, pos, n) => void check(sys.pwrite(devFd, data.subarray(pos, pos + n), region + barOff), "pwrite"));
      },
      read(offset, len) {
        const out = new Uint8Array(len);
        pieces(offset, len, (barOff, pos, n) => void check(sys.pread(devFd, out.subarray(pos, pos + n), region + barOff), "pread"));
        return out;
      },
      // A VF has no memory enable of its own (no_command_memory): it is revoked through D3hot instead.
      invalidate() {
        if (pdev.noCommandMemory) check(vfioWritePowerState(ctx.task, devFd, "D3hot"), "pwrite PMCSR");
        else check(vfioWriteCommand(ctx.task, devFd, false), "pwrite PCI_COMMAND");
        return { remap: "ENODEV", kind: "revoke" };
      },
      unplug() {
        vfioPciUnplug(vdev);
        return { remap: "ENODEV", kind: "unplug" };
      },
      restore() {
        if (pdev.noCommandMemory) check(vfioWritePowerState(ctx.task, devFd, "D0"), "pwrite PMCSR");
        else check(vfioWriteCommand(ctx.task, devFd, true), "pwrite PCI_COMMAND");
      },
      release() {
        dmaBufPut(dmabuf);
        sys.close(devFd);
      },
    };
  },
};

/** What vfio-pci offers the conformance matrix. @public */
export const vfioPciFixtures: ConformanceFixtures = {
  package: "@dmabuf-sdk/driver-vfio-pci",
  exporters: [vfioPciExporterFixture],
  importers: [],
};
