// drivers/iommu/iommu.c: IOMMUs, groups and domains (identity, DMA, DMA-FQ, unmanaged) with iommu_map/unmap.
import { KernelBug, KernelError } from "../kernel/kernel-error.js";
import type { LeakEntry, LeakSource } from "../kernel/leak.js";
import type { KernelAllocator } from "../kernel/slab.js";
import type { Trace } from "../kernel/trace.js";
import type { Device } from "./device.js";
import { IoPageTable } from "./io-pgtable.js";
import { IovaDomain } from "./iova.js";
import { PAGE_SIZE_N, U64_LIMIT, hex } from "./page.js";
import { PciDev, type PciHostBridge } from "./pci.js";

/** `enum iommu_domain_type` values the model uses. @public */
export type IommuDomainType = "IOMMU_DOMAIN_BLOCKED" | "IOMMU_DOMAIN_IDENTITY" | "IOMMU_DOMAIN_DMA" | "IOMMU_DOMAIN_DMA_FQ" | "IOMMU_DOMAIN_UNMANAGED";

/** `__IOMMU_DOMAIN_DMA_API`: a domain the kernel's DMA API manages (strict DMA or lazy DMA_FQ). @public */
export function iommuIsDmaDomain(type: IommuDomainType): boolean {
  return type === "IOMMU_DOMAIN_DMA" || type === "IOMMU_DOMAIN_DMA_FQ";
}

/** `struct iommu_domain_geometry`. @public */
export interface IommuGeometry {
  readonly apertureStart: bigint;
  readonly apertureEnd: bigint;
}

/** 2^52: below it, address sums of two operands are exact as doubles. */
const SAFE_N = 1n << 52n;
const SAFE = 2 ** 52;

/** `SZ_4K | SZ_2M | SZ_1G`: the page sizes of the model's paging domains (x86 VT-d/AMD with 1 GiB pages, ARM LPAE 4K granule). */
export const IOMMU_PGSIZE_BITMAP = 0x1000 | 0x20_0000 | 0x4000_0000;

/** log2 of the pages per IOPTE of 4 KiB, 2 MiB and 1 GiB. */
const PGSHIFTS = [0, 9, 18] as const;

/**
 * `iommu_pgsize()` in page units: the largest page size of `bitmap` that fits
 * in `npages` and to which both page numbers are aligned; the count stops
 * at the next larger page size's boundary when the range reaches past it
 * with the same offset in iova and paddr (so the next step can use it).
 * Returns `[log2(pages per IOPTE), count]`.
 */
function iommuPgsize(bitmap: number, iovaPfn: number, physPfn: number, npages: number): [0 | 9 | 18, number] {
  // Low 32 bits (`>>> 0`, exact below 2^53) carry every alignment up to 1 GiB.
  const lo = (iovaPfn >>> 0) | (physPfn >>> 0);
  const sizes = PGSHIFTS.filter((sh) => bitmap & (0x1000 * 2 ** sh));
  let shift: 0 | 9 | 18 | -1 = -1;
  for (const sh of sizes) if (2 ** sh <= npages && (lo & (2 ** sh - 1)) === 0) shift = sh;
  if (shift < 0) throw new KernelBug("BUG", `iommu_pgsize: no page size of bitmap 0x${bitmap.toString(16)} fits`);
  const next = sizes.find((sh) => sh > shift) ?? -1;
  let size = npages;
  if (next > 0) {
    const nextPages = 2 ** next;
    if ((((iovaPfn >>> 0) ^ (physPfn >>> 0)) & (nextPages - 1)) === 0) {
      const offset = nextPages - (lo & (nextPages - 1));
      if (offset + nextPages <= npages) size = offset;
    }
  }
  return [shift as 0 | 9 | 18, Math.floor(size / 2 ** shift)];
}

