// Test kit of vfio-pci (`@dmabuf-sdk/driver-vfio-pci/testing`): a VMM with the device open, export, revoke, BAR access, teardown checks.
import {
  Kernel,
  O_CLOEXEC,
  O_RDWR,
  UserStruct,
  buildTopology,
  dmaBufGet,
  errnoName,
  topologyKernelOptions,
  type DmaBuf,
  type PciDev,
  type Task,
  type Topology,
  type TopologyName,
  type TopologyOptions,
} from "@dmabuf-sdk/dmabuf-core";
import {
  PCI_PM_CTRL,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_PM_CAP,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioDeviceFeatureDmaBufRevoke,
  vfioPciIndexToOffset,
  vfioPciModule,
  vfioPciProbe,
  vfioWriteCommand,
  type VfioDeviceFeatureDmaBuf,
  type VfioPciCoreDevice,
  type VfioPciDmaBuf,
  type VfioPciProbeOptions,
  type VfioRegionDmaRange,
} from "../index.js";
import { check, checkClean } from "@dmabuf-sdk/dmabuf-core/testing";

/** @public */
export const P = 0x1000n;

/** @public */
export interface Env extends VfioOpen {
  readonly k: Kernel;
  readonly t: Topology;
}

/** A VMM process with a vfio-pci device open. @public */
export interface VfioOpen {
  readonly vdev: VfioPciCoreDevice;
  readonly user: Task;
  /** The device fd of `user` (cdev), or -1 when not opened. */
  readonly devFd: number;
}

/** Options of {@link vfioOpen} and {@link boot}. @public */
export interface VfioOpenOptions {
  readonly probe?: VfioPciProbeOptions;
  /** Runs after the probe, before the VMM opens the device. */
  readonly beforeOpen?: () => void;
  /** False: the VMM does not open the device (`devFd` is -1). */
  readonly open?: boolean;
}

/** vfio-pci loaded and bound to `pdev` in `k`, and a VMM process (comm "vmm") with the device open. @public */
export function vfioOpen(k: Kernel, pdev: PciDev, opts: VfioOpenOptions = {}): VfioOpen {
  k.modprobe(vfioPciModule);
  const vdev = vfioPciProbe(k, pdev, opts.probe);
  opts.beforeOpen?.();
  const user = k.fork({ comm: "vmm" });
  const devFd = opts.open === false ? -1 : user.sys.open(vdev.cdevPath, O_RDWR);
  if (opts.open !== false) check(devFd >= 0, `open ${vdev.cdevPath}: ${errnoName(devFd)}`);
  return { vdev, user, devFd };
}

/** A kernel on topology `name` with vfio-pci bound to the exporter slot and opened by a VMM process. @public */
export function boot(name: TopologyName = "same-switch", opts: Omit<VfioOpenOptions, "beforeOpen"> & { topo?: TopologyOptions; beforeOpen?: (t: Topology) => void } = {}): Env {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name, opts.topo);
  return { k, t, ...vfioOpen(k, t.exporterSlot, { ...opts, beforeOpen: () => opts.beforeOpen?.(t) }) };
}

/** `VFIO_DEVICE_FEATURE(GET | DMA_BUF)` with the given request; returns the syscall result. @public */
export function exportRaw(e: Env, req: Partial<VfioDeviceFeatureDmaBuf> & { ranges: readonly VfioRegionDmaRange[] }, devFd = e.devFd): number {
  return e.user.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex: 0, openFlags: O_RDWR | O_CLOEXEC, ...req })));
}

/** Exports and returns the fd and the buffer (a reference of the test's own is not taken). @public */
export function exportBuf(e: Env, ranges: readonly VfioRegionDmaRange[] = [{ offset: 0n, length: 4n * P }], regionIndex = 0, devFd = e.devFd): { fd: number; dmabuf: DmaBuf<VfioPciDmaBuf>; priv: VfioPciDmaBuf } {
  const fd = exportRaw(e, { ranges, regionIndex }, devFd);
  if (fd < 0) throw new Error(`export failed: ${errnoName(fd)}`);
  const dmabuf = e.k.runAs(e.user, () => dmaBufGet(e.k, fd)) as DmaBuf<VfioPciDmaBuf>;
  dmabuf.file.put(); // the fd keeps it; tests look at it through the fd's reference
  return { fd, dmabuf, priv: dmabuf.priv };
}

/** Clears or sets PCI_COMMAND.MEMORY through the config region. @public */
export function setMemory(e: Env, on: boolean, devFd = e.devFd): void {
  const r = vfioWriteCommand(e.user, devFd, on);
  check(r === 2, `PCI_COMMAND write returned ${r}`);
}

/** Writes the power state to PMCSR. @public */
export function setPowerState(e: Env, state: 0 | 3, devFd = e.devFd): void {
  const v = UserStruct.alloc(2);
  v.view.setUint16(0, state, true);
  const r = e.user.sys.pwrite(devFd, v.bytes, vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX) + BigInt(VFIO_PCI_PM_CAP + PCI_PM_CTRL));
  check(r === 2, `PMCSR write returned ${r}`);
}

/** `VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE` of `fd`: the syscall result. @public */
export function revokeRaw(e: Env, fd: number, devFd = e.devFd): number {
  return e.user.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, vfioDeviceFeatureDmaBufRevoke(fd)));
}

/** A recognisable byte pattern. @public */
export function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + (i >> 12)) & 0xff);
}

/** Writes `data` at BAR offset `off` through the device fd's BAR region. @public */
export function barWrite(e: Env, bar: number, off: bigint, data: Uint8Array, devFd = e.devFd): void {
  const r = e.user.sys.pwrite(devFd, data, vfioPciIndexToOffset(bar) + off);
  check(r === data.length, `BAR ${bar} write returned ${r}`);
}

/** Reads `len` bytes at BAR offset `off` through the device fd's BAR region. @public */
export function barRead(e: Env, bar: number, off: bigint, len: number, devFd = e.devFd): Uint8Array {
  const buf = new Uint8Array(len);
  const r = e.user.sys.pread(devFd, buf, vfioPciIndexToOffset(bar) + off);
  check(r === len, `BAR ${bar} read returned ${r}`);
  return buf;
}

/** Closes everything the test's process holds and checks the machine is clean. @public */
export function teardown(e: Env): void {
  e.k.exitTask(e.user, 0);
  e.k.clock.flush();
  checkClean(e.k);
  check(e.vdev.registrations === 1, `the device is registered ${e.vdev.registrations} times`);
  check(e.vdev.openCount === 0, `the device is still open ${e.vdev.openCount} times`);
}
