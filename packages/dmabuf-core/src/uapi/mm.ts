// mm/mmap.c: struct mm_struct and vm_area_struct, mmap/munmap, PROT_*/MAP_* and page faults.
import { KernelLocal } from "../kernel/kernel-local.js";
import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import { PAGE_SIZE, hex } from "../platform/page.js";
import type { File } from "./file.js";

/** `PROT_*`. @public */
export const PROT_NONE = 0;
/** @public */
export const PROT_READ = 1;
/** @public */
export const PROT_WRITE = 2;
/** `MAP_*` (x86-64 values). @public */
export const MAP_SHARED = 0x01;
/** @public */
export const MAP_PRIVATE = 0x02;
/** @public */
export const MAP_SHARED_VALIDATE = 0x03;
/** @public */
export const MAP_TYPE = 0x0f;
/** @public */
export const MAP_FIXED = 0x10;
/** @public */
export const MAP_ANONYMOUS = 0x20;
/** @public */
export const MAP_GROWSDOWN = 0x0100;
/** @public */
export const MAP_DENYWRITE = 0x0800;
/** @public */
export const MAP_EXECUTABLE = 0x1000;
/** @public */
export const MAP_LOCKED = 0x2000;
/** @public */
export const MAP_NORESERVE = 0x4000;
/** @public */
export const MAP_POPULATE = 0x8000;
/** @public */
export const MAP_NONBLOCK = 0x10000;
/** @public */
export const MAP_STACK = 0x20000;
/** @public */
export const MAP_HUGETLB = 0x40000;
/** @public */
export const MAP_SYNC = 0x80000;
/** @public */
export const MAP_FIXED_NOREPLACE = 0x100000;
/** @public */
export const MAP_UNINITIALIZED = 0x4000000;
/** `LEGACY_MAP_MASK`: the flags `MAP_SHARED` ignores and `MAP_SHARED_VALIDATE` accepts. */
export const LEGACY_MAP_MASK =
  MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB;
/** `TASK_SIZE` of a 47-bit x86-64 user address space. @public */
export const TASK_SIZE = 0x7fff_ffff_f000n;
/** `mmap_min_addr` (CONFIG_DEFAULT_MMAP_MIN_ADDR on x86). */
export const MMAP_MIN_ADDR = 0x1_0000n;
/** `sysctl_max_map_count` (DEFAULT_MAX_MAP_COUNT). */
export const MAX_MAP_COUNT = 65530;
/** Top of the top-down mmap area the model uses (`mm->mmap_base`). */
export const MMAP_BASE = 0x7f00_0000_0000n;
/** `VM_*` flags the model tracks. @public */
export const VM_READ = 0x1;
/** @public */
export const VM_WRITE = 0x2;
/** @public */
export const VM_SHARED = 0x8;
/** @public */
export const VM_MAYSHARE = 0x80;
/** @public */
export const VM_PFNMAP = 0x400;
/** @public */
export const VM_IO = 0x4000;
/** @public */
export const VM_DONTEXPAND = 0x40000;
/** @public */
export const VM_DONTDUMP = 0x4000000;
/** `VM_ALLOW_ANY_UNCACHED` (arm64 high bit; a flag name here). @public */
export const VM_ALLOW_ANY_UNCACHED = 0x10000000;

/** Caching attribute of a mapping (`vma->vm_page_prot`). @public */
export type PageCaching = "cached" | "uncached" | "write-combine";

/** What a fault handler returns. @public */
export type VmFaultResult = "VM_FAULT_NOPAGE" | "VM_FAULT_SIGBUS" | "VM_FAULT_SIGSEGV" | "VM_FAULT_FALLBACK";

/** `struct vm_fault`. @public */
export interface VmFault {
  readonly vma: VmArea;
  /** Faulting user address, page aligned. */
  readonly address: bigint;
  /** File page offset of the address (`vmf->pgoff`). */
  readonly pgoff: bigint;
  /** Huge-fault order (0 for base pages). */
  readonly order: number;
  readonly write: boolean;
}

/** `struct vm_operations_struct`. @public */
export interface VmOperations {
  readonly name: string;
  /** `fault`/`huge_fault`: called on access to an unpopulated page; may call `vmfInsertPfn`. */
  fault?(vmf: VmFault): VmFaultResult;
  /** `close`: the VMA goes away. */
  close?(vma: VmArea): void;
}

/** `struct vm_area_struct`. @public */
export class VmArea {
  ops: VmOperations | undefined;
  caching: PageCaching = "cached";
  privateData: unknown;
  constructor(
    readonly mm: Mm,
    readonly start: bigint,
    readonly end: bigint,
    public flags: number,
    /** `vm_pgoff`. */
    readonly pgoff: bigint,
    readonly file: File | null,
  ) {}
  /** `vma_pages()`. */
  get pages(): bigint {
    return (this.end - this.start) >> 12n;
  }
}

