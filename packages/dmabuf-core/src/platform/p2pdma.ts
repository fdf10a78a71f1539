// drivers/pci/p2pdma.c: pci_p2pdma_map_type(), pci_p2pdma_distance() and P2P memory providers.
import { KernelWeakMap } from "../kernel/kernel-local.js";
import type { KernelAllocator } from "../kernel/slab.js";
import type { Printk } from "../kernel/printk.js";
import { Device, devIsPci } from "./device.js";
import { PciDev, findParentPciDev, pciBridgeHasAcsRedir, pciBusAddress, pciUpstreamBridge, type PciHostBridge } from "./pci.js";

/** `enum pci_p2pdma_map_type`. @public */
export type PciP2pdmaMapType =
  | "PCI_P2PDMA_MAP_UNKNOWN"
  | "PCI_P2PDMA_MAP_NOT_SUPPORTED"
  | "PCI_P2PDMA_MAP_BUS_ADDR"
  | "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE";

/** Short names used in reports: `BUS_ADDR`, `THRU_HOST_BRIDGE`, `NOT_SUPPORTED`. @public */
export function p2pdmaMapTypeShort(t: PciP2pdmaMapType): string {
  return t.replace("PCI_P2PDMA_MAP_", "");
}

/**
 * `struct p2pdma_provider`: the P2P view of one memory BAR. `busOffset` is
 * bus address − CPU physical address; `pci_p2pdma_bus_addr_map()` adds it.
 * @public
 */
export interface P2pdmaProvider {
  readonly owner: PciDev;
  readonly bar: number;
  readonly busOffset: bigint;
}

const P2PDMA = new KernelWeakMap<PciDev, (P2pdmaProvider | null)[]>("pci p2pdma", (pdev) => pdev.kernel);

/**
 * `pcim_p2pdma_init()`: creates a provider for every memory BAR of `pdev`.
 * Idempotent. @throws KernelError `ENOMEM` (injectable).
 * @public
 */
export function pcimP2pdmaInit(alloc: KernelAllocator, pdev: PciDev): void {
  if (P2PDMA.has(pdev)) return;
  alloc.kzalloc("pci_p2pdma");
  P2PDMA.set(
    pdev,
    pdev.bars.map((b) => (b && b.type === "mem" ? { owner: pdev, bar: b.index, busOffset: pciBusAddress(b) - b.start } : null)),
  );
}

/**
 * `pcim_p2pdma_provider()`: the provider of BAR `bar`, or null when the BAR
 * is not a memory BAR or p2pdma was never initialised for the device.
 * @public
 */
export function pcimP2pdmaProvider(pdev: PciDev, bar: number): P2pdmaProvider | null {
  const b = pdev.bars[bar];
  if (!b || b.type !== "mem") return null;
  return P2PDMA.get(pdev)?.[bar] ?? null;
}

/** `pci_p2pdma_bus_addr_map()`. @public */
export function pciP2pdmaBusAddrMap(provider: P2pdmaProvider, paddr: bigint): bigint {
  return paddr + provider.busOffset;
}

/**
 * `host_bridge_whitelist()`, with the whitelist (or `cpu_supports_p2pdma()`)
 * as a property of the host bridges: does the root complex forward P2P TLPs
 * between `a` and `b`?
 */
export function pciHostBridgeRoutesP2p(a: PciDev, b: PciDev): boolean {
  const ha: PciHostBridge = a.hostBridge;
  const hb: PciHostBridge = b.hostBridge;
  if (ha === hb) return ha.p2pCapable;
  return ha.p2pCapable && !ha.p2pSameHostBridgeOnly && hb.p2pCapable && !hb.p2pSameHostBridgeOnly;
}

/** Result of {@link calcMapTypeAndDist}. @public */
export interface P2pdmaPath {
  readonly mapType: PciP2pdmaMapType;
  readonly distance: number;
  /** Bridges with ACS redirect on the path (for the kernel's warning). */
  readonly acsRedirects: readonly PciDev[];
}

/**
 * `calc_map_type_and_dist()`: walks up from the provider; at each upstream
 * bridge, walks up from the client looking for it. A common bridge with no
 * ACS redirect on either path gives `BUS_ADDR`; ACS redirect or no common
 * bridge sends traffic through the host bridge, which must be whitelisted
 * (`THRU_HOST_BRIDGE`) or P2P is `NOT_SUPPORTED`.
 * @public
 */
export function calcMapTypeAndDist(provider: PciDev, client: PciDev, printk?: Printk): P2pdmaPath {
  let a: PciDev | null = provider;
  const acs: PciDev[] = [];
  let distA = 0;
  let distB = 0;
  let common: PciDev | null = null;

  outer: while (a) {
    distB = 0;
    if (pciBridgeHasAcsRedir(a)) acs.push(a);
    let bb: PciDev | null = client;
    while (bb) {
      if (a === bb) {
        common = a;
        break outer;
      }
      bb = pciUpstreamBridge(bb);
      distB++;
    }
    a = pciUpstreamBridge(a);
    distA++;
  }

  const distance = distA + distB;
  if (common) {
    for (let bb: PciDev | null = client; bb && bb !== common; bb = pciUpstreamBridge(bb)) {
      if (pciBridgeHasAcsRedir(bb)) acs.push(bb);
    }
    if (acs.length === 0) return { mapType: "PCI_P2PDMA_MAP_BUS_ADDR", distance, acsRedirects: acs };
    if (printk) {
      printk.warn(`pci ${client.name}: ACS redirect is set between the client and provider (${provider.name})`);
      printk.warn(`pci ${client.name}: to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=${acs.map((d) => d.name).join(";")}`);
    }
  }
  if (!pciHostBridgeRoutesP2p(provider, client)) {
    printk?.warn(
      `pci ${client.name}: cannot be used for peer-to-peer DMA as the client and provider (${provider.name}) do not share an upstream bridge or whitelisted host bridge`,
    );
    return { mapType: "PCI_P2PDMA_MAP_NOT_SUPPORTED", distance, acsRedirects: acs };
  }
  return { mapType: "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE", distance, acsRedirects: acs };
}

/**
 * `pci_p2pdma_map_type(provider, dev)`: how `dev` reaches the provider's BAR.
 * `NOT_SUPPORTED` for a non-PCI device (no parent walk here, unlike distance).
 * @public
 */
export function pciP2pdmaMapType(provider: P2pdmaProvider, dev: Device, printk?: Printk): PciP2pdmaMapType {
  if (!P2PDMA.has(provider.owner)) return "PCI_P2PDMA_MAP_NOT_SUPPORTED";
  if (!devIsPci(dev)) return "PCI_P2PDMA_MAP_NOT_SUPPORTED";
  return calcMapTypeAndDist(provider.owner, dev as PciDev, printk).mapType;
}

/**
 * `pci_p2pdma_distance(provider, client, verbose)`: distance >= 0 when P2P
 * works between them, -1 otherwise (including a client with no PCI ancestor).
 * @public
 */
export function pciP2pdmaDistance(provider: PciDev, client: Device, printk?: Printk): number {
  const pciClient = findParentPciDev(client);
  if (!pciClient) {
    printk?.warn(`${client.name}: cannot be used for peer-to-peer DMA as it is not a PCI device`);
    return -1;
  }
  const p = calcMapTypeAndDist(provider, pciClient, printk);
  return p.mapType === "PCI_P2PDMA_MAP_NOT_SUPPORTED" ? -1 : p.distance;
}
