// Tests of IOMMU_IOAS_MAP_FILE's checks of a PAL exporter's physical address list (drivers/iommu/iommufd/pages.c).
import { describe, expect, it } from "vitest";
import { palExporter } from "@dmabuf-sdk/map-pal/testing";
import { IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_MAP_READABLE, iommuIoasMapFile } from "@dmabuf-sdk/driver-iommufd";
import { boot, teardown } from "@dmabuf-sdk/driver-iommufd/testing";

const P = 0x1000n;

describe("the PAL list: the checks the posted PFN walker lacks", () => {
  const ok = (n: number) => ({ length: n, phys: Array.from({ length: n }, (_, i) => ({ paddr: 0x40_0000_0000n + BigInt(i) * 2n * P, len: P })) });
  it.each([
    { desc: "an empty list", list: () => ({ length: 0, phys: [] }), why: /length 0/ },
    { desc: "length larger than the entries", list: () => ({ length: 3, phys: ok(2).phys }), why: /length 3 with 2 entries/ },
    { desc: "an empty entry", list: () => ({ length: 2, phys: [ok(1).phys[0]!, { paddr: 0x40_0000_8000n, len: 0n }] }), why: /entry 1 is empty/ },
    { desc: "an unaligned address", list: () => ({ length: 1, phys: [{ paddr: 0x40_0000_0800n, len: 2n * P }] }), why: /not page aligned/ },
    { desc: "an unaligned length", list: () => ({ length: 2, phys: [{ paddr: 0x40_0000_0000n, len: P + 8n }, { paddr: 0x40_0001_0000n, len: P }] }), why: /not page aligned/ },
    { desc: "an entry wrapping 2^64", list: () => ({ length: 1, phys: [{ paddr: (1n << 64n) - P, len: 2n * P }] }), why: /wraps 2\^64/ },
    { desc: "a list shorter than the import", list: () => ok(1), why: /covers 4096 bytes, the import needs 8192/ },
  ])("$desc: WARN, EINVAL, the list given back and the attachment gone", ({ list, why }) => {
    const e = boot();
    const x = palExporter(e.k, e.user, 2n * P, list);
    const r = e.user.sys.ioctl(e.s.fd, IOMMU_IOAS_MAP_FILE, iommuIoasMapFile({ flags: IOMMU_IOAS_MAP_READABLE, ioasId: e.s.ioasId, fd: x.fd, start: 0n, length: 2n * P }));
    expect(r).toBe(-22);
    expect(x.log).toEqual(["map_phys", "unmap_phys"]);
    expect(e.k.warnings()).toEqual([expect.stringMatching(why)]);
    e.user.sys.close(x.fd);
    expect(x.log).toEqual(["map_phys", "unmap_phys", "release"]);
    teardown(e);
  });

  it("a good list from any PAL exporter: more entries than needed, IOPTEs from the right ones", () => {
    const e = boot();
    const x = palExporter(e.k, e.user, 2n * P, () => ok(3));
    const iova = e.s.mapDmaBuf(x.dmabuf, P, P);
    expect(e.t.importerSlot.iommuGroup!.domain.pgtable!.lookup(Number(iova >> 12n))).toBe(Number((0x40_0000_0000n + 2n * P) >> 12n));
    e.user.sys.close(x.fd);
    teardown(e);
  });
});
