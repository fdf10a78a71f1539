// Tests block/fops.c's blkdev_read_iter()/blkdev_write_iter() on the NVMe namespace device (O_DIRECT alignment, the end of the device).
import { describe, expect, it } from "vitest";
import { ERRNO, O_DIRECT, O_RDWR } from "@dmabuf-sdk/dmabuf-core";
import { nvmeRemove } from "@dmabuf-sdk/driver-nvme";
import { nvmeMachine } from "@dmabuf-sdk/driver-nvme/testing";

const NS = 16n << 20n;
type ErrnoName = "EINVAL" | "ENOSPC";

describe("the namespace block device: blkdev_read_iter() / blkdev_write_iter() for pread64/pwrite64", () => {
  const cases: { desc: string; direct: boolean; write: boolean; pos: bigint; len: number; res: number | ErrnoName }[] = [
    { desc: "O_DIRECT read of whole blocks", direct: true, write: false, pos: 512n, len: 1024, res: 1024 },
    { desc: "O_DIRECT read at an unaligned position", direct: true, write: false, pos: 1n, len: 512, res: "EINVAL" },
    { desc: "O_DIRECT read of a partial block", direct: true, write: false, pos: 0n, len: 511, res: "EINVAL" },
    { desc: "O_DIRECT read of nothing", direct: true, write: false, pos: 1n, len: 0, res: 0 },
    { desc: "O_DIRECT read at the end (nothing to read, before the alignment check)", direct: true, write: false, pos: NS, len: 1, res: 0 },
    { desc: "O_DIRECT read clamped at the end", direct: true, write: false, pos: NS - 512n, len: 4096, res: 512 },
    { desc: "buffered read at an unaligned position and length", direct: false, write: false, pos: 3n, len: 5, res: 5 },
    { desc: "O_DIRECT write of a partial block", direct: true, write: true, pos: 0n, len: 100, res: "EINVAL" },
    { desc: "O_DIRECT write of an empty buffer past the end (count 0 first)", direct: true, write: true, pos: NS + 512n, len: 0, res: 0 },
    { desc: "O_DIRECT write at the end", direct: true, write: true, pos: NS, len: 512, res: "ENOSPC" },
    { desc: "O_DIRECT write clamped at the end", direct: true, write: true, pos: NS - 512n, len: 1024, res: 512 },
    { desc: "buffered write of a partial block", direct: false, write: true, pos: 7n, len: 100, res: 100 },
  ];
  it.each(cases)("$desc → $res", ({ direct, write, pos, len, res }) => {
    const m = nvmeMachine();
    const fd = m.open(direct ? O_RDWR | O_DIRECT : O_RDWR);
    const buf = new Uint8Array(len).fill(0x42);
    const got = write ? m.task.sys.pwrite(fd, buf, pos) : m.task.sys.pread(fd, buf, pos);
    expect(got).toBe(typeof res === "number" ? res : -ERRNO[res]);
    m.task.sys.close(fd);
    nvmeRemove(m.dev);
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("what a buffered write puts down, an O_DIRECT read of the block reads back", () => {
    const m = nvmeMachine();
    const b = m.open(O_RDWR);
    const d = m.open(O_RDWR | O_DIRECT);
    expect(m.task.sys.pwrite(b, Uint8Array.of(1, 2, 3), 4097n)).toBe(3);
    const out = new Uint8Array(512);
    expect(m.task.sys.pread(d, out, 4096n)).toBe(512);
    expect([...out.subarray(0, 5)]).toEqual([0, 1, 2, 3, 0]);
    for (const fd of [b, d]) m.task.sys.close(fd);
    nvmeRemove(m.dev);
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});
