// virt/kvm/kvm_main.c: /dev/kvm, the VM fd, KVM_SET_USER_MEMORY_REGION(2), memory attributes and VM teardown.
import {
  File,
  KernelError,
  Mutex,
  O_CLOEXEC,
  O_RDWR,
  PAGE_SHIFT,
  RwSemaphore,
  U64_LIMIT,
  copyFromUser,
  type FileOperations,
  type Kernel,
  type LoadedModule,
  type Mm,
  type UserArg,
} from "@dmabuf-sdk/dmabuf-core";
import type { KvmMemorySlot, KvmMemslotBackend, Spte } from "./kvm-host.js";
import {
  KVM_API_VERSION,
  KVM_CREATE_DEVICE,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_MEM_GUEST_MEMFD,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MEM_MAX_NR_PAGES,
  KVM_MEM_READONLY,
  KVM_MEM_SLOTS_NUM,
  KVM_MEM_VFIO_DMABUF,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_MEMORY_ATTRIBUTES_SIZE,
  KVM_SET_MEMORY_ATTRIBUTES,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_USER_MEMORY_REGION2,
  KVM_SET_USER_MEMORY_REGION_V1_FLAGS,
  KVM_USER_MEM_SLOTS,
  KVM_USERSPACE_MEMORY_REGION2_SIZE,
  KVM_USERSPACE_MEMORY_REGION_SIZE,
  KVM_X86_DEFAULT_VM,
  KVM_X86_SW_PROTECTED_VM,
  KVM_X86_TDX_VM,
  TASK_SIZE_MAX,
  type KvmUserspaceMemoryRegion2,
} from "./kvm-uapi.js";
import { kvmHasDmabufSlots, type KvmPfnVersion } from "./kvm-version.js";
import { kvmZapGfnRange, type KvmFaultPoint } from "./mmu.js";
import { kvmHvaBackend, kvmMmuNotifierRegister } from "./kvm-mmu-notifier.js";
import { kvmDmabufBind } from "./vfio-dmabuf.js";
import { kvmVcpuCreate, type KvmVcpu } from "./vcpu.js";
import { kvmIoctlCreateDevice, type KvmDevice } from "./kvm-vfio.js";

const PAGE = 4096n;

/** How a loaded KVM build is configured. @public */
export interface KvmBuild {
  readonly module: LoadedModule;
  readonly version: KvmPfnVersion;
}

/**
 * `struct kvm`: one VM. Holds the VMM's mm (for hva slots and the mmu
 * notifier), the memslots of each address space, the two stage-2 roots and
 * the invalidation sequence. Freed when the VM fd and every vCPU and device
 * fd are closed (`kvm_put_kvm`).
 * @public
 */
export class Kvm {
  readonly id: number;
  /** `kvm_arch_has_private_mem()`: SW_PROTECTED and TDX VMs. */
  readonly hasPrivateMem: boolean;
  /** `kvm_arch_nr_memslot_as_ids()`: 1 with private memory, else 2 (normal + SMM). */
  readonly nrAsIds: number;
  readonly memslots: Map<number, KvmMemorySlot>[];
  nrMemslotPages = 0n;
  readonly slotsLock: Mutex;
  /** `mmu_lock` (an rwlock on x86; write side for invalidations and, in the model, installs). */
  readonly mmuLock: RwSemaphore;
  mmuInvalidateSeq = 0n;
  mmuInvalidateInProgress = 0;
  mmuInvalidateRangeStart = -1n;
  mmuInvalidateRangeEnd = -1n;
  /** Per-gfn attributes (`KVM_MEMORY_ATTRIBUTE_PRIVATE`). */
  readonly memAttributes = new Map<bigint, bigint>();
  /** The shared (EPT/NPT) root: gfn → SPTE. */
  readonly sharedRoot = new Map<bigint, Spte>();
  /** The private (Secure EPT mirror) root. */
  readonly privateRoot = new Map<bigint, Spte>();
  readonly vcpus: KvmVcpu[] = [];
  readonly devices: KvmDevice[] = [];
  /** `users_count`: the VM fd, each vCPU and device fd. */
  usersCount = 1;
  destroyed = false;
  file!: File;
  readonly #hooks = new Map<KvmFaultPoint, (() => void)[]>();
  #unregisterNotifier: (() => void) | null = null;

