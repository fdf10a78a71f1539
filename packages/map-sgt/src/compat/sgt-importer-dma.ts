// An importer device's DMA reads and writes through a mapped SGT.
import { dmaRead, dmaWrite, type Device } from "@dmabuf-sdk/dmabuf-core";
import { sgtableDmaAddressAt, type SgTable } from "../scatterlist.js";

/** The importer device reads `len` bytes at buffer `offset` through a mapped DMA list. @public */
export function sgtDmaRead(dev: Device, sgt: SgTable, offset: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const { addr, contiguous } = sgtableDmaAddressAt(sgt, offset + BigInt(done));
    const n = Math.min(contiguous, len - done);
    out.set(dmaRead(dev, addr, n), done);
    done += n;
  }
  return out;
}

/** The importer device writes `data` at buffer `offset` through a mapped DMA list. @public */
export function sgtDmaWrite(dev: Device, sgt: SgTable, offset: bigint, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) {
    const { addr, contiguous } = sgtableDmaAddressAt(sgt, offset + BigInt(done));
    const n = Math.min(contiguous, data.length - done);
    dmaWrite(dev, addr, data.subarray(done, done + n));
    done += n;
  }
}
