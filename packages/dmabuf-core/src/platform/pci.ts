// drivers/pci/: struct pci_dev, BARs, bridges, ACS, SR-IOV (pci_physfn, pci_iov_vf_id) and the command register.
import { KernelBug } from "../kernel/kernel-error.js";
import { Device } from "./device.js";
import type { Kernel } from "../kernel/kernel.js";
import { PAGE_SHIFT, hex, pfnPhys } from "./page.js";
import type { PhysMem, PhysRegion, PhysRegionBacking } from "./phys-mem.js";
import { SparseMemory } from "./sparse-memory.js";

/** `PCI_NUM_RESOURCES` BARs of a type-0 function (0..5). @public */
export const PCI_STD_NUM_BARS = 6;
/** `VFIO_PCI_ROM_REGION_INDEX`: region index 6 is the expansion ROM. @public */
export const PCI_ROM_RESOURCE = 6;

/** PCIe port type (`pci_pcie_type()`). @public */
export type PciPortType = "root-port" | "upstream-port" | "downstream-port" | "endpoint" | "pci-bridge";

/** ACS control bits relevant to P2P routing (`PCI_ACS_CTRL`). @public */
export interface PciAcsCtrl {
  /** `PCI_ACS_RR`: P2P Request Redirect. */
  requestRedirect: boolean;
  /** `PCI_ACS_CR`: P2P Completion Redirect. */
  completionRedirect: boolean;
  /** `PCI_ACS_EC`: P2P Egress Control. */
  egressControl: boolean;
}

/** A BAR (`pci_dev->resource[i]`). @public */
export interface PciBar {
  readonly dev: PciDev;
  readonly index: number;
  /** `IORESOURCE_MEM` (memory space) or `IORESOURCE_IO` (I/O port space). */
  readonly type: "mem" | "io";
  readonly is64: boolean;
  readonly prefetch: boolean;
  /** `pci_resource_start()`: CPU physical address. */
  readonly start: bigint;
  /** `pci_resource_len()`. */
  readonly size: bigint;
  /** The device memory behind the BAR. */
  backing: PhysRegionBacking;
  /** `pci_request_region()` succeeded (resource claimed by a driver). */
  claimed: boolean;
  /** The iomem region registered for a memory BAR. */
  readonly region?: PhysRegion;
}

/** `pci_bus_address(pdev, bar)`: the address a peer uses on the bus. @public */
export function pciBusAddress(bar: PciBar): bigint {
  return bar.start - bar.dev.hostBridge.windowOffset;
}

/** A PCI host bridge (`struct pci_host_bridge`) with its P2P properties. @public */
export class PciHostBridge extends Device {
  readonly rootBus: PciBus;
  /**
   * The root complex forwards peer-to-peer TLPs between its root ports:
   * models `cpu_supports_p2pdma()` or a `pci_p2pdma_whitelist` entry.
   */
  p2pCapable: boolean;
  /** Whitelisted only for peers under this same host bridge (`REQ_SAME_HOST_BRIDGE`). */
  p2pSameHostBridgeOnly: boolean;
  /** CPU address − bus address of the memory window (`resource_entry->offset`). */
  readonly windowOffset: bigint;
  /** Memory windows (CPU addresses, inclusive ends) that BARs are assigned from. */
  readonly memWindows: { start: bigint; end: bigint }[] = [];

  constructor(kernel: Kernel, domain: number, opts: { p2pCapable: boolean; p2pSameHostBridgeOnly?: boolean; windowOffset?: bigint }) {
    super(kernel, `pci${domain.toString(16).padStart(4, "0")}:00`, "platform");
    this.domain = domain;
    this.p2pCapable = opts.p2pCapable;
    this.p2pSameHostBridgeOnly = opts.p2pSameHostBridgeOnly ?? false;
    this.windowOffset = opts.windowOffset ?? 0n;
    this.rootBus = new PciBus(this, 0, null);
    kernel.platform.addHostBridge(this);
  }
  readonly domain: number;
}