/** `struct iommu_domain`. @public */
export class IommuDomain {
  readonly geometry: IommuGeometry & { readonly apertureStartNum: number; readonly apertureEndNum: number };
  /** Page table of paging domains (DMA, UNMANAGED). */
  readonly pgtable: IoPageTable | undefined;
  /** IOVA allocator of DMA-API domains (`domain->iova_cookie->iovad`). */
  readonly iovad: IovaDomain | undefined;
  /** Groups attached right now. */
  readonly groups = new Set<IommuGroup>();
  /**
   * `domain->pgsize_bitmap`: the IOPTE sizes `iommu_map()` may use (bytes;
   * 4 KiB must be among them). Narrow it to `0x1000` for 4 KiB IOPTEs only.
   */
  pgsizeBitmap = IOMMU_PGSIZE_BITMAP;
  freed = false;

  constructor(
    /** Mutable only for DMA → DMA_FQ, which the kernel does in place (`iommu_dma_init_fq()`). */
    public type: IommuDomainType,
    readonly name: string,
    geometry: IommuGeometry,
    alloc: KernelAllocator,
  ) {
    // Number copies for the fast path; an end beyond 2^53 is clamped (fast-path sums stay below 2^53).
    this.geometry = { ...geometry, apertureStartNum: Number(geometry.apertureStart), apertureEndNum: Math.min(Number(geometry.apertureEnd), Number.MAX_SAFE_INTEGER) };
    const paging = iommuIsDmaDomain(type) || type === "IOMMU_DOMAIN_UNMANAGED";
    this.pgtable = paging ? new IoPageTable(alloc, `${name} io-pgtable`) : undefined;
    this.iovad = iommuIsDmaDomain(type) ? new IovaDomain(alloc, name) : undefined;
  }

  /** `__IOMMU_DOMAIN_PAGING`. */
  get paging(): boolean {
    return this.pgtable !== undefined;
  }
}

/** `struct iommu_group`. @public */
export class IommuGroup {
  readonly devices: Device[] = [];
  domain: IommuDomain;
  /** DMA owner (`iommu_group_claim_dma_owner()`), e.g. iommufd or vfio. */
  owner: unknown = undefined;
  ownerCount = 0;
  constructor(
    readonly id: number,
    /** Replaced only by {@link Iommu.setGroupDefaultDomain}. */
    public defaultDomain: IommuDomain,
  ) {
    this.domain = defaultDomain;
  }
}

/** Options of the platform IOMMU. @public */
export interface IommuOptions {
  /**
   * Default domain type for probed devices: DMA (translated, strict:
   * `iommu.strict=1`), DMA_FQ (translated, lazy: `iommu.strict=0`) or
   * IDENTITY (`iommu.passthrough=1` / `iommu=pt`).
   */
  defaultDomain: "IOMMU_DOMAIN_DMA" | "IOMMU_DOMAIN_DMA_FQ" | "IOMMU_DOMAIN_IDENTITY";
  /** Input address width of paging domains (VT-d: 48 or 57). */
  addressWidth: number;
}

/** The x86 MSI window, reserved in every DMA domain (`IOMMU_RESV_MSI`). */
const MSI_BASE = 0xfee0_0000n;
const MSI_END = 0xfeef_ffffn;

/**
 * The platform IOMMU: groups, domains, page tables and the iommu core API
 * (`iommu_map`, `iommu_unmap`, `iommu_iova_to_phys`, attach). Groups are
 * per function: the model isolates every function, as
 * `pcie_acs_override=downstream,multifunction` does, so grouping never
 * depends on the ACS redirect bits that decide P2P routing.
 * @public
 */
export class Iommu implements LeakSource {
  readonly name = "iommu";
  readonly #alloc: KernelAllocator;
  readonly #trace: Trace;
  readonly options: IommuOptions;
  readonly #domains = new Set<IommuDomain>();
  #nextGroup = 0;
  #nextDomain = 0;

  constructor(alloc: KernelAllocator, trace: Trace, options: IommuOptions) {
    this.#alloc = alloc;
    this.#trace = trace;
    this.options = options;
  }