/** A signal delivered to the task for a bad user access. @public */
export class UserSignal extends Error {
  override readonly name = "UserSignal";
  constructor(
    readonly signal: "SIGBUS" | "SIGSEGV",
    readonly addr: bigint,
  ) {
    super(`${signal} at ${hex(addr)}`);
  }
}

interface Pte {
  readonly pfn: number;
  readonly writable: boolean;
}

/**
 * `struct mmu_notifier_ops`: a secondary MMU (KVM's stage-2, an IOMMU with
 * SVA) told when CPU page-table entries of a range go away.
 * @public
 */
export interface MmuNotifierOps {
  /** `invalidate_range_start`: before the PTEs of [start, end) are zapped. */
  invalidateRangeStart(mm: Mm, start: bigint, end: bigint): void;
  /** `invalidate_range_end`: after they are gone. */
  invalidateRangeEnd(mm: Mm, start: bigint, end: bigint): void;
  /** `release`: the mm is going away (`exit_mmap()`). */
  release?(mm: Mm): void;
}

/**
 * `struct mm_struct`: VMAs and the CPU page table of one process. Accesses
 * fault in through the VMA's handler; a handler that fails delivers SIGBUS.
 * @public
 */
export class Mm {
  readonly vmas: VmArea[] = [];
  readonly #ptes = new Map<number, Pte>();
  readonly #notifiers = new Set<MmuNotifierOps>();

  constructor(readonly kernel: Kernel) {}