/** A PCI bus segment (`struct pci_bus`). @public */
export class PciBus {
  readonly devices: PciDev[] = [];
  constructor(
    readonly hostBridge: PciHostBridge,
    readonly number: number,
    /** The bridge above this bus (`bus->self`); null for the root bus. */
    readonly self: PciDev | null,
  ) {}
}

/** `PCI_COMMAND` bits the model tracks. @public */
export interface PciCommand {
  /** `PCI_COMMAND_MEMORY`: memory space decode. */
  memory: boolean;
  /** `PCI_COMMAND_MASTER`: bus mastering. */
  master: boolean;
}

/** Power state (`pci_power_t`). @public */
export type PciPowerState = "D0" | "D1" | "D2" | "D3hot" | "D3cold";

/** SR-IOV capability state of a physical function. @public */
export interface PciSriov {
  readonly totalVfs: number;
  /** VF BAR sizes (per VF), by BAR index. */
  readonly vfBarSizes: readonly (bigint | undefined)[];
  /** The VFs currently enabled. */
  readonly vfs: PciDev[];
  /** First VF routing-ID offset and stride. */
  readonly offset: number;
  readonly stride: number;
  /** `PCI_SRIOV_CTRL_MSE`: VF memory space enable (VFs have no command-register memory bit). */
  vfMemoryEnable: boolean;
}

/** A PCI function (`struct pci_dev`). @public */
export class PciDev extends Device {
  readonly bus: PciBus;
  readonly devfn: number;
  readonly vendor: number;
  readonly device: number;
  readonly portType: PciPortType;
  /** Bus below a bridge (`dev->subordinate`). */
  subordinate: PciBus | null = null;
  /** ACS capability and control, for ports (and multi-function endpoints). */
  acs: PciAcsCtrl | null = null;
  readonly bars: (PciBar | undefined)[] = [];
  command: PciCommand = { memory: true, master: true };
  currentState: PciPowerState = "D0";
  /** `pdev->no_command_memory` (VFs: memory decode is controlled by the PF). */
  noCommandMemory = false;
  /** For a VF: its PF (`pdev->physfn`). */
  physfn: PciDev | null = null;
  /** For a PF: SR-IOV state. */
  sriov: PciSriov | null = null;

  constructor(
    bus: PciBus,
    devfn: number,
    opts: { vendor?: number; device?: number; portType: PciPortType; parent?: Device },
  ) {
    const name = `${bus.hostBridge.domain.toString(16).padStart(4, "0")}:${bus.number.toString(16).padStart(2, "0")}:${(devfn >> 3)
      .toString(16)
      .padStart(2, "0")}.${devfn & 7}`;
    super(bus.hostBridge.kernel, name, "pci", opts.parent ?? bus.self ?? bus.hostBridge);
    this.bus = bus;
    this.devfn = devfn;
    this.vendor = opts.vendor ?? 0x1b36;
    this.device = opts.device ?? 0x0001;
    this.portType = opts.portType;
    bus.devices.push(this);
    bus.hostBridge.kernel.platform.registerDevice(this);
  }

  /** `pci_name()`. */
  get pciName(): string {
    return this.name;
  }

  /** The host bridge above this function (`pci_find_host_bridge()`). */
  get hostBridge(): PciHostBridge {
    return this.bus.hostBridge;
  }

  /** `pci_is_bridge()`. */
  get isBridge(): boolean {
    return this.subordinate !== null;
  }

  /** `pdev->is_virtfn`. */
  get isVirtfn(): boolean {
    return this.physfn !== null;
  }
}

/** `pci_upstream_bridge()`: the bridge this function's bus hangs off; null on a root bus. @public */
export function pciUpstreamBridge(dev: PciDev): PciDev | null {
  return dev.bus.self;
}

