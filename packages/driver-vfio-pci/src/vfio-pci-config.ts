// drivers/vfio/pci/vfio_pci_config.c: config space the model virtualizes (PCI_COMMAND memory enable).
import { KernelError, type PciPowerState } from "@dmabuf-sdk/dmabuf-core";
import type { VfioPciCoreDevice } from "./vfio-pci-core.js";
import { vfioPciDmaBufMove } from "./vfio-pci-dmabuf.js";

/** `PCI_COMMAND` (16 bits). @public */
export const PCI_COMMAND = 0x04;
/** `PCI_COMMAND_IO`. @public */
export const PCI_COMMAND_IO = 0x1;
/** `PCI_COMMAND_MEMORY`: memory space decode. @public */
export const PCI_COMMAND_MEMORY = 0x2;
/** `PCI_COMMAND_MASTER`. @public */
export const PCI_COMMAND_MASTER = 0x4;
/** `PCI_STATUS_CAP_LIST`. */
const PCI_STATUS_CAP_LIST = 0x10;

/** Offset of the power management capability in the model's config space. @public */
export const VFIO_PCI_PM_CAP = 0x40;
/** `PCI_PM_CTRL` (PMCSR) within the PM capability; bits [1:0] are the power state. @public */
export const PCI_PM_CTRL = 4;
/** Offset of the PCI Express capability in the model's config space. @public */
export const VFIO_PCI_EXP_CAP = 0x60;
/** `PCI_EXP_DEVCAP` within the PCIe capability. @public */
export const PCI_EXP_DEVCAP = 4;
/** `PCI_EXP_DEVCAP_FLR`: Function Level Reset capable. @public */
export const PCI_EXP_DEVCAP_FLR = 1 << 28;
/** `PCI_EXP_DEVCTL` within the PCIe capability. @public */
export const PCI_EXP_DEVCTL = 8;
/** `PCI_EXP_DEVCTL_BCR_FLR`: writing 1 initiates an FLR. @public */
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
/** Size of the emulated config space (the model has no extended capabilities). @public */
export const VFIO_PCI_CONFIG_SIZE = 256;

const POWER_STATES: readonly PciPowerState[] = ["D0", "D1", "D2", "D3hot"];

/**
 * `vfio_config_init()`: the virtual config space of an opened device. The
 * command register starts as the hardware's after `pci_enable_device()`
 * (memory decode on); the capability list has power management and PCI
 * Express (with `DEVCAP.FLR` when the function can do an FLR).
 */
export function vfioConfigInit(vdev: VfioPciCoreDevice): Uint8Array {
  const pdev = vdev.pdev;
  const c = new Uint8Array(VFIO_PCI_CONFIG_SIZE);
  const v = new DataView(c.buffer);
  v.setUint16(0, pdev.vendor, true);
  v.setUint16(2, pdev.device, true);
  v.setUint16(PCI_COMMAND, (pdev.command.memory ? PCI_COMMAND_MEMORY : 0) | (pdev.command.master ? PCI_COMMAND_MASTER : 0), true);
  v.setUint16(0x06, PCI_STATUS_CAP_LIST, true);
  c[0x34] = VFIO_PCI_PM_CAP;
  c[VFIO_PCI_PM_CAP] = 0x01; // PCI_CAP_ID_PM
  c[VFIO_PCI_PM_CAP + 1] = VFIO_PCI_EXP_CAP;
  v.setUint16(VFIO_PCI_PM_CAP + PCI_PM_CTRL, POWER_STATES.indexOf(pdev.currentState === "D3cold" ? "D3hot" : pdev.currentState), true);
  c[VFIO_PCI_EXP_CAP] = 0x10; // PCI_CAP_ID_EXP
  c[VFIO_PCI_EXP_CAP + 1] = 0;
  v.setUint32(VFIO_PCI_EXP_CAP + PCI_EXP_DEVCAP, vdev.flrCapable ? PCI_EXP_DEVCAP_FLR : 0, true);
  return c;
}

/**
 * `vfio_lock_and_set_power_state()`: a PMCSR write. Going to D3hot or deeper
 * revokes first (zap, `memory_lock` for write, `move(true)`); in every case
 * the buffers come back when memory is enabled afterwards.
 */
export function vfioLockAndSetPowerState(vdev: VfioPciCoreDevice, state: PciPowerState): void {
  const revoke = state === "D3hot" || state === "D3cold";
  if (revoke) vdev.zapAndDownWriteMemoryLock();
  else vdev.memoryLock.downWrite();
  try {
    if (revoke) vfioPciDmaBufMove(vdev, true);
    vdev.setPowerState(state);
    if (vdev.memoryEnabled()) vfioPciDmaBufMove(vdev, false);
  } finally {
    vdev.memoryLock.upWrite();
  }
}

