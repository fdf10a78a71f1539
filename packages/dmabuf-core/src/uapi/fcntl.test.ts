// Tests of fs/fcntl.c: F_GETFL/F_SETFL and setfl's flag mask.
import { describe, expect, it } from "vitest";
import { ERRNO, F_GETFL, F_SETFL, Kernel, O_DIRECT, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, type File } from "@dmabuf-sdk/dmabuf-core";

function boot() {
  const k = new Kernel();
  k.devfs.register("null", { fops: { name: "null" } });
  return { k, task: k.fork({ comm: "app" }) };
}

describe("fcntl(F_GETFL / F_SETFL) (fs/fcntl.c setfl)", () => {
  it("F_SETFL changes only the SETFL_MASK bits; the access mode stays", () => {
    const { task } = boot();
    const fd = task.sys.open("/dev/null", O_RDWR | O_DIRECT);
    expect(task.sys.fcntl(fd, F_GETFL) & (O_DIRECT | 3)).toBe(O_DIRECT | O_RDWR);
    expect(task.sys.fcntl(fd, F_SETFL, O_WRONLY | O_NONBLOCK)).toBe(0);
    const fl = task.sys.fcntl(fd, F_GETFL);
    expect(fl & 3).toBe(O_RDWR);
    expect(fl & O_DIRECT).toBe(0);
    expect(fl & O_NONBLOCK).toBe(O_NONBLOCK);
    const file = task.files.lookup(fd) as File;
    expect(file.flags & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(O_RDONLY).toBe(0);
  });

  it.each([
    { desc: "an unknown command", fd: 0, cmd: 99, errno: "EINVAL" as const },
    { desc: "a closed fd", fd: 7, cmd: F_GETFL, errno: "EBADF" as const },
  ])("$desc → $errno", ({ fd, cmd, errno }) => {
    const { task } = boot();
    task.sys.open("/dev/null", O_RDWR);
    expect(task.sys.fcntl(fd, cmd)).toBe(-ERRNO[errno]);
  });
});
