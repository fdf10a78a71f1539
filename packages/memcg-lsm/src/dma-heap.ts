// drivers/dma-buf/dma-heap.c: struct dma_heap, its ops and DMA_HEAP_IOCTL_ALLOC.
import {
  IOC_READ,
  IOC_WRITE,
  KernelError,
  PAGE_SIZE,
  copyFromUser,
  copyToUser,
  dmaBufFd,
  dmaBufPut,
  exportSymbolNsGpl,
  iocNr,
  iocSize,
  pidfdGetTask,
  provideSymbol,
  type DmaBuf,
  type File,
  type FileOperations,
  type Kernel,
  type KernelModule,
  type LoadedModule,
  type ModuleContext,
  type UserArg,
} from "@dmabuf-sdk/dmabuf-core";
import type { InjectionToken } from "tsyringe";
import { dmaBufSetMemcg } from "./dma-buf-memcg.js";
import { DMA_HEAP_IOCTL_ALLOC, DMA_HEAP_VALID_FD_FLAGS, DMA_HEAP_VALID_HEAP_FLAGS } from "./dma-heap-uapi.js";
import { GFP_KERNEL } from "./gfp.js";
import { cssGet, getMemCgroupFromMm, memCgroupChargeDmabuf, memCgroupPut, memcgModule, type MemCgroup } from "./memcontrol.js";
import { securityDmaHeapAlloc, securityModule } from "./security.js";

/** `struct dma_heap_ops`. @public */
export interface DmaHeapOps<TPriv = unknown> {
  /**
   * `allocate`: called by `DMA_HEAP_IOCTL_ALLOC` (after the ioctl's checks,
   * the pidfd lookup and the LSM hook) with `len` already page-aligned and
   * non-zero. Returns an exported dma-buf whose one file reference the caller
   * takes over; throws a `KernelError` (`ENOMEM`, …) leaving nothing behind.
   * Mandatory.
   */
  allocate(heap: DmaHeap<TPriv>, len: bigint, fdFlags: number, heapFlags: bigint): DmaBuf;
}

/** `struct dma_heap_export_info`. @public */
export interface DmaHeapExportInfo<TPriv = unknown> {
  /** Heap name: the device is `/dev/dma_heap/<name>`. */
  readonly name: string;
  readonly ops: DmaHeapOps<TPriv>;
  /** Heap-private data (`dma_heap_get_drvdata()`). */
  readonly priv: TPriv;
}

/** `struct dma_heap`: one heap and its character device. @public */
export class DmaHeap<TPriv = unknown> {
  /** Minor number of `/dev/dma_heap/<name>`. */
  readonly minor: number;
  /** The module that added the heap (opening the device pins it). */
  readonly owner: LoadedModule;
  /** @internal Created by {@link dmaHeapAdd}. */
  constructor(
    readonly kernel: Kernel,
    /** `dma_heap_get_name()`. */
    readonly name: string,
    readonly ops: DmaHeapOps<TPriv>,
    /** `dma_heap_get_drvdata()`. */
    readonly priv: TPriv,
    owner: LoadedModule,
    minor: number,
  ) {
    this.owner = owner;
    this.minor = minor;
  }
}

/** Boot parameters of the dma-heap core. @public */
export interface DmaHeapParams {
  /**
   * `dma_heap.mem_accounting` (bool, 0444, default false): charge allocations
   * made without `charge_pid_fd` to the caller's memcg.
   */
  readonly memAccounting?: boolean;
}

/** `NUM_HEAP_MINORS`. @public */
export const NUM_HEAP_MINORS = 128;

class DmaHeapState {
  readonly heaps = new Map<string, DmaHeap>();
  readonly minors = new Set<number>();
  constructor(readonly memAccounting: boolean) {}
}

const DmaHeapStateToken: InjectionToken<DmaHeapState> = Symbol.for("@dmabuf-sdk/memcg-lsm/DmaHeapState");

function stateOf(kernel: Kernel): DmaHeapState {
  const s = kernel.providers(DmaHeapStateToken)[0];
  if (!s) throw new KernelError("ENODEV", "dma_heap", "the dma_heap module is not loaded");
  return s;
}

/**
 * `/sys/module/dma_heap/parameters/mem_accounting`.
 * @throws KernelError `ENOENT` when the dma-heap module is not loaded.
 * @public
 */
export function dmaHeapMemAccounting(kernel: Kernel): boolean {
  const s = kernel.providers(DmaHeapStateToken)[0];
  if (!s) throw new KernelError("ENOENT", "param_get_bool", "/sys/module/dma_heap/parameters/mem_accounting");
  return s.memAccounting;
}

