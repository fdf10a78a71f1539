// eventfd: the counter semantics the syncobj EVENTFD ioctl relies on (fs/eventfd.c).
import { describe, expect, it } from "vitest";
import { EFD_NONBLOCK, EFD_SEMAPHORE, ERRNO, Kernel, UserSyscalls, eventfdCtxFdget, eventfdCtxPut, eventfdSignal } from "@dmabuf-sdk/dmabuf-core";

function setup() {
  const k = new Kernel();
  const t = k.fork({ comm: "efd" });
  return { k, t, sys: new UserSyscalls(k, t) };
}
const u64 = (b: Uint8Array): bigint => new DataView(b.buffer).getBigUint64(0, true);

describe("eventfd", () => {
  it("read takes the counter; signal adds one; an empty non-blocking read is EAGAIN; poll follows the count", () => {
    const { k, t, sys } = setup();
    const fd = sys.eventfd(0, EFD_NONBLOCK);
    const buf = new Uint8Array(8);
    expect(sys.read(fd, buf)).toBe(-ERRNO.EAGAIN);
    expect(sys.pread(fd, buf, 0)).toBe(-ERRNO.ESPIPE); // anon inode without FMODE_PREAD
    expect(sys.pwrite(fd, buf, 0)).toBe(-ERRNO.ESPIPE);
    const ctx = k.runAs(t, () => eventfdCtxFdget(k, fd));
    eventfdSignal(ctx);
    eventfdSignal(ctx);
    const p = [{ fd, events: 1 }];
    expect(sys.poll(p, 0)).toBe(1);
    expect(sys.read(fd, buf)).toBe(8);
    expect(u64(buf)).toBe(2n);
    expect(sys.poll(p, 0)).toBe(0);
    sys.close(fd);
    expect(k.leakReport().empty).toBe(false); // the kernel user still holds the context
    eventfdCtxPut(ctx);
    expect(k.leakReport().text()).toBe("");
  });

  it("semaphore mode reads 1 at a time; bad flags are EINVAL; fdget is EBADF / EINVAL", () => {
    const { k, t, sys } = setup();
    expect(sys.eventfd(0, 0x100)).toBe(-ERRNO.EINVAL);
    const fd = sys.eventfd(3, EFD_SEMAPHORE);
    const buf = new Uint8Array(8);
    expect(sys.read(fd, buf)).toBe(8);
    expect(u64(buf)).toBe(1n);
    expect(() => k.runAs(t, () => eventfdCtxFdget(k, 77))).toThrow(/EBADF/);
    const other = sys.dup(fd);
    expect(other).toBeGreaterThan(fd);
    sys.close(other);
    sys.close(fd);
    expect(k.leakReport().text()).toBe("");
  });
});