  /**
   * `get_unmapped_area()` top-down below `MMAP_BASE`, keeping one
   * unmapped page between mappings. Changes nothing.
   * @throws KernelError `ENOMEM` when `len` exceeds `TASK_SIZE` or no gap is left.
   */
  getUnmappedArea(len: bigint): bigint {
    if (len > TASK_SIZE) throw new KernelError("ENOMEM", "get_unmapped_area", "length beyond TASK_SIZE");
    const GUARD = 0x1000n;
    let end = MMAP_BASE - GUARD;
    for (const v of [...this.vmas].sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0))) {
      if (end >= len && v.end + GUARD <= end - len) return end - len;
      if (v.start - GUARD < end) end = v.start - GUARD;
    }
    if (end >= len && end - len >= MMAP_MIN_ADDR) return end - len;
    throw new KernelError("ENOMEM", "get_unmapped_area", "no room left in the address space");
  }

  /**
   * Creates a VMA of `len` bytes (page aligned, non-zero) at a free address;
   * the caller runs the file's `mmap` and then {@link Mm.insertVma}. Nothing
   * changes until then. @throws KernelError `ENOMEM` (see {@link Mm.getUnmappedArea}).
   */
  createVma(len: bigint, flags: number, pgoff: bigint, file: File | null): VmArea {
    const size = (len + 0xfffn) & ~0xfffn;
    const start = this.getUnmappedArea(size);
    return new VmArea(this, start, start + size, flags, pgoff, file);
  }

  /** Inserts a VMA created by `createVma` once the file accepted it. */
  insertVma(vma: VmArea): void {
    this.vmas.push(vma);
  }

  /** `find_vma()` containing `addr`. */
  findVma(addr: bigint): VmArea | undefined {
    return this.vmas.find((v) => addr >= v.start && addr < v.end);
  }

  /** `vmf_insert_pfn()`: installs a PTE for `addr`. */
  vmfInsertPfn(vma: VmArea, addr: bigint, pfn: number): VmFaultResult {
    this.#ptes.set(Number(addr >> 12n), { pfn, writable: (vma.flags & VM_WRITE) !== 0 });
    return "VM_FAULT_NOPAGE";
  }

  /** `mmu_notifier_register()`. */
  mmuNotifierRegister(n: MmuNotifierOps): void {
    this.#notifiers.add(n);
  }

  /** `mmu_notifier_unregister()`. */
  mmuNotifierUnregister(n: MmuNotifierOps): void {
    this.#notifiers.delete(n);
  }

  /** Zaps PTEs of `vma` in [start, end), between the notifiers' `invalidate_range_start`/`end`. */
  zapVmaRange(vma: VmArea, start: bigint, end: bigint): void {
    const ns = [...this.#notifiers];
    for (const n of ns) n.invalidateRangeStart(this, start, end);
    const first = Number(start >> 12n);
    const last = Number((end + 0xfffn) >> 12n);
    // Walk whichever is smaller: the range or the present PTEs (a VMA may span terabytes).
    if (last - first <= this.#ptes.size) for (let vpn = first; vpn < last; vpn++) this.#ptes.delete(vpn);
    else for (const vpn of [...this.#ptes.keys()]) if (vpn >= first && vpn < last) this.#ptes.delete(vpn);
    for (const n of ns) n.invalidateRangeEnd(this, start, end);
    void vma;
  }

  /**
   * `fixup_user_fault()`: faults `addr` in as a CPU access would, for a
   * secondary MMU that found no PTE. `EFAULT` when there is no VMA, the VMA
   * does not allow the access, or its fault handler fails (SIGBUS).
   */
  fixupUserFault(addr: bigint, write: boolean): 0 | "EFAULT" {
    try {
      this.#page(addr, write);
      return 0;
    } catch (e) {
      if (e instanceof UserSignal) return "EFAULT";
      throw e;
    }
  }

  /** Number of present PTEs. */
  get ptes(): number {
    return this.#ptes.size;
  }

  /** The pfn mapped at `addr`, if present. */
  ptePfn(addr: bigint): number | undefined {
    return this.#ptes.get(Number(addr >> 12n))?.pfn;
  }

  /**
   * `do_vmi_munmap()` of a checked range: removes the VMAs fully inside
   * [addr, addr+len). A range that cuts a VMA is refused before anything is
   * removed (`EINVAL`): the model does not split VMAs.
   */
  munmap(addr: bigint, len: bigint): void {
    const end = addr + ((len + 0xfffn) & ~0xfffn);
    const doomed: VmArea[] = [];
    for (const v of this.vmas) {
      if (v.start >= addr && v.end <= end) doomed.push(v);
      else if (v.start < end && addr < v.end) throw new KernelError("EINVAL", "munmap", "partial unmap of a VMA is not modelled");
    }
    for (const v of doomed) this.#removeVma(v);
  }

  #removeVma(v: VmArea): void {
    this.zapVmaRange(v, v.start, v.end);
    this.vmas.splice(this.vmas.indexOf(v), 1);
    v.ops?.close?.(v);
    v.file?.put();
  }

  /** `exit_mmap()`. */
  exitMmap(): void {
    for (const n of [...this.#notifiers]) n.release?.(this);
    for (const v of [...this.vmas]) this.#removeVma(v);
  }

  /** Resolves a user page, faulting it in. @throws UserSignal. */
  #page(addr: bigint, write: boolean): { pfn: number } {
    const vpn = Number(addr >> 12n);
    const pte = this.#ptes.get(vpn);
    const vma = this.findVma(addr);
    if (!vma) throw new UserSignal("SIGSEGV", addr);
    if (write ? !(vma.flags & VM_WRITE) : !(vma.flags & VM_READ)) throw new UserSignal("SIGSEGV", addr);
    if (pte) return pte;
    const pageAddr = addr & ~0xfffn;
    const r = vma.ops?.fault?.({ vma, address: pageAddr, pgoff: vma.pgoff + ((pageAddr - vma.start) >> 12n), order: 0, write }) ?? "VM_FAULT_SIGBUS";
    if (r === "VM_FAULT_SIGSEGV") throw new UserSignal("SIGSEGV", addr);
    if (r !== "VM_FAULT_NOPAGE") throw new UserSignal("SIGBUS", addr);
    const after = this.#ptes.get(vpn);
    if (!after) throw new UserSignal("SIGBUS", addr);
    return after;
  }

  /** A CPU load of `len` bytes at user address `addr`. @throws UserSignal. */
  read(addr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let pos = 0;
    while (pos < len) {
      const a = addr + BigInt(pos);
      const off = Number(a & 0xfffn);
      const n = Math.min(PAGE_SIZE - off, len - pos);
      const { pfn } = this.#page(a, false);
      out.set(this.kernel.platform.physmem.read((BigInt(pfn) << 12n) + BigInt(off), n), pos);
      pos += n;
    }
    return out;
  }

  /** A CPU store of `data` at user address `addr`. @throws UserSignal. */
  write(addr: bigint, data: Uint8Array): void {
    let pos = 0;
    while (pos < data.length) {
      const a = addr + BigInt(pos);
      const off = Number(a & 0xfffn);
      const n = Math.min(PAGE_SIZE - off, data.length - pos);
      const { pfn } = this.#page(a, true);
      this.kernel.platform.physmem.write((BigInt(pfn) << 12n) + BigInt(off), data.subarray(pos, pos + n));
      pos += n;
    }
  }
}

/** Pages of anonymous VMAs: the pfn per user page and the pins (`FOLL_PIN`) on each. */
interface AnonPages {
  readonly pfns: Map<number, number>;
}
const PINS = new KernelLocal<Map<number, number>>("PINS");
const ORPHANS = new KernelLocal<Set<number>>("ORPHANS");

function pinsOf(kernel: Kernel): Map<number, number> {
  let m = PINS.get(kernel);
  if (!m) PINS.set(kernel, (m = new Map()));
  return m;
}

/**
 * `vma_set_anonymous()` + the anonymous fault path (mm/memory.c
 * `do_anonymous_page()`): a zeroed RAM page is allocated on first touch and
 * freed when the VMA goes, unless a `pin_user_pages()` pin still holds it;
 * the last unpin frees it then.
 * @public
 */
export function vmaSetAnonymous(vma: VmArea): void {
  const kernel = vma.mm.kernel;
  const anon: AnonPages = { pfns: new Map() };
  vma.privateData = anon;
  vma.ops = {
    name: "anon",
    fault(vmf) {
      const pfn = kernel.platform.physmem.allocPages(0, "anon");
      anon.pfns.set(Number(vmf.address >> 12n), pfn);
      return vma.mm.vmfInsertPfn(vma, vmf.address, pfn);
    },
    close() {
      const pins = pinsOf(kernel);
      for (const pfn of anon.pfns.values()) {
        if (pins.get(pfn)) {
          let o = ORPHANS.get(kernel);
          if (!o) ORPHANS.set(kernel, (o = new Set()));
          o.add(pfn);
        } else kernel.platform.physmem.freePages(pfn, 0);
      }
      anon.pfns.clear();
    },
  };
}

/**
 * `pin_user_pages(start, nr_pages, FOLL_WRITE | FOLL_LONGTERM)`: faults in
 * and pins `nrPages` user pages from `start` (page aligned). Only anonymous
 * memory can be pinned long-term in the model; `VM_IO`/`VM_PFNMAP` ranges
 * (device memory, dma-buf mmaps) and holes fail with `EFAULT`, with nothing
 * left pinned.
 * @public
 */
export function pinUserPages(mm: Mm, start: bigint, nrPages: number): number[] {
  const out: number[] = [];
  const pins = pinsOf(mm.kernel);
  try {
    for (let i = 0; i < nrPages; i++) {
      const addr = start + (BigInt(i) << 12n);
      const vma = mm.findVma(addr);
      if (!vma || (vma.flags & (VM_IO | VM_PFNMAP)) || vma.ops?.name !== "anon") throw new KernelError("EFAULT", "pin_user_pages", `no pinnable page at ${addr}`);
      try {
        mm.read(addr, 1);
      } catch (e) {
        if (e instanceof UserSignal) throw new KernelError("EFAULT", "pin_user_pages", e.message);
        throw e;
      }
      const pfn = mm.ptePfn(addr)!;
      pins.set(pfn, (pins.get(pfn) ?? 0) + 1);
      out.push(pfn);
    }
  } catch (e) {
    unpinUserPages(mm.kernel, out);
    throw e;
  }
  return out;
}

/** `unpin_user_pages()`: the last pin of a page whose VMA is gone frees it. @public */
export function unpinUserPages(kernel: Kernel, pfns: readonly number[]): void {
  const pins = pinsOf(kernel);
  for (const pfn of pfns) {
    const n = (pins.get(pfn) ?? 0) - 1;
    if (n < 0) {
      kernel.warn(`unpin_user_pages: pfn ${pfn} is not pinned`);
      continue;
    }
    if (n > 0) {
      pins.set(pfn, n);
      continue;
    }
    pins.delete(pfn);
    const orphans = ORPHANS.get(kernel);
    if (orphans?.delete(pfn)) kernel.platform.physmem.freePages(pfn, 0);
  }
}

/**
 * `unmap_mapping_range(file->f_mapping, holebegin, holelen, 1)`: zaps the PTEs
 * of every VMA of every process that maps `file` in the byte range, so the
 * next access faults again.
 * @public
 */
export function unmapMappingRange(kernel: Kernel, file: File, holeBegin: bigint, holeLen: bigint): void {
  const first = holeBegin >> 12n;
  const last = holeLen === 0n ? (1n << 62n) : (holeBegin + holeLen + 0xfffn) >> 12n;
  for (const t of kernel.tasks()) {
    const mm = t.mm;
    if (!mm) continue;
    for (const v of mm.vmas) {
      if (v.file !== file) continue;
      const vFirst = v.pgoff;
      const vLast = v.pgoff + v.pages;
      const lo = first > vFirst ? first : vFirst;
      const hi = last < vLast ? last : vLast;
      if (lo < hi) mm.zapVmaRange(v, v.start + ((lo - vFirst) << 12n), v.start + ((hi - vFirst) << 12n));
    }
  }
}