/** The heaps registered now, by name (`/dev/dma_heap/`). @public */
export function dmaHeapList(kernel: Kernel): readonly DmaHeap[] {
  return [...(kernel.providers(DmaHeapStateToken)[0]?.heaps.values() ?? [])];
}

/** `dma_heap_get_drvdata()`. @public */
export function dmaHeapGetDrvdata<TPriv>(heap: DmaHeap<TPriv>): TPriv {
  return heap.priv;
}

/** `dma_heap_get_name()`. @public */
export function dmaHeapGetName(heap: DmaHeap): string {
  return heap.name;
}

/**
 * `dma_heap_buffer_alloc(heap, len, fd_flags, heap_flags, charge_to)` with
 * the RFC's charging (patch 2/5), as `current`:
 * 1. `len = PAGE_ALIGN(len)` (u64, wrapping); 0 → `EINVAL`;
 * 2. `heap->ops->allocate()` — the memory is allocated before any charge;
 * 3. the memcg: `charge_to` (an extra css reference), else the caller's when
 *    `mem_accounting` is on, else none;
 * 4. `mem_cgroup_charge_dmabuf(memcg, len / PAGE_SIZE, GFP_KERNEL)`; failure
 *    puts the buffer (freed uncharged) → `ENOMEM`; success sets `dmabuf->memcg`;
 * 5. `dma_buf_fd()`; failure puts the buffer, which now uncharges.
 * Returns the fd.
 */
function dmaHeapBufferAlloc(heap: DmaHeap, len: bigint, fdFlags: number, heapFlags: bigint, chargeTo: MemCgroup | null): number {
  const kernel = heap.kernel;
  const aligned = BigInt.asUintN(64, len + BigInt(PAGE_SIZE - 1)) & ~BigInt(PAGE_SIZE - 1);
  if (aligned === 0n) throw new KernelError("EINVAL", "dma_heap_buffer_alloc", `len ${len} page-aligns to 0`);
  const dmabuf = heap.ops.allocate(heap, aligned, fdFlags, heapFlags);
  const nrPages = Number(aligned / BigInt(PAGE_SIZE));
  let memcg: MemCgroup | null = null;
  if (chargeTo) {
    cssGet(chargeTo.css);
    memcg = chargeTo;
  } else if (stateOf(kernel).memAccounting) {
    memcg = getMemCgroupFromMm(kernel, kernel.current.mm);
  }
  if (memcg) {
    if (!memCgroupChargeDmabuf(memcg, nrPages, GFP_KERNEL)) {
      memCgroupPut(memcg);
      dmaBufPut(dmabuf);
      throw new KernelError("ENOMEM", "dma_heap_buffer_alloc", `memcg charge of ${nrPages} page(s) to ${memcg.cgroup.path} failed`);
    }
    dmaBufSetMemcg(dmabuf, memcg);
  }
  try {
    return dmaBufFd(dmabuf, fdFlags);
  } catch (e) {
    dmaBufPut(dmabuf);
    throw e;
  }
}

/**
 * `dma_heap_ioctl_allocate()` (patches 2 and 3), on the zero-extended kernel
 * copy of the struct. In order:
 * 1. `fd != 0` → `EINVAL`; 2. bad `fd_flags` → `EINVAL`; 3. bad `heap_flags` → `EINVAL`;
 * 4. with `charge_pid_fd`: `pidfd_get_task()` (`EBADF`, `ESRCH`, as is), then
 *    `security_dma_heap_alloc(current_cred(), task cred)` (the LSM's errno, as
 *    is; nothing allocated yet), then `get_mem_cgroup_from_mm(task->mm)`;
 * 5. `dma_heap_buffer_alloc()`; 6. `mem_cgroup_put()`, write `fd` back.
 */