/**
 * `vfio_basic_config_write()` for `PCI_COMMAND`: clearing MEMORY revokes
 * every buffer before the write reaches the device (zap, `memory_lock`,
 * `move(true)`); after the write the virtual MEMORY/IO bits follow the user's
 * value and, when memory is enabled, the buffers come back.
 */
function vfioCommandWrite(vdev: VfioPciCoreDevice, newCmd: number): void {
  const newMem = (newCmd & PCI_COMMAND_MEMORY) !== 0;
  if (!newMem) vdev.zapAndDownWriteMemoryLock();
  else vdev.memoryLock.downWrite();
  try {
    if (!newMem) vfioPciDmaBufMove(vdev, true);
    const pdev = vdev.pdev;
    // vfio_default_config_write(): the physical bits the user may write.
    if (!pdev.noCommandMemory) pdev.command.memory = newMem;
    pdev.command.master = (newCmd & PCI_COMMAND_MASTER) !== 0;
    const v = new DataView(vdev.vconfig!.buffer);
    const mask = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
    v.setUint16(PCI_COMMAND, (v.getUint16(PCI_COMMAND, true) & ~mask & ~PCI_COMMAND_MASTER) | (newCmd & (mask | PCI_COMMAND_MASTER)), true);
    if (vdev.memoryEnabled()) vfioPciDmaBufMove(vdev, false);
  } finally {
    vdev.memoryLock.upWrite();
  }
}

/**
 * `vfio_exp_config_write()` for `PCI_EXP_DEVCTL`: initiating an FLR on a
 * function that can do one revokes, resets (`pci_try_reset_function()`) and
 * brings the buffers back when memory is still enabled: the virtual command
 * register decides, so a device whose user had MEMORY on is un-revoked at
 * once.
 */
function vfioDevctlWrite(vdev: VfioPciCoreDevice, val: number): void {
  if (!(val & PCI_EXP_DEVCTL_BCR_FLR) || !vdev.flrCapable) return;
  vdev.zapAndDownWriteMemoryLock();
  try {
    vfioPciDmaBufMove(vdev, true);
    vdev.tryResetFunction();
    if (vdev.memoryEnabled()) vfioPciDmaBufMove(vdev, false);
  } finally {
    vdev.memoryLock.upWrite();
  }
}

/**
 * `vfio_pci_config_rw()`: reads return the virtual config space; writes are
 * emulated for `PCI_COMMAND`, the PMCSR and `PCI_EXP_DEVCTL` (other registers
 * are read-only in the model). Accesses are split into naturally aligned
 * pieces of at most four bytes, as vfio does. @throws KernelError `EINVAL`
 * past the config space.
 */
export function vfioPciConfigRw(vdev: VfioPciCoreDevice, buf: Uint8Array, pos: bigint, write: boolean): number {
  const cfg = vdev.vconfig!;
  if (pos + BigInt(buf.length) > BigInt(VFIO_PCI_CONFIG_SIZE)) throw new KernelError("EINVAL", "vfio_pci_config_rw", `offset ${pos}+${buf.length}`);
  let off = Number(pos);
  let done = 0;
  while (done < buf.length) {
    const left = buf.length - done;
    const n = off % 4 === 0 && left >= 4 ? 4 : off % 2 === 0 && left >= 2 ? 2 : 1;
    if (!write) buf.set(cfg.subarray(off, off + n), done);
    else writeChunk(vdev, cfg, off, buf.subarray(done, done + n));
    done += n;
    off += n;
  }
  return buf.length;
}

function writeChunk(vdev: VfioPciCoreDevice, cfg: Uint8Array, off: number, data: Uint8Array): void {
  const covers = (reg: number): boolean => off <= reg + 1 && off + data.length > reg;
  const merged = (reg: number): number => {
    const tmp = cfg.slice(reg, reg + 2);
    for (let i = 0; i < data.length; i++) {
      const at = off + i - reg;
      if (at >= 0 && at < 2) tmp[at] = data[i]!;
    }
    return tmp[0]! | (tmp[1]! << 8);
  };
  if (covers(PCI_COMMAND)) vfioCommandWrite(vdev, merged(PCI_COMMAND));
  const pmcsr = VFIO_PCI_PM_CAP + PCI_PM_CTRL;
  if (covers(pmcsr)) {
    const val = merged(pmcsr);
    cfg[pmcsr] = val & 3;
    vfioLockAndSetPowerState(vdev, POWER_STATES[val & 3]!);
  }
  const devctl = VFIO_PCI_EXP_CAP + PCI_EXP_DEVCTL;
  if (covers(devctl)) {
    const val = merged(devctl);
    new DataView(cfg.buffer).setUint16(devctl, val & ~PCI_EXP_DEVCTL_BCR_FLR, true);
    vfioDevctlWrite(vdev, val);
  }
}
