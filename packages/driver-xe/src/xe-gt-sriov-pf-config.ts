// drivers/gpu/drm/xe/xe_gt_sriov_pf_config.c: VF LMEM provisioning in 2 MiB granules.
import { KernelError, Mutex, hex, pciIovVfId, type PciDev, type PhysRegionBacking } from "@dmabuf-sdk/dmabuf-core";
import { XE_PL_VRAM0, xeBoCreate, xeBoGet, xeBoPut, xeBoVramPage, type XeBo } from "./xe-bo.js";
import { LMEM_BAR, type XeDevice } from "./xe-device.js";

/** `SZ_2M`: VF LMEM is provisioned in 2 MiB granules. */
const SZ_2M = 2n << 20n;

/** One VF's configuration (`struct xe_gt_sriov_config`), VF ids 1-based as Xe numbers them. @public */
export interface XeGtSriovConfig {
  /** 1-based (0 is the PF). */
  readonly vfid: number;
  /** `config->lmem_obj`: the PF BO backing the VF's LMEM quota, or null when none is provisioned. */
  lmemObj: XeBo | null;
}

/** Options of the PF's provisioning at probe. @public */
export interface XeSriovPfOptions {
  /**
   * LMEM quota of each enabled VF: `'fair'` (default: half of VRAM shared
   * among the enabled VFs, at most the VF LMEM BAR size, in 2 MiB granules)
   * or a size (0: none).
   */
  readonly vfLmem?: "fair" | bigint;
}

/** PF-mode state of an Xe device (`xe->sriov.pf` and the root GT's `sriov.pf`). @public */
export interface XeSriovPf {
  /** `xe_gt_sriov_pf_master_mutex()`. */
  readonly master: Mutex;
  /** `pci_sriov_get_totalvfs()`. */
  readonly totalVfs: number;
  /** Index = VF id (1-based); index 0 unused. */
  readonly configs: readonly XeGtSriovConfig[];
  /** The LMTT page tables (kept in VRAM, allocated at PF init). */
  lmtt: XeBo | null;
  /** The VFs' LMEM BAR backings before the LMTT view was installed. */
  readonly savedBackings: Map<PciDev, PhysRegionBacking>;
}

/** `xe_sriov_pf_get_vf_id()`-style: the Xe VF id (1-based) of `vf`, from `pci_iov_vf_id()` (0-based). @public */
export function xeSriovVfIdOf(vf: PciDev): number {
  const id = pciIovVfId(vf);
  return id < 0 ? id : id + 1;
}

/** `IS_SRIOV_PF(xe)`. @public */
export function xeDeviceIsSriovPf(xe: XeDevice): boolean {
  return xe.sriovPf !== null;
}

function pfOf(xe: XeDevice, op: string): XeSriovPf {
  if (!xe.sriovPf) throw new KernelError("EPERM", op, `${xe.pdev.name} is not an SR-IOV PF`);
  return xe.sriovPf;
}

function configOf(pf: XeSriovPf, vfid: number, op: string): XeGtSriovConfig {
  if (!Number.isInteger(vfid) || vfid < 1 || vfid > pf.totalVfs) throw new KernelError("EINVAL", op, `VF id ${vfid} not in 1..${pf.totalVfs}`);
  return pf.configs[vfid]!;
}

/**
 * The LMTT (LMEM translation table) view of VF `vfid`'s LMEM BAR: BAR page i
 * is page i of the VF's LMEM object; beyond the quota, or with none
 * provisioned, nothing answers (an Unsupported Request for DMA, all-ones for
 * the CPU).
 */
function lmttBacking(xe: XeDevice, config: XeGtSriovConfig): PhysRegionBacking {
  return {
    page(i, forWrite) {
      const obj = config.lmemObj;
      if (!obj || i >= obj.npages) return null;
      return xe.vram.page(xeBoVramPage(obj, i), forWrite);
    },
  };
}

/**
 * `xe_sriov_pf_init()` + auto-provisioning: enters PF mode, allocates the
 * LMTT in VRAM, maps every enabled VF's LMEM BAR through it, and gives each
 * enabled VF its LMEM quota (`xe_gt_sriov_pf_config_set_fair()`).
 * @public
 */