  constructor(
    readonly kernel: Kernel,
    readonly build: KvmBuild,
    readonly type: number,
    /** The VMM's address space (`kvm->mm`). */
    readonly mm: Mm,
  ) {
    this.hasPrivateMem = type === KVM_X86_SW_PROTECTED_VM || type === KVM_X86_TDX_VM;
    this.nrAsIds = this.hasPrivateMem ? 1 : 2;
    this.memslots = Array.from({ length: this.nrAsIds }, () => new Map());
    const env = { lockdep: kernel.lockdep, current: () => kernel.current };
    this.slotsLock = new Mutex(env, "kvm->slots_lock", "&kvm->slots_lock");
    this.mmuLock = new RwSemaphore(env, "kvm->mmu_lock", "&kvm->mmu_lock");
    this.id = kernel.objects.track("kvm", this, () => this.describe());
    this.#unregisterNotifier = kvmMmuNotifierRegister(this);
  }

  get version(): KvmPfnVersion {
    return this.build.version;
  }

  /** One line for leak reports. */
  describe(): string {
    return `kvm #${this.id} (${this.version}, type ${this.type}): ${this.memslots.reduce((n, s) => n + s.size, 0)} slot(s), ${this.sharedRoot.size + this.privateRoot.size} SPTE(s), users ${this.usersCount}`;
  }

  /** Each address space's slots sorted by base gfn (the kernel's gfn rb-tree). */
  readonly #byGfn: KvmMemorySlot[][] = [];

  /** Index of the first slot of `asId` whose end is above `gfn`. */
  #lowerBound(asId: number, gfn: bigint): number {
    const a = (this.#byGfn[asId] ??= []);
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid]!.baseGfn + a[mid]!.npages <= gfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `__gfn_to_memslot()` in address space `asId`. */
  gfnToMemslot(asId: number, gfn: bigint): KvmMemorySlot | undefined {
    const s = this.#byGfn[asId]?.[this.#lowerBound(asId, gfn)];
    return s && s.baseGfn <= gfn ? s : undefined;
  }