  #geometry(): IommuGeometry {
    return { apertureStart: 0n, apertureEnd: (1n << BigInt(this.options.addressWidth)) - 1n };
  }

  /**
   * `iommu_probe_device()`: puts `dev` in its own group with a default domain.
   * DMA default domains reserve the host bridge windows and the MSI window so
   * IOVAs never alias a peer's bus address (`iova_reserve_pci_windows()`).
   */
  probeDevice(dev: Device, type: IommuDomainType = this.options.defaultDomain): IommuGroup {
    if (dev.iommuGroup) return dev.iommuGroup;
    // iommu_get_def_domain_type(): untrusted (external-facing) devices always get strict DMA.
    const domain = this.#newDefaultDomain(dev, dev.untrusted ? "IOMMU_DOMAIN_DMA" : type);
    const group = new IommuGroup(this.#nextGroup++, domain);
    group.devices.push(dev);
    domain.groups.add(group);
    dev.iommuGroup = group;
    return group;
  }

  #newDefaultDomain(dev: Device, type: IommuDomainType): IommuDomain {
    const domain = this.#newDomain(type, `${dev.name} default`);
    if (domain.iovad) {
      const reserve = (s: bigint, e: bigint, what: string): void => domain.iovad!.reserve(Number(s >> 12n), Number(e >> 12n), what);
      reserve(MSI_BASE, MSI_END, "msi");
      if (dev instanceof PciDev) {
        const hb: PciHostBridge = dev.hostBridge;
        for (const w of hb.memWindows) reserve(w.start - hb.windowOffset, w.end - hb.windowOffset, "pci window");
      }
    }
    return domain;
  }

  /**
   * `iommu_group_store_type()` (writing `DMA`, `DMA-FQ` or `identity` to
   * `/sys/kernel/iommu_groups/N/type`): replaces the group's default domain.
   * DMA → DMA-FQ is allowed while a driver is bound (the kernel switches the
   * cookie in place); any other change needs an unbound group on its default
   * domain with nothing mapped. `EINVAL` for an untrusted device asked to
   * leave strict DMA or for a type that cannot be a default domain, `EBUSY`
   * otherwise.
   */
  setGroupDefaultDomain(group: IommuGroup, type: IommuDomainType): void {
    const old = group.defaultDomain;
    if (type === old.type) return;
    if (!iommuIsDmaDomain(type) && type !== "IOMMU_DOMAIN_IDENTITY") throw new KernelError("EINVAL", "iommu_group_store_type", `${type} cannot be a default domain`);
    if (group.devices.some((d) => d.untrusted) && type !== "IOMMU_DOMAIN_DMA") throw new KernelError("EINVAL", "iommu_group_store_type", "untrusted device");
    if (group.domain !== old) throw new KernelError("EBUSY", "iommu_group_store_type", `group ${group.id} is attached to ${group.domain.name}`);
    const inPlace = old.type === "IOMMU_DOMAIN_DMA" && type === "IOMMU_DOMAIN_DMA_FQ";
    if (!inPlace && (group.devices.some((d) => d.driver !== undefined) || (old.pgtable?.ptes ?? 0) > 0 || (old.iovad?.allocated().length ?? 0) > 0)) {
      throw new KernelError("EBUSY", "iommu_group_store_type", `group ${group.id} is in use`);
    }
    const dev = group.devices[0]!;
    const domain = inPlace ? old : this.#newDefaultDomain(dev, type);
    if (inPlace) {
      domain.type = type;
      return;
    }
    old.groups.delete(group);
    old.freed = true;
    this.#domains.delete(old);
    group.defaultDomain = domain;
    group.domain = domain;
    domain.groups.add(group);
  }

  #newDomain(type: IommuDomainType, name: string, geometry = this.#geometry()): IommuDomain {
    const d = new IommuDomain(type, name, geometry, this.#alloc);
    this.#domains.add(d);
    return d;
  }

  /**
   * `iommu_paging_domain_alloc()` / `iommu_domain_alloc()`: an UNMANAGED (or
   * BLOCKED, IDENTITY) domain. @throws KernelError `ENOMEM` (injectable).
   */
  domainAlloc(type: IommuDomainType = "IOMMU_DOMAIN_UNMANAGED", name?: string, geometry?: IommuGeometry): IommuDomain {
    this.#alloc.kzalloc("iommu_domain");
    return this.#newDomain(type, name ?? `domain${this.#nextDomain++}`, geometry ?? this.#geometry());
  }

  /** `iommu_domain_free()`: the domain must be detached. */
  domainFree(domain: IommuDomain): void {
    if (domain.groups.size) throw new KernelBug("WARN", `iommu_domain_free(${domain.name}) while attached`);
    domain.freed = true;
    this.#domains.delete(domain);
  }

  /** `iommu_attach_group()`: the group must be on its default domain. */
  attachGroup(domain: IommuDomain, group: IommuGroup): void {
    if (domain.freed) throw new KernelBug("WARN", `attach to freed domain ${domain.name}`);
    if (group.domain !== group.defaultDomain && group.domain !== domain) throw new KernelError("EBUSY", "iommu_attach_group", `group ${group.id} already attached to ${group.domain.name}`);
    group.domain.groups.delete(group);
    group.domain = domain;
    domain.groups.add(group);
    this.#trace.emit("attach_device_to_domain", { group: group.id, domain: domain.name });
  }

  /** `iommu_detach_group()`: back to the default domain. */
  detachGroup(domain: IommuDomain, group: IommuGroup): void {
    if (group.domain !== domain) throw new KernelBug("WARN", `group ${group.id} is not attached to ${domain.name}`);
    domain.groups.delete(group);
    group.domain = group.defaultDomain;
    group.defaultDomain.groups.add(group);
  }

  /**
   * `iommu_map()`: maps [iova, iova+size) to [paddr, …) with `prot`.
   * - `EINVAL`: not a paging domain, unaligned to 4 KiB, or a range wrapping 2^64;
   * - `EFAULT`: outside the domain aperture;
   * - `EEXIST`: an entry is already present; `ENOMEM`: table allocation failed.
   * On failure nothing stays mapped.
   */
  map(domain: IommuDomain, iova: bigint, paddr: bigint, size: bigint, prot: number): void {
    // Below 2^52 every sum stays exact in a double: take the number path.
    if (iova < SAFE_N && paddr < SAFE_N && size < SAFE_N) {
      this.mapSafe(domain, Number(iova), Number(paddr), Number(size), prot);
      return;
    }
    const pt = domain.pgtable;
    if (!pt) throw new KernelError("EINVAL", "iommu_map", `${domain.type} is not a paging domain`);
    if (((iova | paddr | size) & (PAGE_SIZE_N - 1n)) !== 0n || size === 0n) {
      throw new KernelError("EINVAL", "iommu_map", `unaligned: iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)} min_pagesz 0x1000`);
    }
    if (iova + size > U64_LIMIT || paddr + size > U64_LIMIT) throw new KernelError("EINVAL", "iommu_map", `iova ${hex(iova)} + size ${hex(size)} wraps`);
    if (iova < domain.geometry.apertureStart || iova + size - 1n > domain.geometry.apertureEnd) {
      throw new KernelError("EFAULT", "iommu_map", `iova ${hex(iova)} size ${hex(size)} outside aperture ${hex(domain.geometry.apertureEnd)}`);
    }
    this.#install(domain, pt, Number(iova >> 12n), Number(paddr >> 12n), Number(size >> 12n), prot);
  }

  /**
   * `iommu_map()` with the arguments as integer numbers below 2^52 (the fast
   * path of the DMA API). Same checks and errnos as {@link Iommu.map}; NaN or
   * a negative value is `EINVAL`.
   */
  mapSafe(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): void {
    const pt = domain.pgtable;
    if (!pt) throw new KernelError("EINVAL", "iommu_map", `${domain.type} is not a paging domain`);
    // `>>> 0`: mod 2^32, exact for integers below 2^53, cheaper than `%` on
    // large doubles; it maps NaN to 0, so NaN and negatives are refused first.
    if (!(size > 0 && iova >= 0 && paddr >= 0) || (((iova >>> 0) | (paddr >>> 0) | (size >>> 0)) & 4095) !== 0) {
      throw new KernelError("EINVAL", "iommu_map", `unaligned: iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)} min_pagesz 0x1000`);
    }
    // Beyond 2^52 sums of doubles are no longer exact: the bigint path decides.
    if (iova + size > SAFE || paddr + size > SAFE) {
      this.map(domain, BigInt(iova), BigInt(paddr), BigInt(size), prot);
      return;
    }
    const g = domain.geometry;
    if (iova < g.apertureStartNum || iova + size - 1 > g.apertureEndNum) {
      throw new KernelError("EFAULT", "iommu_map", `iova ${hex(iova)} size ${hex(size)} outside aperture ${hex(g.apertureEnd)}`);
    }
    this.#install(domain, pt, iova / 4096, paddr / 4096, size / 4096, prot);
  }

  /**
   * `__iommu_map()`'s loop: each step maps `count` IOPTEs of the size
   * `iommu_pgsize()` picks (`ops->map_pages()`); on failure what was mapped is
   * unmapped again.
   */
  #install(domain: IommuDomain, pt: IoPageTable, iovaPfn: number, physPfn: number, npages: number, prot: number): void {
    let mapped: number;
    const bitmap = domain.pgsizeBitmap;
    if (npages < 512 || bitmap === 0x1000) {
      // Below 2 MiB only 4 KiB IOPTEs fit: one step.
      mapped = pt.map(iovaPfn, physPfn, npages, prot);
    } else {
      mapped = 0;
      while (mapped < npages) {
        const [shift, count] = iommuPgsize(bitmap, iovaPfn + mapped, physPfn + mapped, npages - mapped);
        const want = count * 2 ** shift;
        const got = shift === 0 ? pt.map(iovaPfn + mapped, physPfn + mapped, count, prot) : pt.mapLarge(iovaPfn + mapped, physPfn + mapped, shift, count, prot);
        mapped += got;
        if (got !== want) break;
      }
    }
    if (mapped !== npages) {
      const err = pt.lastError ?? "ENOMEM";
      pt.unmap(iovaPfn, mapped);
      throw new KernelError(err, "iommu_map", `iova ${hex(BigInt(iovaPfn) << 12n)}`);
    }
    if (this.#trace.enabled) this.#trace.emit("map", { domain: domain.name, iova: BigInt(iovaPfn) << 12n, paddr: BigInt(physPfn) << 12n, size: BigInt(npages) << 12n });
  }

  /** `iommu_unmap()`: returns the bytes unmapped (stops at the first hole). */
  unmap(domain: IommuDomain, iova: bigint, size: bigint): bigint {
    const pt = domain.pgtable;
    if (!pt) return 0n;
    const n = pt.unmap(Number(iova >> 12n), Number(size >> 12n));
    if (this.#trace.enabled) this.#trace.emit("unmap", { domain: domain.name, iova, size, unmapped_size: BigInt(n) << 12n });
    return BigInt(n) << 12n;
  }

  /** `iommu_iova_to_phys()`: 0 when not mapped (as the kernel returns). */
  iovaToPhys(domain: IommuDomain, iova: bigint): bigint {
    if (domain.type === "IOMMU_DOMAIN_IDENTITY") return iova;
    const pt = domain.pgtable;
    if (!pt) return 0n;
    const pfn = pt.lookup(Number(iova >> 12n));
    return pfn < 0 ? 0n : (BigInt(pfn) << 12n) | (iova & 0xfffn);
  }

  /** Live domains (default ones included). */
  domains(): readonly IommuDomain[] {
    return [...this.#domains];
  }

  collect(): LeakEntry[] {
    const out: LeakEntry[] = [];
    for (const d of this.#domains) {
      if (d.pgtable && d.pgtable.ptes) out.push({ kind: "iommu_pte", key: d.name, count: d.pgtable.ptes, detail: `${d.pgtable.ptes} IOPTE(s) present in ${d.name}` });
      for (const r of d.iovad?.allocated() ?? []) {
        out.push({ kind: "iova", key: `${d.name}@${hex(BigInt(r.pfnLo) << 12n)}`, count: 1, detail: `IOVA [${hex(BigInt(r.pfnLo) << 12n)}-${hex((BigInt(r.pfnHi + 1) << 12n) - 1n)}] (${r.what}) in ${d.name}` });
      }
      if (d.type === "IOMMU_DOMAIN_UNMANAGED") out.push({ kind: "iommu_domain", key: d.name, count: 1, detail: `unmanaged domain ${d.name} not freed` });
    }
    return out;
  }
}
