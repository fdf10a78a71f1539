// drivers/dma-buf/dma-buf.c dma_buf_debug_show(): /sys/kernel/debug/dma_buf/bufinfo.
import type { Kernel } from "../kernel/kernel.js";
import { dmaResvDescribe, dmaResvLock, dmaResvUnlock } from "./dma-resv.js";

const pad8 = (n: number | bigint): string => n.toString().padStart(8, "0");
const hex8 = (n: number): string => n.toString(16).padStart(8, "0");

/**
 * `/sys/kernel/debug/dma_buf/bufinfo` (`dma_buf_debug_show()`): every
 * buffer, newest first, with its fences and one line per attachment naming
 * the negotiated mapping type (and the type's `debugfsDump`).
 * @public
 */
export function dmaBufDebugShow(kernel: Kernel): string {
  let s = "\nDma-buf Objects:\n";
  s += `${"size".padEnd(8)}\t${"flags".padEnd(8)}\t${"mode".padEnd(8)}\t${"count".padEnd(8)}\texp_name\t${"ino".padEnd(8)}\tname\n`;
  let count = 0;
  let size = 0n;
  for (const buf of [...kernel.dmaBuf.list].reverse()) {
    dmaResvLock(buf.resv);
    try {
      s += `${pad8(buf.size)}\t${hex8(buf.file.flags)}\t${hex8(buf.file.mode)}\t${pad8(buf.file.count)}\t${buf.expName}\t${pad8(buf.ino)}\t${buf.name ?? "<none>"}\n`;
      s += dmaResvDescribe(buf.resv);
      s += "\tAttached Devices:\n";
      for (const a of buf.attachments) s += `\t${a.mapType?.type.name ?? ""}:${a.mapType?.type.debugfsDump?.(a) ?? ""}\n`;
      s += `Total ${buf.attachments.length} devices attached\n\n`;
    } finally {
      dmaResvUnlock(buf.resv);
    }
    count++;
    size += buf.size;
  }
  s += `\nTotal ${count} objects, ${size} bytes\n`;
  return s;
}
