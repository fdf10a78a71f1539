// drivers/vfio/pci/vfio_pci_core.c: the vfio-pci core device, its regions, ioctls and variant-driver ops.
import {
  File,
  KernelBug,
  KernelError,
  RwSemaphore,
  copyFromUser,
  type Errno,
  type Kernel,
  type PciDev,
  type P2pdmaProvider,
  type PciPowerState,
  type Task,
  type UserArg,
} from "@dmabuf-sdk/dmabuf-core";
import type { DmaBufPhysVec } from "@dmabuf-sdk/map-pal";
import { vfioDeviceFops, vfioCheckFeature, vfioFileIsGroup, type VfioDeviceFile, type VfioDeviceSet, type VfioGroup } from "./vfio-main.js";
import { PCI_COMMAND, PCI_COMMAND_MEMORY, vfioConfigInit, vfioPciConfigRw } from "./vfio-pci-config.js";
import {
  vfioPciCoreFeatureDmaBuf,
  vfioPciCoreFeatureDmaBufMemattr,
  vfioPciCoreFeatureDmaBufRevoke,
  vfioPciDmaBufCleanup,
  vfioPciDmaBufMove,
  type VfioPciDmaBuf,
} from "./vfio-pci-dmabuf.js";
import {
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR,
  VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE,
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
  VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_HOT_RESET_SIZE,
  VFIO_PCI_OFFSET_SHIFT,
  VFIO_PCI_ROM_REGION_INDEX,
  type VfioRegionDmaRange,
} from "./vfio.js";
import type { VfioPciDriver } from "./module.js";

/**
 * `struct vfio_pci_device_ops`: what a vfio-pci variant driver provides.
 * Without `getDmabufPhys` the device cannot export dma-bufs (`EOPNOTSUPP`).
 * @public
 */
export interface VfioPciDeviceOps {
  /**
   * `get_dmabuf_phys`: the BAR's p2pdma provider and the ranges as CPU
   * physical addresses. Throws `KernelError` to refuse.
   */
  getDmabufPhys?(vdev: VfioPciCoreDevice, regionIndex: number, ranges: readonly VfioRegionDmaRange[]): { provider: P2pdmaProvider; physVec: DmaBufPhysVec[] };
}

/**
 * `vfio_pci_dma_buf_match_mapping()` as posted in v1 (patch 22/26: checks
 * `priv->vdev`, then reads `priv->vdev->pdev` without a lock) or as fixed
 * after Baolu Lu's review (Jason Gunthorpe, 2026-04-13: the buffer's own
 * `pdev` reference, no `vdev` check).
 * @public
 */
export type VfioPciMatchMappingVersion = "v1" | "post-2026-04-13";

/**
 * How a revoke drains the importers (`vfio_pci_dma_buf_move()` and
 * `vfio_pci_dma_buf_cleanup()`):
 * - `pre-1a8a5227f229` (v6.19): under the resv lock flip the flag and notify
 *   the importers, nothing waited for — a mapping may outlive the revoke;
 *   cleanup notifies every buffer, revoked or not;
 * - `1a8a5227f229` ("vfio: Wait for dma-buf invalidation to complete"): also
 *   wait for the fences, drop the registered kref and wait for the
 *   completion, with no re-arm until the un-revoke; cleanup drains every
 *   buffer again, so revoke-then-close underflows the kref and waits forever;
 * - `post-2026-05-07` (Alex Williamson, "vfio/pci: fix dma-buf kref
 *   underflow after revoke", Fixes 1a8a5227f229): the revoke re-arms after
 *   its drain and cleanup revokes through `move(true)`, which skips revoked
 *   buffers.
 * @public
 */
export type VfioPciDmaBufRevokeVersion = "pre-1a8a5227f229" | "1a8a5227f229" | "post-2026-05-07";

/**
 * `struct vfio_pci_core_device` with its embedded `struct vfio_device`: a PCI
 * function bound to vfio-pci. `memoryLock` (`&vdev->memory_lock`) protects
 * the virtual command register, the power state and the list of exported
 * buffers; it nests inside the device set's lock and outside every buffer's
 * resv lock.
 * @public
 */