function dmaHeapIoctlAllocate(heap: DmaHeap, kdata: Uint8Array): void {
  const kernel = heap.kernel;
  const v = new DataView(kdata.buffer, kdata.byteOffset, kdata.byteLength);
  const len = v.getBigUint64(0, true);
  const fd = v.getUint32(8, true);
  const fdFlags = v.getUint32(12, true);
  const heapFlags = v.getBigUint64(16, true);
  const chargePidFd = v.getUint32(24, true);
  if (fd !== 0) throw new KernelError("EINVAL", "dma_heap_ioctl_allocate", `fd ${fd} is not 0`);
  if ((fdFlags & ~DMA_HEAP_VALID_FD_FLAGS) !== 0) throw new KernelError("EINVAL", "dma_heap_ioctl_allocate", `fd_flags 0x${fdFlags.toString(16)}`);
  if ((heapFlags & ~DMA_HEAP_VALID_HEAP_FLAGS) !== 0n) throw new KernelError("EINVAL", "dma_heap_ioctl_allocate", `heap_flags 0x${heapFlags.toString(16)}`);
  let memcg: MemCgroup | null = null;
  if (chargePidFd !== 0) {
    // The u32 is passed to pidfd_get_task(int): (u32)-10000 is PIDFD_SELF_THREAD.
    const { task } = pidfdGetTask(kernel, chargePidFd | 0);
    securityDmaHeapAlloc(kernel, kernel.current.cred, task.cred);
    memcg = getMemCgroupFromMm(kernel, task.mm);
  }
  let newFd: number;
  try {
    newFd = dmaHeapBufferAlloc(heap, len, fdFlags, heapFlags, memcg);
  } finally {
    memCgroupPut(memcg);
  }
  v.setUint32(8, newFd, true);
}

/** `dma_heap_ioctl_cmds[]`, indexed by `_IOC_NR`. */
const DMA_HEAP_IOCTL_CMDS: readonly number[] = [DMA_HEAP_IOCTL_ALLOC];
const IOC_IN = (IOC_WRITE << 30) >>> 0;
const IOC_OUT = (IOC_READ << 30) >>> 0;
const STACK_KDATA = 128;

/**
 * `dma_heap_ioctl()`: the size-agnostic dispatcher. The command is chosen by
 * `_IOC_NR` alone (past the table → `EINVAL`); `min(user size)` bytes are
 * copied in (`EFAULT`) and the rest of the kernel struct is zero-filled, so
 * a 24-byte caller has `charge_pid_fd = 0` and bytes past 32 are ignored;
 * the user's size is copied back, after a failure too (`EFAULT` then wins).
 */
function dmaHeapIoctl(file: File, ucmd: number, arg: UserArg): number {
  const heap = file.privateData as DmaHeap;
  const nr = iocNr(ucmd);
  if (nr >= DMA_HEAP_IOCTL_CMDS.length) throw new KernelError("EINVAL", "dma_heap_ioctl", `ioctl nr ${nr}`);
  const kcmd = DMA_HEAP_IOCTL_CMDS[nr]!;
  const drvSize = iocSize(kcmd);
  let outSize = iocSize(ucmd);
  let inSize = outSize;
  if (((ucmd & kcmd & IOC_IN) >>> 0) === 0) inSize = 0;
  if (((ucmd & kcmd & IOC_OUT) >>> 0) === 0) outSize = 0;
  const ksize = Math.max(inSize, outSize, drvSize);
  if (ksize > STACK_KDATA) heap.kernel.alloc.attempt("kzalloc", "dma_heap_ioctl kdata", "dma_heap_ioctl");
  const kdata = new Uint8Array(ksize);
  if (inSize > 0) {
    const src = copyFromUser(arg, 0, inSize, "dma_heap_ioctl");
    kdata.set(new Uint8Array(src.buffer, src.byteOffset, inSize));
  }
  let err: unknown;
  switch (kcmd) {
    case DMA_HEAP_IOCTL_ALLOC:
      try {
        dmaHeapIoctlAllocate(heap, kdata);
      } catch (e) {
        err = e;
      }
      break;
    default:
      throw new KernelError("ENOTTY", "dma_heap_ioctl", `cmd 0x${ucmd.toString(16)}`);
  }
  if (outSize > 0) copyToUser(arg, 0, kdata.subarray(0, outSize), "dma_heap_ioctl");
  if (err !== undefined) throw err;
  return 0;
}

/** The heap device's `file_operations` (`dma_heap_fops`). */
const DMA_HEAP_FOPS: FileOperations = {
  name: "dma_heap",
  unlockedIoctl: dmaHeapIoctl,
  release(file: File): void {
    const heap = file.privateData as DmaHeap | undefined;
    if (heap) heap.kernel.modules.modulePut(heap.owner);
  },
};

/**
 * `dma_heap_add(exp_info)`: registers a heap and creates `/dev/dma_heap/<name>`.
 * Call from the heap module's `init` (the heap goes away when it unloads;
 * the kernel has no `dma_heap_remove`). In order, with the kernel's
 * messages: no name → `EINVAL`; no `allocate` → `EINVAL`; the allocation
 * (`ENOMEM`); no free minor → `EBUSY`; `device_create()` of a name already
 * taken → `EEXIST` (a duplicate sysfs entry, so the later "Already registered
 * heap named" check with `EINVAL` is not reached for a duplicate name).
 * @public
 */
