import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import { PAGE_SIZE, hex } from "../platform/page.js";
import type { File } from "./file.js";

/** `PROT_*`. */
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
/** `MAP_*`. */
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
/** `MAP_ANONYMOUS`: memory not backed by a file (the fd is ignored). */
export const MAP_ANONYMOUS = 0x20;
/** `VM_*` flags the model tracks. */
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_SHARED = 0x8;
export const VM_MAYSHARE = 0x80;
export const VM_PFNMAP = 0x400;
export const VM_IO = 0x4000;
export const VM_DONTEXPAND = 0x40000;
export const VM_DONTDUMP = 0x4000000;
/** `VM_ALLOW_ANY_UNCACHED` (arm64 high bit; a flag name here). */
export const VM_ALLOW_ANY_UNCACHED = 0x10000000;

/** Caching attribute of a mapping (`vma->vm_page_prot`). */
export type PageCaching = "cached" | "uncached" | "write-combine";

/** What a fault handler returns. */
export type VmFaultResult = "VM_FAULT_NOPAGE" | "VM_FAULT_SIGBUS" | "VM_FAULT_SIGSEGV" | "VM_FAULT_FALLBACK";

/** `struct vm_fault`. */
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

/** `struct vm_operations_struct`. */
export interface VmOperations {
  readonly name: string;
  /** `fault`/`huge_fault`: called on access to an unpopulated page; may call `vmfInsertPfn`. */
  fault?(vmf: VmFault): VmFaultResult;
  /** `close`: the VMA goes away. */
  close?(vma: VmArea): void;
}

/** `struct vm_area_struct`. */
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

/** A signal delivered to the task for a bad user access. */
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
 * `struct mm_struct`: VMAs and the CPU page table of one process. Accesses
 * fault in through the VMA's handler; a handler that fails delivers SIGBUS.
 */
export class Mm {
  readonly vmas: VmArea[] = [];
  readonly #ptes = new Map<number, Pte>();
  #mmapBase = 0x7f00_0000_0000n;

  constructor(readonly kernel: Kernel) {}

  /** Picks a free range and creates a VMA (the caller runs the file's `mmap`). */
  createVma(len: bigint, flags: number, pgoff: bigint, file: File | null): VmArea {
    const size = (len + 0xfffn) & ~0xfffn;
    this.#mmapBase -= size + 0x1000n; // one guard page between mappings
    const vma = new VmArea(this, this.#mmapBase, this.#mmapBase + size, flags, pgoff, file);
    return vma;
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

  /** Zaps PTEs of `vma` in [start, end). */
  zapVmaRange(vma: VmArea, start: bigint, end: bigint): void {
    for (let a = start; a < end; a += 0x1000n) this.#ptes.delete(Number(a >> 12n));
    void vma;
  }

  /** Number of present PTEs. */
  get ptes(): number {
    return this.#ptes.size;
  }

  /** The pfn mapped at `addr`, if present. */
  ptePfn(addr: bigint): number | undefined {
    return this.#ptes.get(Number(addr >> 12n))?.pfn;
  }

  /** `munmap()`: removes VMAs fully inside [addr, addr+len). */
  munmap(addr: bigint, len: bigint): void {
    const end = addr + ((len + 0xfffn) & ~0xfffn);
    for (const v of [...this.vmas]) {
      if (v.start >= addr && v.end <= end) this.#removeVma(v);
      else if (v.start < end && addr < v.end) throw new KernelError("EINVAL", "munmap", "partial unmap of a VMA is not modelled");
    }
  }

  #removeVma(v: VmArea): void {
    this.zapVmaRange(v, v.start, v.end);
    this.vmas.splice(this.vmas.indexOf(v), 1);
    v.ops?.close?.(v);
    v.file?.put();
  }

  /** `exit_mmap()`. */
  exitMmap(): void {
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
const PINS = new WeakMap<Kernel, Map<number, number>>();
const ORPHANS = new WeakMap<Kernel, Set<number>>();

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

/** `unpin_user_pages()`: the last pin of a page whose VMA is gone frees it. */
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