export function xeSriovPfInit(xe: XeDevice, opts: XeSriovPfOptions = {}): void {
  const sriov = xe.pdev.sriov;
  if (!sriov) throw new KernelError("ENODEV", "xe_sriov_pf_init", `${xe.pdev.name} has no SR-IOV capability`);
  const k = xe.kernel;
  const configs: XeGtSriovConfig[] = Array.from({ length: sriov.totalVfs + 1 }, (_, vfid) => ({ vfid, lmemObj: null }));
  const pf: XeSriovPf = {
    master: new Mutex({ lockdep: k.lockdep, current: () => k.current }, "xe_gt_sriov_pf_master", "&gt->sriov.pf.master_lock"),
    totalVfs: sriov.totalVfs,
    configs,
    lmtt: null,
    savedBackings: new Map(),
  };
  xe.sriovPf = pf;
  pf.lmtt = xeBoCreate(xe, SZ_2M, { placements: [XE_PL_VRAM0], pinned: true, needs2M: true, name: "lmtt" });
  for (const vf of sriov.vfs) {
    const bar = vf.bars[LMEM_BAR];
    if (!bar) continue;
    pf.savedBackings.set(vf, bar.backing);
    bar.backing = lmttBacking(xe, configOf(pf, xeSriovVfIdOf(vf), "xe_sriov_pf_init"));
  }
  const numVfs = sriov.vfs.length;
  const vfBar = sriov.vfBarSizes[LMEM_BAR] ?? 0n;
  let quota = opts.vfLmem ?? "fair";
  if (quota === "fair") {
    const share = numVfs ? xe.vram.size / 2n / BigInt(numVfs) : 0n;
    quota = ((share < vfBar ? share : vfBar) / SZ_2M) * SZ_2M;
  }
  if (quota > 0n) for (const vf of sriov.vfs) xeGtSriovPfConfigSetLmem(xe, xeSriovVfIdOf(vf), quota);
}

/** `xe_sriov_pf_fini()`: unprovisions every VF, frees the LMTT, gives the VF BARs their old backing. @public */
export function xeSriovPfFini(xe: XeDevice): void {
  const pf = xe.sriovPf;
  if (!pf) return;
  for (const c of pf.configs.slice(1)) if (c.lmemObj) xeGtSriovPfConfigSetLmem(xe, c.vfid, 0n);
  xeBoPut(pf.lmtt);
  pf.lmtt = null;
  for (const [vf, backing] of pf.savedBackings) vf.bars[LMEM_BAR]!.backing = backing;
  xe.sriovPf = null;
}

/**
 * `xe_gt_sriov_pf_config_set_lmem(gt, vfid, size)`: (re)provisions VF
 * `vfid`'s LMEM quota under the PF master mutex: the old LMEM object is
 * released (importers that still hold a reference keep it alive, but the
 * VF's BAR no longer reaches it), and for a non-zero size a new pinned VRAM
 * object of `size` rounded up to 2 MiB backs the VF's LMEM BAR from offset 0.
 * @throws KernelError `EPERM` (not a PF), `EINVAL` (VF id, bigger than the
 * VF LMEM BAR), `ENOSPC`/`ENOMEM` (VRAM).
 * @public
 */
export function xeGtSriovPfConfigSetLmem(xe: XeDevice, vfid: number, size: bigint): void {
  const op = "xe_gt_sriov_pf_config_set_lmem";
  const pf = pfOf(xe, op);
  const config = configOf(pf, vfid, op);
  const bytes = ((size + SZ_2M - 1n) / SZ_2M) * SZ_2M;
  const vfBar = xe.pdev.sriov?.vfBarSizes[LMEM_BAR] ?? 0n;
  if (bytes > vfBar) throw new KernelError("EINVAL", op, `VF${vfid} LMEM ${hex(bytes)} exceeds the VF LMEM BAR ${hex(vfBar)}`);
  pf.master.lock();
  try {
    const old = config.lmemObj;
    config.lmemObj = null;
    xeBoPut(old);
    if (bytes > 0n) config.lmemObj = xeBoCreate(xe, bytes, { placements: [XE_PL_VRAM0], pinned: true, needs2M: true, name: `vf${vfid}_lmem` });
  } finally {
    pf.master.unlock();
  }
  xe.kernel.printk.info(`xe ${xe.pdev.name}: [drm] PF: VF${vfid} provisioned with ${bytes >> 20n} MiB LMEM`);
}

/** `xe_gt_sriov_pf_config_get_lmem()`: VF `vfid`'s provisioned LMEM in bytes (0: none). @public */
export function xeGtSriovPfConfigGetLmem(xe: XeDevice, vfid: number): bigint {
  const op = "xe_gt_sriov_pf_config_get_lmem";
  const pf = pfOf(xe, op);
  const config = configOf(pf, vfid, op);
  return pf.master.with(() => config.lmemObj?.size ?? 0n);
}

/**
 * `xe_gt_sriov_pf_config_get_lmem_obj(gt, vfid)` (patch 6/8): under the PF
 * master mutex, a new reference (`xe_bo_get()`) on the BO backing VF
 * `vfid`'s LMEM, or null when none is provisioned. The caller puts it.
 * @throws KernelError `EPERM` (not a PF), `EINVAL` (VF id out of range).
 * @public
 */
export function xeGtSriovPfConfigGetLmemObj(xe: XeDevice, vfid: number): XeBo | null {
  const op = "xe_gt_sriov_pf_config_get_lmem_obj";
  const pf = pfOf(xe, op);
  const config = configOf(pf, vfid, op);
  return pf.master.with(() => (config.lmemObj ? xeBoGet(config.lmemObj) : null));
}