export function dmaHeapAdd<TPriv>(ctx: ModuleContext, expInfo: DmaHeapExportInfo<TPriv>): DmaHeap<TPriv> {
  const kernel = ctx.kernel;
  const s = stateOf(kernel);
  if (!expInfo.name) {
    kernel.printk.err("dma_heap: Cannot add heap without a name");
    throw new KernelError("EINVAL", "dma_heap_add", "no name");
  }
  if (!expInfo.ops || typeof expInfo.ops.allocate !== "function") {
    kernel.printk.err("dma_heap: Cannot add heap with invalid ops struct");
    throw new KernelError("EINVAL", "dma_heap_add", "no allocate op");
  }
  kernel.alloc.kzalloc("dma_heap");
  let minor = 0;
  while (s.minors.has(minor)) minor++;
  if (minor >= NUM_HEAP_MINORS) {
    kernel.printk.err("dma_heap: Unable to get minor number for heap");
    throw new KernelError("EBUSY", "dma_heap_add", "no free minor (xa_alloc)");
  }
  const heap = new DmaHeap<TPriv>(kernel, expInfo.name, expInfo.ops, expInfo.priv, ctx.module, minor);
  let unregister: () => void;
  try {
    // device_create(): a second device of the same name is a duplicate sysfs entry.
    unregister = kernel.devfs.register(`dma_heap/${expInfo.name}`, {
      fops: DMA_HEAP_FOPS,
      open(file) {
        if (!kernel.modules.tryModuleGet(heap.owner)) throw new KernelError("ENODEV", "dma_heap_open", `heap ${heap.name} is going away`);
        file.privateData = heap;
      },
    });
  } catch (e) {
    kernel.printk.err(`sysfs: cannot create duplicate filename '/devices/virtual/dma_heap/${expInfo.name}'`);
    kernel.printk.err("dma_heap: Unable to create device");
    throw e;
  }
  if (s.heaps.has(expInfo.name)) {
    unregister();
    kernel.printk.err(`dma_heap: Already registered heap named ${expInfo.name}`);
    throw new KernelError("EINVAL", "dma_heap_add", `heap ${expInfo.name} exists`);
  }
  s.minors.add(minor);
  s.heaps.set(expInfo.name, heap as DmaHeap);
  ctx.onExit(() => {
    unregister();
    s.minors.delete(minor);
    s.heaps.delete(expInfo.name);
  });
  return heap;
}

function defineDmaHeapModule(params: DmaHeapParams): KernelModule {
  return {
    name: "dma_heap",
    license: "GPL",
    description: "DMA-BUF heaps: /dev/dma_heap/*, DMA_HEAP_IOCTL_ALLOC with charge_pid_fd (drivers/dma-buf/dma-heap.c)",
    importNs: ["DMA_BUF"],
    uses: ["dma_buf_fd", "dma_buf_put", "mem_cgroup_charge_dmabuf", "mem_cgroup_uncharge_dmabuf", "get_mem_cgroup_from_mm", "security_dma_heap_alloc"],
    exports: [exportSymbolNsGpl("dma_heap_add", "DMA_BUF_HEAP"), exportSymbolNsGpl("dma_heap_get_drvdata", "DMA_BUF_HEAP"), exportSymbolNsGpl("dma_heap_get_name", "DMA_BUF_HEAP")],
    requires: [memcgModule, securityModule],
    init(ctx) {
      ctx.provide(DmaHeapStateToken, new DmaHeapState(params.memAccounting ?? false));
      provideSymbol(ctx, "dma_heap_add", dmaHeapAdd);
      provideSymbol(ctx, "dma_heap_get_drvdata", dmaHeapGetDrvdata);
      provideSymbol(ctx, "dma_heap_get_name", dmaHeapGetName);
    },
  };
}

/**
 * The dma-heap core (`drivers/dma-buf/dma-heap.c`, built in) with the RFC's
 * `charge_pid_fd`: `dma_heap_add()`, the heap devices and
 * `DMA_HEAP_IOCTL_ALLOC`. `mem_accounting` is off.
 * @public
 */
export const dmaHeapModule: KernelModule = defineDmaHeapModule({});

/**
 * The dma-heap core booted with parameters, e.g.
 * `dmaHeapModuleWithParams({ memAccounting: true })` for
 * `dma_heap.mem_accounting=1` (the parameter is read-only at run time). Same
 * module name as {@link dmaHeapModule}: load it before the heaps.
 * @public
 */
export function dmaHeapModuleWithParams(params: DmaHeapParams): KernelModule {
  return defineDmaHeapModule(params);
}
