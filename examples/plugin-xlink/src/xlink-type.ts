// The Xlink mapping type: a private device-to-device link, matched only between Xlink-capable devices.
import type { Device, DmaBufAttachment, DmaBufMappingExpOps, DmaBufMappingMatch, DmaBufMappingType, PciDev } from "@dmabuf-sdk/dmabuf-core";

/** The driver name an Xlink-capable device is bound to. */
export const XLINK_DRIVER = "xlink";

/** Match data of the Xlink type: the device on each end of the link. */
export interface XlinkData {
  readonly dev: Device;
}

/** Ranges of the exporter's device memory, as offsets the link understands. */
export interface XlinkRanges {
  /** The exporting device (the far end of the link). */
  readonly peer: PciDev;
  readonly ranges: readonly { readonly offset: bigint; readonly len: bigint }[];
}

/** The exporter's Xlink ops (a mapping type's own typed map functions). */
export interface XlinkExpOps extends DmaBufMappingExpOps {
  /** Resv held. Returns where the buffer lives on the exporting device. */
  mapXlink(attach: DmaBufAttachment): XlinkRanges;
  /** Resv held. */
  unmapXlink(attach: DmaBufAttachment, ranges: XlinkRanges): void;
}

/**
 * A private device-to-device link as a mapping type, declared entirely in
 * this out-of-tree package: matched only when both ends are Xlink devices;
 * anything else is "try the next entry", so SGT still works.
 */
export const dmaBufMappingXlinkType: DmaBufMappingType<XlinkData> = {
  name: "Xlink Device Memory",
  shortName: "XLINK",
  match(_dmabuf, exp, imp): boolean {
    return exp.data!.dev.driver === XLINK_DRIVER && imp.data!.dev.driver === XLINK_DRIVER;
  },
  finishMatch(args, exp, imp): void {
    if (args.attach) args.attach.mapType = { type: dmaBufMappingXlinkType, expOps: exp.expOps, data: imp.data } as DmaBufMappingMatch;
  },
  debugfsDump: (attach) => ` ${(attach.mapType!.data as XlinkData).dev.name}`,
};

/** An exporter entry: device memory of `dev`, reachable over the link. */
export function dmaBufEmappingXlink(ops: XlinkExpOps, dev: Device): DmaBufMappingMatch {
  return { type: dmaBufMappingXlinkType, expOps: ops, data: { dev } } as DmaBufMappingMatch;
}

/** An importer entry: `dev` can read peers over the link. */
export function dmaBufImappingXlink(dev: Device): DmaBufMappingMatch {
  return { type: dmaBufMappingXlinkType, data: { dev } } as DmaBufMappingMatch;
}
