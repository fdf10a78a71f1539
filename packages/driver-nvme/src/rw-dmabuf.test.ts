// Port of liburing test/rw-dmabuf.c (isilence/liburing, rw-dmabuf-tests): the test names are kept.
// Scaled down for the model: a 2 MiB + 64 KiB udmabuf-like buffer (the largest read, 2 MiB at a 7-block
// offset, still fits) and a device twice that size, instead of 16 MiB and 32 MiB.
import { describe, expect, it } from "vitest";
import { F_SETFL, O_CLOEXEC, O_DIRECT, O_RDWR, dmaBufFd, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import { IO_REGBUF_TYPE_DMABUF, IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER, IoUring } from "@dmabuf-sdk/io-uring";
import { nvmeRemove } from "@dmabuf-sdk/driver-nvme";
import { nvmeMachine, type NvmeMachine } from "@dmabuf-sdk/driver-nvme/testing";

const MB = 1 << 20;
const MAX_IO_SIZE = 2 * MB + 64 * 1024;
const DEV_SIZE = 2 * MAX_IO_SIZE;

/** get_pattern(off) = off, as little-endian u64 words. */
function patternAt(fOff: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  for (let i = 0; i < size; i += 8) v.setBigUint64(i, BigInt(fOff + i), true);
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

interface TDev {
  m: NvmeMachine;
  fd: number;
  blockSize: number;
}

interface TBuf {
  dmabuf: DmaBuf<{ pfns: number[] }>;
  fd: number;
}

function bufRead(dev: TDev, buf: TBuf, off: number, len: number): Uint8Array {
  const mem = dev.m.kernel.platform.physmem;
  const out = new Uint8Array(len);
  for (let at = 0; at < len; ) {
    const o = off + at;
    const n = Math.min(4096 - (o & 0xfff), len - at);
    out.set(mem.read((BigInt(buf.dmabuf.priv.pfns[o >> 12]!) << 12n) + BigInt(o & 0xfff), n), at);
    at += n;
  }
  return out;
}

function bufWrite(dev: TDev, buf: TBuf, off: number, data: Uint8Array): void {
  const mem = dev.m.kernel.platform.physmem;
  for (let at = 0; at < data.length; ) {
    const o = off + at;
    const n = Math.min(4096 - (o & 0xfff), data.length - at);
    mem.write((BigInt(buf.dmabuf.priv.pfns[o >> 12]!) << 12n) + BigInt(o & 0xfff), data.subarray(at, at + n));
    at += n;
  }
}

/** fill_device(): pwrite through the block device (FILL_PATTERN or FILL_ZERO). */
function fillDevice(dev: TDev, pattern: boolean): void {
  const chunk = dev.blockSize * 8;
  for (let off = 0; off < DEV_SIZE; off += chunk) {
    const r = dev.m.task.sys.pwrite(dev.fd, pattern ? patternAt(off, chunk) : new Uint8Array(chunk), off);
    expect(r).toBe(chunk);
  }
}

function openDevice(defer: boolean): { dev: TDev; buf: TBuf; ring: IoUring } {
  const m = nvmeMachine({ hw: { namespaces: [{ size: BigInt(DEV_SIZE) }] } });
  const dev: TDev = { m, fd: m.open(O_RDWR | O_DIRECT), blockSize: m.dev.namespaces[0]!.lbaSize };
  const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, BigInt(MAX_IO_SIZE)) as DmaBuf<{ pfns: number[] }>;
  const buf: TBuf = { dmabuf, fd: m.kernel.runAs(m.task, () => dmaBufFd(dmabuf, O_CLOEXEC)) };
  fillDevice(dev, true);
  const ring = new IoUring(m.task, 64, { flags: defer ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN : 0 });
  return { dev, buf, ring };
}

function testRead(ring: IoUring, dev: TDev, buf: TBuf, fOff: number, bufOff: number, size: number): void {
  ring.queueFixed(false, dev.fd, BigInt(bufOff), size, BigInt(fOff), 0, 42n);
  const [cqe] = ring.run(1);
  expect(cqe!.res).toBe(size);
  expect(same(bufRead(dev, buf, bufOff, size), patternAt(fOff, size))).toBe(true);
}

function testReads(ring: IoUring, dev: TDev, buf: TBuf): void {
  const bsPerMb = MB / dev.blockSize;
  testRead(ring, dev, buf, 0, 0, dev.blockSize);
  for (const f of [0, 1, 2, 7])
    for (const b of [0, 1, 2, 7])
      for (const s of [1, 2, 3, 15, 7, 16, 32, 31, 512, 2 * bsPerMb]) testRead(ring, dev, buf, f * dev.blockSize, b * dev.blockSize, s * dev.blockSize);
  testParallelReads(ring, dev, buf);
}

/** test_parallel_reads(): 1000 one-block reads, up to 16 in flight, each into its own block. */
function testParallelReads(ring: IoUring, dev: TDev, buf: TBuf): void {
  const maxInflight = 16;
  const free = new Set(Array.from({ length: maxInflight }, (_, i) => i));
  let left = 1000;
  let inflight = 0;
  while (left > 0 || inflight) {
    const toSubmit = Math.min(maxInflight - inflight, left);
    for (let i = 0; i < toSubmit; i++) {
      const idx = [...free][0]!;
      free.delete(idx);
      const off = dev.blockSize * idx;
      ring.queueFixed(false, dev.fd, BigInt(off), dev.blockSize, BigInt(off), 0, BigInt(idx));
    }
    if (toSubmit) {
      expect(ring.submit()).toBe(toSubmit);
      inflight += toSubmit;
      left -= toSubmit;
    }
    const cqes = ring.waitCqes(1);
    for (const c of cqes) {
      expect(c.res).toBe(dev.blockSize);
      const idx = Number(c.userData);
      expect(free.has(idx)).toBe(false);
      free.add(idx);
      expect(same(bufRead(dev, buf, idx * dev.blockSize, dev.blockSize), patternAt(idx * dev.blockSize, dev.blockSize))).toBe(true);
    }
    inflight -= cqes.length;
  }
}

/** test_writes(): zero the device, then stripes of 16 one-block WRITE_FIXEDs of the pattern. */
function testWrites(ring: IoUring, dev: TDev, buf: TBuf): void {
  fillDevice(dev, false);
  const nr = 16;
  const stripe = nr * dev.blockSize;
  for (let off = 0; off < DEV_SIZE; off += stripe) {
    for (let i = 0; i < nr; i++) {
      const bufOff = i * dev.blockSize;
      bufWrite(dev, buf, bufOff, patternAt(off + bufOff, dev.blockSize));
      ring.queueFixed(true, dev.fd, BigInt(bufOff), dev.blockSize, BigInt(off + bufOff), 0);
    }
    expect(ring.submit()).toBe(nr);
    const got: number[] = [];
    while (got.length < nr) got.push(...ring.waitCqes(1).map((c) => c.res));
    expect(got).toEqual(Array(nr).fill(dev.blockSize));
  }
}

/** read_verify(): the device holds the pattern (pread through the block device). */
function readVerify(dev: TDev): void {
  const out = new Uint8Array(DEV_SIZE);
  expect(dev.m.task.sys.pread(dev.fd, out, 0)).toBe(DEV_SIZE);
  expect(same(out, patternAt(0, DEV_SIZE))).toBe(true);
}

describe("liburing test/rw-dmabuf.c on nvme", () => {
  it("test_invalid_registration: the ring fd as the dma-buf, then the ring fd as the target, are refused", () => {
    const { dev, buf, ring } = openDevice(false);
    expect(ring.registerBuffersSparse(1)).toBe(0);
    expect(ring.updateBuffers(0, [{ type: IO_REGBUF_TYPE_DMABUF, targetFd: dev.fd, dmabufFd: ring.fd }])).toBeLessThan(0);
    expect(ring.updateBuffers(0, [{ type: IO_REGBUF_TYPE_DMABUF, targetFd: ring.fd, dmabufFd: buf.fd }])).toBeLessThan(0);
    ring.close();
    finish(dev, buf);
  });

  it.each([false, true])("test_device (defer_taskrun %s): test_reads, test_writes, read_verify, test_reads, test_no_odirect", (defer) => {
    const { dev, buf, ring } = openDevice(defer);
    expect(ring.registerBuffersSparse(1)).toBe(0);
    expect(ring.registerDmabuf(0, buf.fd, dev.fd)).toBe(1);
    testReads(ring, dev, buf);
    testWrites(ring, dev, buf);
    readVerify(dev);
    testReads(ring, dev, buf);
    // test_no_odirect(): without O_DIRECT a fixed read either fails or returns the right data.
    expect(dev.m.task.sys.fcntl(dev.fd, F_SETFL, O_RDWR)).toBe(0);
    ring.queueFixed(false, dev.fd, 0n, dev.blockSize, 0n, 0, 42n);
    const res = ring.run(1)[0]!.res;
    expect(dev.m.task.sys.fcntl(dev.fd, F_SETFL, O_RDWR | O_DIRECT)).toBe(0);
    if (res >= 0) expect(same(bufRead(dev, buf, 0, dev.blockSize), patternAt(0, dev.blockSize))).toBe(true);
    else expect(res).toBe(-14);
    ring.close();
    finish(dev, buf);
  });
});

function finish(dev: TDev, buf: TBuf): void {
  const m = dev.m;
  m.task.sys.close(buf.fd);
  m.task.sys.close(dev.fd);
  m.kernel.clock.advance(100e6);
  nvmeRemove(m.dev);
  m.kernel.exitTask(m.task, 0);
  m.kernel.clock.advance(100e6);
  expect(m.kernel.leakReport().empty).toBe(true);
}