/** `pci_physfn()`: the PF of a VF, the function itself otherwise. @public */
export function pciPhysfn(dev: PciDev): PciDev {
  return dev.physfn ?? dev;
}

/** `pci_iov_vf_id()`: 0-based VF index, or -EINVAL (-22) for a non-VF. @public */
export function pciIovVfId(dev: PciDev): number {
  const pf = dev.physfn;
  if (!pf || !pf.sriov) return -22;
  const rid = (dev.bus.number << 8) | dev.devfn;
  const first = ((pf.bus.number << 8) | pf.devfn) + pf.sriov.offset;
  return (rid - first) / pf.sriov.stride;
}

/** `pci_bridge_has_acs_redir()`: RR, CR or EC enabled. */
export function pciBridgeHasAcsRedir(dev: PciDev): boolean {
  const a = dev.acs;
  return !!a && (a.requestRedirect || a.completionRedirect || a.egressControl);
}

/** `find_parent_pci_dev()`: the device itself or its nearest PCI ancestor. */
export function findParentPciDev(dev: Device | null | undefined): PciDev | null {
  for (let d = dev; d; d = d.parent) if (d instanceof PciDev) return d;
  return null;
}

/** A memory-backed BAR decodes only with memory space enabled and in D0. */
export function pciBarDecodes(bar: PciBar): boolean {
  const dev = bar.dev;
  if (dev.removed) return false;
  const pf = dev.physfn;
  const memOn = pf ? (pf.sriov?.vfMemoryEnable ?? false) && pf.currentState === "D0" : dev.command.memory;
  return bar.type === "mem" && memOn && dev.currentState === "D0";
}

/**
 * Builds the PCI hierarchy and assigns BARs out of the host bridge windows,
 * registering each memory BAR in the physical address space. Used by the
 * topology builders; drivers replace a BAR's `backing` to give it behaviour.
 * @public
 */
export class PciTopologyBuilder {
  #nextBus = 1;
  #nextMem64: bigint;
  #nextMem32: bigint;
  #nextIo = 0x1000n;