export class VfioPciCoreDevice {
  readonly kernel: Kernel;
  /** `vdev->memory_lock`. */
  readonly memoryLock: RwSemaphore;
  /** `vdev->dmabufs`: live exported buffers (protected by `memoryLock`). */
  readonly dmabufs: VfioPciDmaBuf[] = [];
  /** `vdev->vdev.open_count`. */
  openCount = 0;
  /** `vdev->vconfig`: the virtual config space; null while the device is not open. */
  vconfig: Uint8Array | null = null;
  /** `vdev->pm_runtime_engaged`. */
  pmRuntimeEngaged = false;
  /** `vdev->reset_works`. */
  resetWorks = true;
  /** The function can do a Function Level Reset (`PCI_EXP_DEVCAP_FLR`). */
  flrCapable = true;
  /** Which `vfio_pci_dma_buf_match_mapping()` the buffers exported from now on use (see {@link VfioPciMatchMappingVersion}). */
  matchMappingVersion: VfioPciMatchMappingVersion = "post-2026-04-13";
  /** How revokes and cleanup drain the importers (see {@link VfioPciDmaBufRevokeVersion}); read at each revoke. */
  dmabufRevokeVersion: VfioPciDmaBufRevokeVersion = "post-2026-05-07";
  /**
   * `vdev->barmap[]` after the eager set-up of the open path: the BAR, or the
   * errno that `vfio_pci_core_setup_barmap()` gave (absent BAR `ENODEV`,
   * resources held by someone else `EBUSY`).
   */
  barmap: (true | Errno)[] = [];
  /**
   * Bound as a private (TDI) device: Xu Yilun's RFC 08/12
   * `VFIO_DEVICE_BIND_IOMMUFD_PRIVATE`, set with {@link VfioPciCoreDevice.setPrivate}.
   * Its BARs cannot be read or written through the device fd, and the
   * dma-bufs it exports are private (`get_pfn` only).
   */
  isPrivate = false;
  /** `vfio_device->kvm`: the VM set by `vfio_file_set_kvm()` (KVM-VFIO device), or null. */
  kvm: unknown = null;
  /** Hardware resets so far (FLR and bus resets), for tests and traces. */
  resets = 0;
  #registration = 1;
  #unregistered = false;
  #savedCommand: { memory: boolean; master: boolean } | null = null;

  constructor(
    readonly driver: VfioPciDriver,
    readonly pdev: PciDev,
    /** The device node's minor: `/dev/vfio/devices/vfio<minor>`. */
    readonly minor: number,
    readonly devSet: VfioDeviceSet,
    readonly group: VfioGroup,
    /** `vdev->pci_ops`; null for a variant driver without dma-buf support. */
    readonly pciOps: VfioPciDeviceOps | null,
  ) {
    this.kernel = pdev.kernel;
    this.memoryLock = new RwSemaphore({ lockdep: this.kernel.lockdep, current: () => this.kernel.current }, `${pdev.name} memory_lock`, "&vdev->memory_lock");
  }

  /** `/dev/vfio/devices/vfio<minor>`, the device's cdev. */
  get cdevPath(): string {
    return `/dev/vfio/devices/vfio${this.minor}`;
  }

  /** `/dev/vfio/<group>`, the device's group node. */
  get groupPath(): string {
    return `/dev/vfio/${this.group.id}`;
  }

  // ---- registration ------------------------------------------------------------

  /** Registration references (`vfio_device->refcount`): 1 while registered, plus one per open file and per attached dma-buf. */
  get registrations(): number {
    return this.#registration;
  }

