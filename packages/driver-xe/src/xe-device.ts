// drivers/gpu/drm/xe/xe_device.c and regs/xe_bars.h: the Xe device, its LMEM BAR and VRAM.
import {
  KernelWeakMap,
  KernelLocal,
  KernelError,
  pcimP2pdmaInit,
  type Kernel,
  type LoadedModule,
  type PciBar,
  type PciDev,
  type PhysRegionBacking,
  type SriovPfSpec,
} from "@dmabuf-sdk/dmabuf-core";
import { DRIVER_GEM, DRIVER_RENDER, DRIVER_SYNCOBJ, DRIVER_SYNCOBJ_TIMELINE, drmDevAlloc, drmDevRegister, drmDevUnplug, type DrmDevice, type DrmDriver, type DrmUnplugMmapPolicy } from "@dmabuf-sdk/drm";
import type { XeBo } from "./xe-bo.js";
import { xeBoPciDevRemoveAll } from "./xe-bo-evict.js";
import { xeSriovPfFini, xeSriovPfInit, type XeSriovPf, type XeSriovPfOptions } from "./xe-gt-sriov-pf-config.js";
import { XeVram } from "./xe-ttm-vram-mgr.js";
import { XeExecQueue } from "./xe-sched-job.js";

/** `LMEM_BAR` (regs/xe_bars.h): the BAR through which the CPU and peers reach VRAM. @public */
export const LMEM_BAR = 2;
/** `XE_PAGE_SIZE`: the GPU page. @public */
export const XE_PAGE_SIZE = 4096;
/** PCI device ids the model's `xe_pci_table` binds (a Battlemage PF). VFs are left to vfio-pci. @public */
export const XE_PCI_IDS: readonly { readonly vendor: number; readonly device: number }[] = [{ vendor: 0x8086, device: 0xe20b }];

/**
 * The Xe PF of the `sriov` machine (`buildTopology(k, "sriov", { sriovPf:
 * XE_SRIOV_PF })`): a Battlemage PF with 16 MiB of registers at BAR0 and 4 GiB
 * of LMEM at LMEM_BAR, up to 7 VFs (device 0xe20c) with 1 GiB LMEM BARs.
 * @public
 */
export const XE_SRIOV_PF: SriovPfSpec = {
  vendor: 0x8086,
  device: 0xe20b,
  bars: [
    { index: 0, size: 16n << 20n, is64: true, prefetch: false },
    { index: LMEM_BAR, size: 4n << 30n, is64: true, prefetch: true },
  ],
  memBar: LMEM_BAR,
  vfDevice: 0xe20c,
  totalVfs: 7,
  vfBarSizes: [16n << 20n, undefined, 1n << 30n],
};

/**
 * `xe_drm_driver`: GEM, render node, binary and timeline syncobjs. Its
 * hardware fences are signaled without an error when the device goes away
 * (`xe_hw_fence_irq_finish()`), so the unplug fence error is `null`.
 * @public
 */
export const XE_DRM_DRIVER: DrmDriver = {
  name: "xe",
  desc: "Intel Xe2 Graphics",
  driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE,
  unplugFenceError: null,
};

/** SR-IOV mode of the driver (`xe->sriov.__mode`). @public */
export type XeSriovMode = "XE_SRIOV_MODE_NONE" | "XE_SRIOV_MODE_PF";

/** Options of {@link xeDeviceProbe}. @public */
export interface XeProbeOptions {
  /**
   * Enter SR-IOV PF mode (`max_vfs` > 0). Default: when the function has an
   * SR-IOV capability with VFs enabled.
   */
  readonly sriov?: boolean;
  /** PF mode: provisioning of the VFs' LMEM at probe (see `xeSriovPfInit`). */
  readonly pf?: XeSriovPfOptions;
  /**
   * CPU mappings after removal: a dummy page (the documented rule, default)
   * or SIGBUS (allowed by the maintainer's 2026 statement).
   */
  readonly unplugMmap?: DrmUnplugMmapPolicy;
}