  private readonly physmem: PhysMem;
  constructor(
    readonly hostBridge: PciHostBridge,
    opts: { mem64Base?: bigint; mem64Size?: bigint; mem32Base?: bigint } = {},
  ) {
    this.physmem = hostBridge.kernel.platform.physmem;
    this.#nextMem64 = opts.mem64Base ?? 0x40_0000_0000n;
    this.#nextMem32 = opts.mem32Base ?? 0xc000_0000n;
    hostBridge.memWindows.push(
      { start: this.#nextMem32, end: 0xfebf_ffffn },
      { start: this.#nextMem64, end: this.#nextMem64 + (opts.mem64Size ?? 1n << 40n) - 1n },
    );
  }

  /** Adds a bridge-type function with a new subordinate bus. */
  bridge(bus: PciBus, devfn: number, portType: PciPortType, acs?: Partial<PciAcsCtrl>): PciDev {
    const dev = new PciDev(bus, devfn, { portType, vendor: 0x8086, device: portType === "root-port" ? 0x7075 : 0x8232 });
    dev.subordinate = new PciBus(bus.hostBridge, this.#nextBus++, dev);
    dev.acs = { requestRedirect: false, completionRedirect: false, egressControl: false, ...acs };
    return dev;
  }

  /** Adds an endpoint function. */
  endpoint(bus: PciBus, devfn: number, ids: { vendor?: number; device?: number } = {}): PciDev {
    return new PciDev(bus, devfn, { portType: "endpoint", ...ids });
  }

  /**
   * Assigns BAR `index` of `dev`: memory BARs are naturally aligned in the
   * 64-bit (or 32-bit) window, or placed at `at` when given.
   */
  bar(dev: PciDev, index: number, size: bigint, opts: { type?: "mem" | "io"; is64?: boolean; prefetch?: boolean; at?: bigint; backing?: PhysRegionBacking } = {}): PciBar {
    const type = opts.type ?? "mem";
    const is64 = opts.is64 ?? type === "mem";
    if (size <= 0n || (size & (size - 1n)) !== 0n) throw new KernelBug("pci", `BAR size ${hex(size)} is not a power of two`);
    let start: bigint;
    if (opts.at !== undefined) start = opts.at;
    else if (type === "io") {
      start = (this.#nextIo + size - 1n) & ~(size - 1n);
      this.#nextIo = start + size;
    } else if (is64) {
      start = (this.#nextMem64 + size - 1n) & ~(size - 1n);
      this.#nextMem64 = start + size;
    } else {
      start = (this.#nextMem32 + size - 1n) & ~(size - 1n);
      this.#nextMem32 = start + size;
    }
    const mem = new SparseMemory();
    const bar: PciBar = {
      dev,
      index,
      type,
      is64,
      prefetch: opts.prefetch ?? is64,
      start,
      size,
      backing: opts.backing ?? { page: (i, w) => mem.page(i, w) ?? (w ? null : EMPTY_PAGE) },
      claimed: false,
    };
    if (type === "mem") {
      const region: PhysRegion = {
        name: `${dev.name} BAR${index}`,
        kind: "mmio",
        startPfn: Number(start >> BigInt(PAGE_SHIFT)),
        endPfn: Number((start + size + 0xfffn) >> BigInt(PAGE_SHIFT)),
        backing: { page: (i, w) => bar.backing.page(i, w) },
        decodes: () => pciBarDecodes(bar),
        owner: bar,
      };
      (bar as { region?: PhysRegion }).region = region;
      this.physmem.addMmio(region);
    }
    dev.bars[index] = bar;
    return bar;
  }

  /**
   * Enables `numVfs` VFs of `pf` (`pci_enable_sriov()`): each gets the VF BAR
   * sizes of the capability, carved from one contiguous window per BAR.
   */
  enableSriov(pf: PciDev, opts: { totalVfs: number; numVfs: number; vfBarSizes: (bigint | undefined)[]; offset?: number; stride?: number; vfDevice?: number }): PciDev[] {
    const offset = opts.offset ?? 1;
    const stride = opts.stride ?? 1;
    const vfs: PciDev[] = [];
    pf.sriov = { totalVfs: opts.totalVfs, vfBarSizes: opts.vfBarSizes, vfs, offset, stride, vfMemoryEnable: true };
    const windows = opts.vfBarSizes.map((sz) => {
      if (!sz) return undefined;
      const total = sz * BigInt(opts.totalVfs);
      const start = (this.#nextMem64 + total - 1n) & ~(total - 1n);
      this.#nextMem64 = start + total;
      return start;
    });
    for (let n = 0; n < opts.numVfs; n++) {
      const rid = (pf.bus.number << 8) + pf.devfn + offset + n * stride;
      const vf = new PciDev(pf.bus, rid & 0xff, { portType: "endpoint", vendor: pf.vendor, device: opts.vfDevice ?? pf.device + 1 });
      vf.physfn = pf;
      vf.noCommandMemory = true;
      opts.vfBarSizes.forEach((sz, i) => {
        if (sz) this.bar(vf, i, sz, { at: windows[i]! + sz * BigInt(n) });
      });
      vfs.push(vf);
    }
    return vfs;
  }

  /** Describes a BAR for messages: `[mem 0x4000000000-0x4000ffffff 64bit pref]`. */
  static describe(bar: PciBar): string {
    return `[${bar.type} ${hex(bar.start)}-${hex(bar.start + bar.size - 1n)}${bar.is64 ? " 64bit" : ""}${bar.prefetch ? " pref" : ""}]`;
  }
}

const EMPTY_PAGE = new Uint8Array(4096);

/** Physical address of page `index` of `bar`. */
export function pciBarPagePhys(bar: PciBar, index: number): bigint {
  return bar.start + pfnPhys(index);
}