  /** `vfio_device_try_get_registration()`. */
  tryGetRegistration(): boolean {
    if (this.#registration === 0) return false;
    this.#registration++;
    return true;
  }

  /** `vfio_device_put_registration()`. */
  putRegistration(): void {
    if (this.#registration === 0) {
      this.kernel.warn(`${this.pdev.name}: vfio_device_put_registration below zero`);
      return;
    }
    this.#registration--;
  }

  /**
   * `vfio_unregister_group_dev()`: drops the registration. The kernel then
   * waits (asking userspace to close) until every file and buffer has given
   * its registration back; the model refuses with `EBUSY` instead of
   * blocking. Closing the device cleans up its buffers, so orphaned dma-bufs
   * do not hold it.
   */
  unregister(): void {
    if (this.#unregistered) return;
    if (this.#registration !== 1) throw new KernelError("EBUSY", "vfio_unregister_group_dev", `${this.#registration - 1} registration reference(s) still held`);
    this.#registration = 0;
    this.#unregistered = true;
  }

  // ---- open / close ------------------------------------------------------------

  /**
   * Opens the device for a new file (cdev open, or `VFIO_GROUP_GET_DEVICE_FD`):
   * takes a registration (`ENODEV` once unregistered) and a module reference,
   * then under the device set's lock `open_device` on the first open.
   */
  attachFile(file: File, cdev: boolean): void {
    if (!this.tryGetRegistration()) throw new KernelError("ENODEV", "vfio_device_open", `${this.pdev.name} is unregistered`);
    if (!this.kernel.modules.tryModuleGet(this.driver.module)) {
      this.putRegistration();
      throw new KernelError("ENODEV", "vfio_device_open", "vfio-pci is going away");
    }
    this.devSet.lock.lock();
    try {
      if (this.openCount === 0) this.openDevice();
      this.openCount++;
    } catch (e) {
      this.kernel.modules.modulePut(this.driver.module);
      this.putRegistration();
      throw e;
    } finally {
      this.devSet.lock.unlock();
    }
    file.privateData = { vdev: this, cdev } satisfies VfioDeviceFile;
  }

  /** Opens a device file and installs it in the current task (the group path). */
  openFd(cdev: boolean): number {
    const k = this.kernel;
    const files = k.current.files;
    const fd = files.getUnusedFdFlags(0);
    const file = new File(k, vfioDeviceFops, undefined, 0o2);
    try {
      this.attachFile(file, cdev);
    } catch (e) {
      files.putUnusedFd(fd);
      file.put();
      throw e;
    }
    files.fdInstall(fd, file);
    return fd;
  }

  /** `vfio_device_fops_release()`: the last `close_device` runs under the device set's lock. */
  closeFile(_df: VfioDeviceFile): void {
    this.devSet.lock.lock();
    try {
      if (--this.openCount === 0) this.closeDevice();
    } finally {
      this.devSet.lock.unlock();
      this.putRegistration();
      this.kernel.modules.modulePut(this.driver.module);
    }
  }

  /**
   * `vfio_pci_core_enable()`: enables the function (memory decode on), claims
   * and maps every BAR (the eager `barmap` of current trees) and builds the
   * virtual config space.
   */
  openDevice(): void {
    const pdev = this.pdev;
    this.#savedCommand = { ...pdev.command };
    if (!pdev.noCommandMemory) pdev.command.memory = true;
    pdev.command.master = true;
    this.barmap = [];
    for (let i = 0; i < VFIO_PCI_ROM_REGION_INDEX; i++) {
      const bar = pdev.bars[i];
      if (!bar) this.barmap[i] = "ENODEV";
      else if (bar.claimed) this.barmap[i] = "EBUSY";
      else {
        bar.claimed = true;
        this.barmap[i] = true;
      }
    }
    this.vconfig = vfioConfigInit(this);
  }

  /**
   * `vfio_pci_core_close_device()`: the buffers are cleaned up first (as
   * current trees do, before `vfio_pci_core_disable()`), then the device is
   * disabled: runtime PM left, BARs released, reset, command register
   * restored, virtual config space freed.
   */
  closeDevice(): void {
    vfioPciDmaBufCleanup(this);
    const pdev = this.pdev;
    this.pmRuntimeEngaged = false;
    this.setPowerState("D0");
    this.barmap.forEach((ok, i) => {
      if (ok === true) pdev.bars[i]!.claimed = false;
    });
    this.barmap = [];
    if (this.resetWorks) this.tryResetFunction();
    if (this.#savedCommand) pdev.command = this.#savedCommand;
    this.#savedCommand = null;
    this.vconfig = null;
  }

  // ---- memory enable, power, reset -----------------------------------------------

  /**
   * `__vfio_pci_memory_enabled()`: below D3hot and memory enabled in the
   * virtual command register (VFs: always, `no_command_memory`). It reads
   * `vconfig`, which exists only while the device is open: calling it on a
   * closed device is the NULL dereference the hot-reset `open_count` guard
   * prevents.
   */
  memoryEnabled(): boolean {
    const pdev = this.pdev;
    if (!this.vconfig) throw new KernelBug("oops", `BUG: kernel NULL pointer dereference in __vfio_pci_memory_enabled (${pdev.name} vconfig)`);
    const cmd = new DataView(this.vconfig.buffer).getUint16(PCI_COMMAND, true);
    const below = pdev.currentState === "D0" || pdev.currentState === "D1" || pdev.currentState === "D2";
    return below && (pdev.noCommandMemory || (cmd & PCI_COMMAND_MEMORY) !== 0);
  }

  /**
   * `vfio_pci_zap_and_down_write_memory_lock()`: zaps the device's own BAR
   * mmaps (the model has none: mmap goes through dma-bufs) and takes
   * `memory_lock` for write.
   */
  zapAndDownWriteMemoryLock(): void {
    this.memoryLock.downWrite();
  }

  /** `vfio_pci_set_power_state()`. */
  setPowerState(state: PciPowerState): void {
    this.pdev.currentState = state;
  }

  /**
   * `pci_try_reset_function()`: an FLR; config state is saved and restored,
   * so the command register and BAR contents survive.
   */
  tryResetFunction(): void {
    this.resets++;
    this.kernel.trace.emit("pci_reset_function", { dev: this.pdev.name });
  }

  // ---- ioctls ---------------------------------------------------------------------

  /**
   * `vfio_pci_core_ioctl_feature()`: the features vfio-pci implements;
   * anything else `ENOTTY`.
   */
  deviceFeature(flags: number, arg: UserArg, dataOffset: number, argsz: number): number {
    switch (flags & VFIO_DEVICE_FEATURE_MASK) {
      case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY:
        return this.pmEntry(flags, argsz);
      case VFIO_DEVICE_FEATURE_LOW_POWER_EXIT:
        return this.pmExit(flags, argsz);
      case VFIO_DEVICE_FEATURE_DMA_BUF:
        return vfioPciCoreFeatureDmaBuf(this, flags, arg, dataOffset, argsz);
      case VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE:
        return vfioPciCoreFeatureDmaBufRevoke(this, flags, arg, dataOffset, argsz);
      case VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR:
        return vfioPciCoreFeatureDmaBufMemattr(this, flags, arg, dataOffset, argsz);
      default:
        throw new KernelError("ENOTTY", "vfio_pci_core_ioctl_feature", `feature ${flags & VFIO_DEVICE_FEATURE_MASK}`);
    }
  }

  /** `vfio_pci_core_ioctl()`: the device ioctls the model implements. */
  ioctl(df: VfioDeviceFile, cmd: number, arg: UserArg): number {
    switch (cmd) {
      case VFIO_DEVICE_RESET:
        return this.ioctlReset();
      case VFIO_DEVICE_PCI_HOT_RESET:
        return this.ioctlPciHotReset(df, arg);
      default:
        throw new KernelError("ENOTTY", "vfio_pci_core_ioctl", `cmd ${cmd.toString(16)}`);
    }
  }

  /**
   * `VFIO_DEVICE_RESET`: `EINVAL` unless a reset works; otherwise zap, take
   * `memory_lock`, go to D0, revoke, reset, and bring the buffers back when
   * memory is (virtually) enabled.
   */
  ioctlReset(): number {
    if (!this.resetWorks) throw new KernelError("EINVAL", "vfio_pci_ioctl_reset", "reset does not work");
    this.zapAndDownWriteMemoryLock();
    try {
      this.setPowerState("D0");
      vfioPciDmaBufMove(this, true);
      this.tryResetFunction();
      if (this.memoryEnabled()) vfioPciDmaBufMove(this, false);
    } finally {
      this.memoryLock.upWrite();
    }
    return 0;
  }

  /**
   * `VFIO_DEVICE_PCI_HOT_RESET`: `{argsz, flags, count, group_fds[]}`. In
   * order: copy (`EFAULT`); `argsz < 12` or `flags` → `EINVAL`; a group-fd
   * list from a cdev-opened device, or none from a group-opened one →
   * `EINVAL`; no bus reset below this bus → `ENODEV`; the group fds (at
   * least one, at most one per device of the set: `EINVAL`; `EBADF`; not a
   * group: `EINVAL`); then the device-set reset.
   */
  ioctlPciHotReset(df: VfioDeviceFile, arg: UserArg): number {
    const op = "vfio_pci_ioctl_pci_hot_reset";
    const hdr = copyFromUser(arg, 0, VFIO_PCI_HOT_RESET_SIZE, op);
    const argsz = hdr.getUint32(0, true);
    const flags = hdr.getUint32(4, true);
    const count = hdr.getUint32(8, true);
    if (argsz < VFIO_PCI_HOT_RESET_SIZE || flags) throw new KernelError("EINVAL", op, "argsz or flags");
    if ((count !== 0) === df.cdev) throw new KernelError("EINVAL", op, df.cdev ? "group fds from a cdev-opened device" : "no group fds from a group-opened device");
    if (!this.pdev.bus.self) throw new KernelError("ENODEV", op, "no bus reset on a root bus");
    if (!count) return this.devSetHotReset(null);
    if (count > this.devSet.devices.length) throw new KernelError("EINVAL", op, `${count} group fds for ${this.devSet.devices.length} device(s)`);
    const fds = copyFromUser(arg, VFIO_PCI_HOT_RESET_SIZE, 4 * count, op);
    const groups = new Set<VfioGroup>();
    const files = this.kernel.current.files;
    for (let i = 0; i < count; i++) {
      const file = files.lookup(fds.getInt32(4 * i, true));
      if (!file) throw new KernelError("EBADF", op, `group fd ${fds.getInt32(4 * i, true)}`);
      if (!vfioFileIsGroup(file)) throw new KernelError("EINVAL", op, "not a vfio group fd");
      groups.add(file.privateData as VfioGroup);
    }
    return this.devSetHotReset(groups);
  }

  /**
   * `vfio_pci_dev_set_hot_reset()`: under the device set's lock, every device
   * of the set in list order must be owned by the caller (its group among
   * `groups`; or, from a cdev, the device opened by the calling process,
   * standing for "bound to the same iommufd") else `EINVAL`, and its
   * `memory_lock` must be free (`down_write_trylock`, else `EBUSY`); each
   * locked device is revoked. On success every device goes to D0 and the bus
   * is reset. The undo walk then goes backwards from the last device locked:
   * a device that is open and has memory enabled gets its buffers back, and
   * its `memory_lock` is released. A device that failed the trylock is neither
   * revoked nor unlocked. The `open_count` guard keeps the walk from reading
   * the virtual config space of a device nobody opened.
   */
  devSetHotReset(groups: ReadonlySet<VfioGroup> | null): number {
    const set = this.devSet;
    const current = this.kernel.current;
    set.lock.lock();
    const locked: VfioPciCoreDevice[] = [];
    let ret: Errno | undefined;
    try {
      for (const vdev of set.devices) {
        const owned = groups ? groups.has(vdev.group) : vdev.openedBy(current);
        if (!owned) {
          ret = "EINVAL";
          break;
        }
        if (!vdev.memoryLock.downWriteTrylock()) {
          ret = "EBUSY";
          break;
        }
        locked.push(vdev);
        vfioPciDmaBufMove(vdev, true);
      }
      if (!ret) {
        for (const vdev of set.devices) vdev.setPowerState("D0");
        this.pciResetBus();
      }
    } finally {
      for (const vdev of [...locked].reverse()) {
        try {
          if (vdev.openCount && vdev.memoryEnabled()) vfioPciDmaBufMove(vdev, false);
        } finally {
          vdev.memoryLock.upWrite();
        }
      }
      set.lock.unlock();
    }
    if (ret) throw new KernelError(ret, "vfio_pci_dev_set_hot_reset", ret === "EBUSY" ? "a memory_lock is held" : "a device of the set is not owned by the caller");
    return 0;
  }

  /** `pci_reset_bus()`: every function of the bus is reset; config state is saved and restored. */
  pciResetBus(): void {
    for (const vdev of this.devSet.devices) vdev.resets++;
    this.kernel.trace.emit("pci_reset_bus", { bus: this.pdev.bus.number });
  }

  /** Whether `task` holds an open file of this device. */
  openedBy(task: Task): boolean {
    return task.files.fds().some((fd) => {
      const f = task.files.lookup(fd);
      return f?.fops === vfioDeviceFops && (f.privateData as VfioDeviceFile | undefined)?.vdev === this;
    });
  }

  // ---- runtime PM -------------------------------------------------------------------

  /**
   * `VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY` (SET, no payload): zap, take
   * `memory_lock`, revoke; `EINVAL` when already engaged (the buffers stay
   * revoked, as in the kernel); else the device is runtime-suspended (D3hot).
   */
  pmEntry(flags: number, argsz: number): number {
    const r = vfioCheckFeature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
    if (r !== 1) return r;
    this.zapAndDownWriteMemoryLock();
    try {
      vfioPciDmaBufMove(this, true);
      if (this.pmRuntimeEngaged) throw new KernelError("EINVAL", "vfio_pci_runtime_pm_entry", "already engaged");
      this.pmRuntimeEngaged = true;
      this.setPowerState("D3hot");
    } finally {
      this.memoryLock.upWrite();
    }
    return 0;
  }

  /** `VFIO_DEVICE_FEATURE_LOW_POWER_EXIT` (SET, no payload): back to D0; the buffers come back when memory is enabled. */
  pmExit(flags: number, argsz: number): number {
    const r = vfioCheckFeature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
    if (r !== 1) return r;
    this.memoryLock.downWrite();
    try {
      if (this.pmRuntimeEngaged) {
        this.pmRuntimeEngaged = false;
        this.setPowerState("D0");
      }
      if (this.memoryEnabled()) vfioPciDmaBufMove(this, false);
    } finally {
      this.memoryLock.upWrite();
    }
    return 0;
  }

  /**
   * What `VFIO_DEVICE_BIND_IOMMUFD` with `VFIO_DEVICE_BIND_IOMMUFD_PRIVATE`
   * does to the device in RFC 08/12 (the model binds no iommufd: drivers do
   * not depend on each other): later exports are private, BAR access through
   * the device fd is refused. Unbind (`false`) clears it.
   */
  setPrivate(isPrivate: boolean): void {
    this.isPrivate = isPrivate;
  }

  // ---- read / write ----------------------------------------------------------------

  /**
   * `vfio_pci_rw()`: the region of `pos` (index in bits 40 and up): the
   * config space, or a memory BAR (`vfio_pci_bar_rw()`: under `memory_lock`
   * for read, `EIO` with memory decode off). ROM, I/O-port BARs and other
   * regions are not modelled (`EINVAL`).
   */
  rw(buf: Uint8Array, pos: bigint, write: boolean): number {
    const index = Number(pos >> VFIO_PCI_OFFSET_SHIFT);
    const off = pos & ((1n << VFIO_PCI_OFFSET_SHIFT) - 1n);
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) return vfioPciConfigRw(this, buf, off, write);
    const bar = index < VFIO_PCI_ROM_REGION_INDEX ? this.pdev.bars[index] : undefined;
    if (!bar || bar.type !== "mem") throw new KernelError("EINVAL", "vfio_pci_rw", `region ${index}`);
    // RFC 08/12: a private device's BARs are never reachable from the host CPU.
    if (this.isPrivate) throw new KernelError("EINVAL", "vfio_pci_bar_rw", "private device");
    if (off >= bar.size) throw new KernelError("EINVAL", "vfio_pci_bar_rw", "beyond the BAR");
    const map = this.barmap[index];
    if (map !== true) throw new KernelError(map ?? "ENODEV", "vfio_pci_bar_rw", "BAR not mapped");
    const n = Number(bar.size - off < BigInt(buf.length) ? bar.size - off : BigInt(buf.length));
    this.memoryLock.downRead();
    try {
      if (!this.memoryEnabled()) throw new KernelError("EIO", "vfio_pci_bar_rw", "memory decode is off");
      const mem = this.kernel.platform.physmem;
      if (write) mem.write(bar.start + off, buf.subarray(0, n));
      else buf.set(mem.read(bar.start + off, n));
    } finally {
      this.memoryLock.upRead();
    }
    return n;
  }
}