/**
 * `struct xe_device` of a discrete Xe GPU with one tile: its PCI function,
 * VRAM behind the LMEM BAR (the BAR maps all of VRAM: offset X is DPA
 * `dpaBase + X`), the buffer objects it owns, and in SR-IOV PF mode the VF
 * configurations.
 * @public
 */
export class XeDevice {
  readonly kernel: Kernel;
  /** The PCI function (`to_pci_dev(xe->drm.dev)`). */
  readonly pdev: PciDev;
  /** VRAM of tile 0 and its manager. */
  readonly vram: XeVram;
  /** `LMEM_BAR` of the function. */
  readonly lmemBar: PciBar;
  /** PF state when in `XE_SRIOV_MODE_PF`. */
  sriovPf: XeSriovPf | null = null;
  /** The migration engine's exec queue (`tile->migrate->q`): copies, clears and page-table binds go through drm_sched. */
  migrateQ: XeExecQueue | null = null;
  /** Live buffer objects, least recently placed first (the VRAM eviction LRU). */
  readonly bos = new Set<XeBo>();
  /** Set by the removal path: VRAM is gone, placements there fail (`ENOSPC`), CPU faults follow {@link XeDevice.unplugMmap}. */
  vramGone = false;
  /** What CPU mappings of its buffers see after removal (`XeProbeOptions.unplugMmap`). */
  unplugMmap: DrmUnplugMmapPolicy = "dummy-page";
  /** The DRM device (`xe->drm`), registered at probe: `/dev/dri/card<N>` and `renderD<N>`. */
  drm: DrmDevice | null = null;
  /** @internal the LMEM BAR's backing before probe */
  readonly _savedBacking: PhysRegionBacking;

  constructor(pdev: PciDev, lmemBar: PciBar) {
    this.kernel = pdev.kernel;
    this.pdev = pdev;
    this.lmemBar = lmemBar;
    this.vram = new XeVram(pdev.kernel, lmemBar.size);
    this._savedBacking = lmemBar.backing;
  }

  /** `IS_SRIOV_PF(xe)`. */
  get sriovMode(): XeSriovMode {
    return this.sriovPf ? "XE_SRIOV_MODE_PF" : "XE_SRIOV_MODE_NONE";
  }

  /** The module that owns the driver's dma-bufs. */
  get module(): LoadedModule {
    const m = this.kernel.modules.find("xe");
    if (!m) throw new KernelError("ENODEV", "xe", "module xe is not loaded");
    return m;
  }

  /** `xe <pci name>`, for messages. */
  toString(): string {
    return `xe ${this.pdev.name}`;
  }
}

const DEVICES = new KernelWeakMap<PciDev, XeDevice>("DEVICES", (pdev) => pdev.kernel);
const BY_KERNEL = new KernelLocal<Set<XeDevice>>("BY_KERNEL");

/** The Xe device bound to `pdev` (`pci_get_drvdata()`), if any. @public */
export function xeDeviceOf(pdev: PciDev): XeDevice | undefined {
  return DEVICES.get(pdev);
}

/** Every Xe device of a kernel, in probe order. @public */
export function xeDevices(kernel: Kernel): XeDevice[] {
  return [...(BY_KERNEL.get(kernel) ?? [])];
}

/** Does `xe_pci_table` list this function (a PF; VFs are not bound by the PF driver)? @public */
export function xePciMatch(pdev: PciDev): boolean {
  return !pdev.isVirtfn && XE_PCI_IDS.some((id) => id.vendor === pdev.vendor && id.device === pdev.device);
}