  /** `kvm_check_memslot_overlap()`: a slot of `asId` other than `id` intersecting [start, end). */
  overlapping(asId: number, id: number, start: bigint, end: bigint): KvmMemorySlot | undefined {
    const a = this.#byGfn[asId] ?? [];
    for (let i = this.#lowerBound(asId, start); i < a.length && a[i]!.baseGfn < end; i++) if (a[i]!.id !== id) return a[i];
    return undefined;
  }

  /** Publishes `slot` (`kvm_replace_memslot()`). */
  insertSlot(slot: KvmMemorySlot): void {
    this.memslots[slot.asId]!.set(slot.id, slot);
    const a = (this.#byGfn[slot.asId] ??= []);
    a.splice(this.#lowerBound(slot.asId, slot.baseGfn), 0, slot);
  }

  /** Unpublishes `slot`. */
  removeSlot(slot: KvmMemorySlot): void {
    this.memslots[slot.asId]!.delete(slot.id);
    const a = this.#byGfn[slot.asId] ?? [];
    const i = a.indexOf(slot);
    if (i >= 0) a.splice(i, 1);
  }

  /**
   * Registers `fn` to run at a preemption point of the fault path (the
   * window between `get_pfn` and `mmu_lock`), as another task would. Tests
   * and the explorer use it to race a revoke against a fault.
   */
  onPreempt(point: KvmFaultPoint, fn: () => void): void {
    let l = this.#hooks.get(point);
    if (!l) this.#hooks.set(point, (l = []));
    l.push(fn);
  }

  /** @internal Runs (and forgets) the hooks of `point`. */
  preempt(point: KvmFaultPoint): void {
    const l = this.#hooks.get(point);
    if (!l?.length) return;
    this.#hooks.delete(point);
    for (const fn of l) fn();
  }

  /** `kvm_get_kvm()`. */
  get(): void {
    this.usersCount++;
  }

  /** `kvm_put_kvm()`: the last user destroys the VM. */
  put(): void {
    if (--this.usersCount === 0) kvmDestroyVm(this);
  }

  /** @internal */
  _dropNotifier(): void {
    this.#unregisterNotifier?.();
    this.#unregisterNotifier = null;
  }
}

/**
 * `kvm_destroy_vm()`: devices released (KVM-VFIO drops its files), every
 * slot deleted (stage-2 zapped, dma-buf slots detached and their buffers
 * put), the mmu notifier unregistered, the module reference dropped.
 * @public
 */
export function kvmDestroyVm(kvm: Kvm): void {
  const k = kvm.kernel;
  try {
    for (const d of kvm.devices.splice(0).reverse()) d.destroy();
    for (const slots of kvm.memslots) {
      for (const slot of [...slots.values()]) kvmDeleteMemslot(kvm, slot);
    }
    kvm.sharedRoot.clear();
    kvm.privateRoot.clear();
  } finally {
    kvm._dropNotifier();
    kvm.destroyed = true;
    k.objects.untrack(kvm);
    k.modules.modulePut(kvm.build.module);
    k.trace.emit("kvm_destroy_vm", { id: kvm.id });
  }
}

/** DELETE: zap the slot's range, unpublish it, unbind its backend. */
function kvmDeleteMemslot(kvm: Kvm, slot: KvmMemorySlot): void {
  kvmZapGfnRange(kvm, slot.baseGfn, slot.baseGfn + slot.npages);
  kvm.removeSlot(slot);
  kvm.nrMemslotPages -= slot.npages;
  kvm.kernel.objects.untrack(slot);
  slot.backend.unbind();
}

/** `access_ok(addr, size)` on x86-64: the range ends at or below `TASK_SIZE_MAX`. */
function accessOk(addr: bigint, size: bigint): boolean {
  return size <= TASK_SIZE_MAX && addr <= TASK_SIZE_MAX - size;
}

/**
 * `check_memory_region_flags()`: `LOG_DIRTY_PAGES` always; `GUEST_MEMFD`
 * (and, where the version has it, `VFIO_DMABUF`) only on VMs with private
 * memory, only one of them, and neither with dirty logging or `READONLY`.
 */
function checkMemoryRegionFlags(kvm: Kvm, flags: number): void {
  const op = "check_memory_region_flags";
  const dmabuf = kvmHasDmabufSlots(kvm.version);
  const privateFlags = KVM_MEM_GUEST_MEMFD | (dmabuf ? KVM_MEM_VFIO_DMABUF : 0);
  if (dmabuf && (flags & KVM_MEM_GUEST_MEMFD) && (flags & KVM_MEM_VFIO_DMABUF)) throw new KernelError("EINVAL", op, "GUEST_MEMFD and VFIO_DMABUF");
  let valid = KVM_MEM_LOG_DIRTY_PAGES;
  if (kvm.hasPrivateMem) valid |= privateFlags;
  if (flags & privateFlags) valid &= ~KVM_MEM_LOG_DIRTY_PAGES;
  if (!(flags & privateFlags)) valid |= KVM_MEM_READONLY;
  if (flags & ~valid) throw new KernelError("EINVAL", op, `flags ${flags.toString(16)} not in ${valid.toString(16)}`);
}

/**
 * `kvm_set_memory_region()` (caller holds `slots_lock`), in the kernel's
 * order: flags; size aligned; gpa aligned; `userspace_addr` aligned and
 * `access_ok` (even for dma-buf slots, which do not use it); gmem offset;
 * `as_id`/`id`; gpa + size wraps; too many pages — all `EINVAL`. Size 0
 * deletes (`EINVAL` for an empty slot). A new slot: page total overflow
 * `EINVAL`. An existing one: gmem slots are immutable, `userspace_addr`,
 * size, `READONLY` and `GUEST_MEMFD` cannot change (`EINVAL`); a new base is
 * a MOVE, new flags FLAGS_ONLY, nothing new returns 0. CREATE and MOVE
 * overlapping another slot of the address space: `EEXIST`. Then the
 * allocation (`ENOMEM`) and the bind: `guest_memfd` (no gmem files exist in
 * the model: `EBADF`/`EINVAL` as `kvm_gmem_bind()` says for other fds) or
 * the dma-buf (`guest_memfd_offset` ≠ 0 `EINVAL`, then the version's bind).
 * @public
 */
export function kvmSetMemoryRegion(kvm: Kvm, mem: KvmUserspaceMemoryRegion2): number {
  const op = "kvm_set_memory_region";
  kvm.slotsLock.assertHeld(op);
  checkMemoryRegionFlags(kvm, mem.flags);
  const asId = mem.slot >>> 16;
  const id = mem.slot & 0xffff;
  const size = mem.memorySize;
  const gmemOffset = mem.guestMemfdOffset ?? 0n;
  if (size & (PAGE - 1n) || size >= U64_LIMIT) throw new KernelError("EINVAL", op, "memory_size not page aligned");
  if (mem.guestPhysAddr & (PAGE - 1n)) throw new KernelError("EINVAL", op, "guest_phys_addr not page aligned");
  if (mem.userspaceAddr & (PAGE - 1n) || !accessOk(mem.userspaceAddr, size)) throw new KernelError("EINVAL", op, "userspace_addr unaligned or not access_ok");
  if (mem.flags & KVM_MEM_GUEST_MEMFD && (gmemOffset & (PAGE - 1n) || gmemOffset + size >= U64_LIMIT)) throw new KernelError("EINVAL", op, "guest_memfd_offset");
  if (asId >= kvm.nrAsIds || id >= KVM_MEM_SLOTS_NUM) throw new KernelError("EINVAL", op, `as_id ${asId} / id ${id}`);
  if (mem.guestPhysAddr + size >= U64_LIMIT) throw new KernelError("EINVAL", op, "guest_phys_addr + memory_size wraps");
  if (size >> BigInt(PAGE_SHIFT) > KVM_MEM_MAX_NR_PAGES) throw new KernelError("EINVAL", op, "more than KVM_MEM_MAX_NR_PAGES");

  const slots = kvm.memslots[asId]!;
  const old = slots.get(id);
  if (size === 0n) {
    if (!old || old.npages === 0n) throw new KernelError("EINVAL", op, `delete of empty slot ${id}`);
    kvmDeleteMemslot(kvm, old);
    return 0;
  }
  const baseGfn = mem.guestPhysAddr >> BigInt(PAGE_SHIFT);
  const npages = size >> BigInt(PAGE_SHIFT);
  let change: "CREATE" | "MOVE" | "FLAGS_ONLY";
  if (!old) {
    change = "CREATE";
    if (kvm.nrMemslotPages + npages >= U64_LIMIT) throw new KernelError("EINVAL", op, "nr_memslot_pages overflows");
  } else {
    // Private memslots are immutable, they can only be deleted.
    if (mem.flags & KVM_MEM_GUEST_MEMFD) throw new KernelError("EINVAL", op, "guest_memfd slots are immutable");
    if (mem.userspaceAddr !== old.userspaceAddr || npages !== old.npages || (mem.flags ^ old.flags) & (KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD)) {
      throw new KernelError("EINVAL", op, "userspace_addr, size, READONLY or GUEST_MEMFD changed");
    }
    if (baseGfn !== old.baseGfn) change = "MOVE";
    else if (mem.flags !== old.flags) change = "FLAGS_ONLY";
    else return 0;
  }
  if (change !== "FLAGS_ONLY") {
    const o = kvm.overlapping(asId, id, baseGfn, baseGfn + npages);
    if (o) throw new KernelError("EEXIST", op, `overlaps slot ${o.id}`);
  }
  kvm.kernel.alloc.kzalloc("kvm_memory_slot");
  if (change === "FLAGS_ONLY") {
    old!.flags = mem.flags;
    return 0;
  }
  let backend: KvmMemslotBackend;
  if (mem.flags & KVM_MEM_GUEST_MEMFD) {
    const file = kvm.kernel.current.files.fget(mem.guestMemfd ?? 0);
    file.put();
    throw new KernelError("EINVAL", "kvm_gmem_bind", `fd ${mem.guestMemfd} is a ${file.fops.name} file, not a guest_memfd`);
  } else if (mem.flags & KVM_MEM_VFIO_DMABUF) {
    if (gmemOffset !== 0n) throw new KernelError("EINVAL", op, "guest_memfd_offset must be 0 for a dma-buf slot");
    backend = kvmDmabufBind(kvm, npages, mem.guestMemfd ?? 0);
  } else {
    backend = kvmHvaBackend(kvm, mem.userspaceAddr);
  }
  const slot: KvmMemorySlot = { asId, id, baseGfn, npages, flags: mem.flags, userspaceAddr: mem.userspaceAddr, backend };
  if (change === "MOVE") kvmDeleteMemslot(kvm, old!);
  kvm.insertSlot(slot);
  backend.setSlot?.(slot);
  kvm.nrMemslotPages += npages;
  kvm.kernel.objects.track("kvm_memory_slot", slot, () => `kvm #${kvm.id} slot ${asId}:${id} gfn ${baseGfn.toString(16)}+${npages} ${backend.describe()}`);
  kvm.kernel.trace.emit("kvm_set_memslot", { kvm: kvm.id, slot: id, change, base_gfn: baseGfn, npages });
  return 0;
}

function readRegion(arg: UserArg, size: number): KvmUserspaceMemoryRegion2 {
  const v = copyFromUser(arg, 0, size, "copy_from_user");
  return {
    slot: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    guestPhysAddr: v.getBigUint64(8, true),
    memorySize: v.getBigUint64(16, true),
    userspaceAddr: v.getBigUint64(24, true),
    guestMemfdOffset: size > 32 ? v.getBigUint64(32, true) : 0n,
    guestMemfd: size > 32 ? v.getUint32(40, true) : 0,
  };
}

/**
 * `KVM_SET_USER_MEMORY_REGION` / `…2` (`kvm_vm_ioctl()` and
 * `kvm_vm_ioctl_set_memory_region()`): copy (`EFAULT`), legacy flags
 * (`EINVAL`), `(u16)slot >= KVM_USER_MEM_SLOTS` (`EINVAL`), then under
 * `slots_lock` {@link kvmSetMemoryRegion}.
 * @public
 */
export function kvmVmIoctlSetMemoryRegion(kvm: Kvm, cmd: number, arg: UserArg): number {
  const legacy = cmd === KVM_SET_USER_MEMORY_REGION;
  const mem = readRegion(arg, legacy ? KVM_USERSPACE_MEMORY_REGION_SIZE : KVM_USERSPACE_MEMORY_REGION2_SIZE);
  if (legacy && mem.flags & ~KVM_SET_USER_MEMORY_REGION_V1_FLAGS) throw new KernelError("EINVAL", "kvm_vm_ioctl", "flags beyond the v1 struct's");
  if ((mem.slot & 0xffff) >= KVM_USER_MEM_SLOTS) throw new KernelError("EINVAL", "kvm_vm_ioctl_set_memory_region", `slot id ${mem.slot & 0xffff}`);
  kvm.slotsLock.lock();
  try {
    return kvmSetMemoryRegion(kvm, mem);
  } finally {
    kvm.slotsLock.unlock();
  }
}

/**
 * `KVM_SET_MEMORY_ATTRIBUTES` (`kvm_vm_ioctl_set_mem_attributes()`): flags ≠ 0,
 * an attribute the VM does not support (PRIVATE needs private memory), size 0,
 * a wrapping or unaligned range: `EINVAL`. The range is zapped in both roots
 * under an invalidation, then the attributes are written.
 * @public
 */
export function kvmVmIoctlSetMemAttributes(kvm: Kvm, arg: UserArg): number {
  const op = "kvm_vm_ioctl_set_mem_attributes";
  const v = copyFromUser(arg, 0, KVM_MEMORY_ATTRIBUTES_SIZE, op);
  const address = v.getBigUint64(0, true);
  const size = v.getBigUint64(8, true);
  const attributes = v.getBigUint64(16, true);
  const flags = v.getBigUint64(24, true);
  const supported = kvm.hasPrivateMem ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0n;
  if (flags) throw new KernelError("EINVAL", op, "flags");
  if (attributes & ~supported) throw new KernelError("EINVAL", op, `attributes ${attributes}`);
  if (size === 0n || address + size >= U64_LIMIT) throw new KernelError("EINVAL", op, "size");
  if (address & (PAGE - 1n) || size & (PAGE - 1n)) throw new KernelError("EINVAL", op, "unaligned");
  const start = address >> BigInt(PAGE_SHIFT);
  const end = (address + size) >> BigInt(PAGE_SHIFT);
  kvm.slotsLock.lock();
  try {
    kvmZapGfnRange(kvm, start, end);
    for (let g = start; g < end; g++) {
      if (attributes) kvm.memAttributes.set(g, attributes);
      else kvm.memAttributes.delete(g);
    }
  } finally {
    kvm.slotsLock.unlock();
  }
  return 0;
}

/** An ioctl's `unsigned long` argument: a number (a buffer is not one: `EINVAL`). */
function ioctlScalar(arg: UserArg): number {
  if (arg === null) return 0;
  if (typeof arg === "number" && Number.isInteger(arg) && arg >= 0) return arg;
  if (typeof arg === "bigint" && arg >= 0n && arg <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(arg);
  throw new KernelError("EINVAL", "kvm_ioctl", "argument is not an unsigned long");
}

/** `kvm_vm_fops`. @public */
export const kvmVmFops: FileOperations = {
  name: "kvm-vm",
  unlockedIoctl(file: File, cmd: number, arg: UserArg): number {
    const kvm = file.privateData as Kvm;
    // kvm_vm_ioctl(): only the process that created the VM may use it.
    if (kvm.mm !== kvm.kernel.current.mm) throw new KernelError("EIO", "kvm_vm_ioctl", "not the VM's mm");
    switch (cmd) {
      case KVM_SET_USER_MEMORY_REGION:
      case KVM_SET_USER_MEMORY_REGION2:
        return kvmVmIoctlSetMemoryRegion(kvm, cmd, arg);
      case KVM_SET_MEMORY_ATTRIBUTES:
        return kvmVmIoctlSetMemAttributes(kvm, arg);
      case KVM_CREATE_VCPU:
        return kvmVcpuCreate(kvm, ioctlScalar(arg));
      case KVM_CREATE_DEVICE:
        return kvmIoctlCreateDevice(kvm, arg);
      default:
        throw new KernelError("ENOTTY", "kvm_vm_ioctl", `cmd ${cmd.toString(16)}`);
    }
  },
  release(file: File): void {
    (file.privateData as Kvm).put();
  },
};

/**
 * `kvm_dev_ioctl_create_vm()`: a VM of `type` for the current process.
 * Types the model runs: DEFAULT, SW_PROTECTED and TDX (others `EINVAL`).
 * Returns the VM fd.
 * @public
 */
export function kvmDevIoctlCreateVm(kernel: Kernel, build: KvmBuild, type: number): number {
  if (type !== KVM_X86_DEFAULT_VM && type !== KVM_X86_SW_PROTECTED_VM && type !== KVM_X86_TDX_VM) throw new KernelError("EINVAL", "kvm_create_vm", `type ${type}`);
  const mm = kernel.current.mm;
  if (!mm) throw new KernelError("EINVAL", "kvm_create_vm", "no mm");
  const files = kernel.current.files;
  const fd = files.getUnusedFdFlags(O_CLOEXEC);
  try {
    kernel.alloc.kzalloc("kvm");
  } catch (e) {
    files.putUnusedFd(fd);
    throw e;
  }
  if (!kernel.modules.tryModuleGet(build.module)) {
    files.putUnusedFd(fd);
    throw new KernelError("ENODEV", "kvm_create_vm", "kvm is going away");
  }
  const kvm = new Kvm(kernel, build, type, mm);
  kvm.file = new File(kernel, kvmVmFops, kvm, O_RDWR);
  files.fdInstall(fd, kvm.file);
  kernel.trace.emit("kvm_create_vm", { id: kvm.id, type, version: build.version });
  return fd;
}

/** The `Kvm` behind a VM fd of the current task (a reference on its file), or `EBADF`/`EINVAL`. @public */
export function kvmFromFd(kernel: Kernel, fd: number): { kvm: Kvm; file: File } {
  const file = kernel.current.files.fget(fd);
  if (file.fops !== kvmVmFops) {
    file.put();
    throw new KernelError("EINVAL", "kvm_from_fd", `fd ${fd} is a ${file.fops.name} file`);
  }
  return { kvm: file.privateData as Kvm, file };
}

/** `kvm_chardev_ops` of `/dev/kvm`. */
export function kvmDevFops(build: KvmBuild): FileOperations {
  return {
    name: "kvm",
    unlockedIoctl(file: File, cmd: number, arg: UserArg): number {
      switch (cmd) {
        case KVM_GET_API_VERSION:
          if (arg) throw new KernelError("EINVAL", "kvm_dev_ioctl", "arg");
          return KVM_API_VERSION;
        case KVM_CREATE_VM:
          return kvmDevIoctlCreateVm(file.kernel, build, ioctlScalar(arg));
        default:
          throw new KernelError("EINVAL", "kvm_dev_ioctl", `cmd ${cmd.toString(16)}`);
      }
    },
  };
}