/**
 * `xe_pci_probe()`: binds the driver to `pdev` (the module must be loaded;
 * fixtures bind any endpoint this way, as `driver_override` does). VRAM is
 * the LMEM BAR's size, and the BAR is made to decode onto VRAM. In PF mode
 * the VFs' LMEM is provisioned. Errors, nothing left behind:
 * `ENODEV` (module not loaded, no memory LMEM BAR), `EBUSY` (already bound),
 * `ENOMEM`/`ENOSPC` (allocations).
 * @public
 */
export function xeDeviceProbe(pdev: PciDev, opts: XeProbeOptions = {}): XeDevice {
  const k = pdev.kernel;
  if (!k.modules.find("xe")) throw new KernelError("ENODEV", "xe_pci_probe", "module xe is not loaded");
  if (pdev.driver) throw new KernelError("EBUSY", "xe_pci_probe", `${pdev.name} is bound to ${pdev.driver}`);
  const bar = pdev.bars[LMEM_BAR];
  if (!bar || bar.type !== "mem") throw new KernelError("ENODEV", "xe_pci_probe", `${pdev.name} has no memory BAR${LMEM_BAR}`);
  k.alloc.kzalloc("xe_device");
  pcimP2pdmaInit(k.alloc, pdev);
  const xe = new XeDevice(pdev, bar);
  if (opts.unplugMmap) xe.unplugMmap = opts.unplugMmap;
  const vram = xe.vram;
  bar.backing = { page: (i, w) => vram.page(i, w) };
  pdev.driver = "xe";
  DEVICES.set(pdev, xe);
  let set = BY_KERNEL.get(k);
  if (!set) BY_KERNEL.set(k, (set = new Set()));
  set.add(xe);
  xe.migrateQ = new XeExecQueue(xe, "migrate");
  try {
    xe.drm = drmDevAlloc(XE_DRM_DRIVER, pdev);
    drmDevRegister(xe.drm);
  } catch (e) {
    xeDeviceRemove(xe);
    throw e;
  }
  if (opts.sriov ?? (pdev.sriov !== null && pdev.sriov.vfs.length > 0)) {
    try {
      xeSriovPfInit(xe, opts.pf);
    } catch (e) {
      xeDeviceRemove(xe);
      throw e;
    }
  }
  k.printk.info(`xe ${pdev.name}: [drm] VRAM: ${vram.size >> 20n} MiB${xe.sriovPf ? `, SR-IOV PF with ${xe.sriovPf.totalVfs} VFs` : ""}`);
  return xe;
}

/**
 * `xe_pci_remove()`: unplugs the DRM device (open files stay, every ioctl
 * on them is `ENODEV`; the device is freed with its last file), deals with
 * its BOs as `xe_bo_pci_dev_remove_all()` does (in-flight DMA of other
 * devices waited for, exported BOs moved to system memory with their
 * importers invalidated, the rest purged),
 * unprovisions the VFs (PF mode), unbinds and gives the LMEM BAR its old
 * backing. Buffer objects still alive WARN (they keep the
 * memory they hold).
 * @public
 */
export function xeDeviceRemove(xe: XeDevice): void {
  // xe_device_remove(): drm_dev_unplug() first, so every ioctl on open files is ENODEV.
  if (xe.drm) {
    drmDevUnplug(xe.drm);
    xeBoPciDevRemoveAll(xe);
    xe.drm.put();
    xe.drm = null;
  }
  if (xe.sriovPf) xeSriovPfFini(xe);
  xe.migrateQ?.fini();
  xe.migrateQ = null;
  // BOs shared through dma-bufs outlive the device (their references keep them); others still alive were leaked by their users.
  const unshared = [...xe.bos].filter((bo) => !bo.dmaBuf && !bo.import).length;
  if (unshared) xe.kernel.warn(`xe ${xe.pdev.name}: ${unshared} buffer object(s) alive at remove`);
  xe.lmemBar.backing = xe._savedBacking;
  xe.pdev.driver = undefined;
  DEVICES.delete(xe.pdev);
  BY_KERNEL.get(xe.kernel)?.delete(xe);
}
