// Fuzzer table for io_uring/io_uring.c + io_uring/register.c (setup, enter, register incl. dma-buf buffers) and the nvme block device (block/fops.c).
import fc from "fast-check";
import { F_SETFL, O_DIRECT, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, UserSignal, isDmaBufFile, type Errno, type Kernel, type Task, type Topology } from "@dmabuf-sdk/dmabuf-core";
import {
  IO_REGBUF_TYPE_DMABUF,
  IO_REGBUF_TYPE_EMPTY,
  IO_REGBUF_TYPE_UADDR,
  IO_URING_REGBUF_DESC_SIZE,
  IO_URING_RSRC_REGISTER_SIZE,
  IO_URING_RSRC_UPDATE2_SIZE,
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_REGISTERED_RING,
  IORING_ENTER_SQ_WAKEUP,
  IORING_OP_NOP,
  IORING_OP_READ,
  IORING_OP_READ_FIXED,
  IORING_OP_READV_FIXED,
  IORING_OP_WRITE,
  IORING_OP_WRITE_FIXED,
  IORING_OP_WRITEV_FIXED,
  IORING_REGISTER_BUFFERS,
  IORING_REGISTER_BUFFERS2,
  IORING_REGISTER_BUFFERS_UPDATE,
  IORING_REGISTER_FILES,
  IORING_REGISTER_USE_REGISTERED_RING,
  IORING_RSRC_REGISTER_SPARSE,
  IORING_RSRC_UPDATE_EXTENDED,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_IOPOLL,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_UNREGISTER_BUFFERS,
  IORING_UNREGISTER_FILES,
  IOSQE_FIXED_FILE,
  ioUringEnter,
  ioUringRegbufDesc,
  ioUringRegister,
  ioUringRings,
  ioUringSetup,
  ioUringSqe,
  userAlloc,
  type IoUringParams,
  type IoUringSqe,
} from "@dmabuf-sdk/io-uring";
import { nvmeHwAttach, nvmeModule, nvmeProbe, nvmeRemove } from "@dmabuf-sdk/driver-nvme";
import type { FuzzArbs, FuzzCommand, UapiEntryPoint } from "./harness.js";

/** The namespace: 1 MiB of 512-byte blocks. */
const NS_SIZE = 1n << 20n;
/** Scratch user memory per process: page 0 for structs (descriptors at 0, tags at 0x800), page 1 for I/O. */
const SCRATCH = 0x2000;
const TAGS_OFF = 0x800n;
const IO_OFF = 0x1000n;
const SPARSE_SLOTS = 4;

/** What each process has open for io_uring, by role. */
interface UringFds {
  readonly ring: number;
  readonly nvme: number;
  readonly scratch: bigint;
}
const FDS = new WeakMap<Task, UringFds>();

/**
 * Puts an NVMe controller on the importer slot and gives each process a ring
 * with a sparse table of {@link SPARSE_SLOTS} buffers, `/dev/nvme0n1` open
 * O_RDWR | O_DIRECT and two pages of scratch memory. Called last by the world's
 * boot, so the other kinds keep their fds. Returns the teardown that unbinds
 * the controller (its queues and PRP pools) once every process has exited.
 */
export function ioUringFuzzBoot(k: Kernel, t: Topology, procs: readonly Task[]): () => void {
  nvmeHwAttach(t.importerSlot, { namespaces: [{ size: NS_SIZE }] });
  k.modprobe(nvmeModule);
  const dev = nvmeProbe(k, t.importerSlot);
  for (const p of procs) {
    const ring = ioUringSetup(p, 8, { flags: 0 });
    ioUringRegister(p, ring, IORING_REGISTER_BUFFERS2, rsrcRegister(SPARSE_SLOTS, IORING_RSRC_REGISTER_SPARSE, 0n, 0n, 0n), IO_URING_RSRC_REGISTER_SIZE);
    const nvme = p.sys.open(`/dev/nvme${dev.instance}n1`, O_RDWR | O_DIRECT);
    FDS.set(p, { ring, nvme, scratch: userAlloc(p, SCRATCH) });
  }
  return () => nvmeRemove(dev);
}

/** `struct io_uring_rsrc_register`. */
function rsrcRegister(nr: number, flags: number, resv2: bigint, data: bigint, tags: bigint): Uint8Array {
  const b = new Uint8Array(IO_URING_RSRC_REGISTER_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, nr, true);
  v.setUint32(4, flags, true);
  v.setBigUint64(8, resv2, true);
  v.setBigUint64(16, data, true);
  v.setBigUint64(24, tags, true);
  return b;
}

/** `struct io_uring_rsrc_update2`. */
function rsrcUpdate2(offset: number, flags: number, data: bigint, tags: bigint, nr: number, resv2: number): Uint8Array {
  const b = new Uint8Array(IO_URING_RSRC_UPDATE2_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, offset, true);
  v.setUint32(4, flags, true);
  v.setBigUint64(8, data, true);
  v.setBigUint64(16, tags, true);
  v.setUint32(24, nr, true);
  v.setUint32(28, resv2, true);
  return b;
}

/** Mostly null (the well-formed value is used), now and then `arb`. */
const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
const cmd = (label: string, run: FuzzCommand["run"]): FuzzCommand => ({ label, run });
const show = (v: unknown): string => (typeof v === "bigint" ? `${v}n` : String(v));

/** An fd by role: the process's ring, its nvme block device, one of its dma-bufs, or any fd. */
type Role = "ring" | "nvme" | "dmabuf" | "dmabuf-last" | number;
function roleFd(a: FuzzArbs, ...weights: [ring: number, nvme: number, dmabuf: number]): fc.Arbitrary<Role> {
  return fc.oneof(
    { weight: weights[0], arbitrary: fc.constant("ring" as const) },
    { weight: weights[1], arbitrary: fc.constant("nvme" as const) },
    { weight: weights[2], arbitrary: fc.constantFrom("dmabuf" as const, "dmabuf-last" as const) },
    { weight: 2, arbitrary: a.fd },
  );
}
function resolve(p: Task, r: Role): number {
  if (typeof r === "number") return r;
  const f = FDS.get(p);
  if (r === "ring") return f?.ring ?? -1;
  if (r === "nvme") return f?.nvme ?? -1;
  const bufs = p.files.fds().filter((fd) => {
    const file = p.files.lookup(fd);
    return file !== undefined && isDmaBufFile(file);
  });
  return bufs.length ? bufs[r === "dmabuf" ? 0 : bufs.length - 1]! : -1;
}

/** A user address: into the process's scratch memory (resolved at run time), NULL, or any u64. */
type Addr = { scratch: bigint } | bigint;
function userAddr(a: FuzzArbs): fc.Arbitrary<Addr> {
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0n, 4n, 0x200n, IO_OFF, IO_OFF + 0x200n, 0x1ffcn).map((off) => ({ scratch: off })) }, { weight: 1, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: a.u64 });
}
function addrOf(p: Task, x: Addr): bigint {
  return typeof x === "bigint" ? x : (FDS.get(p)?.scratch ?? 0n) + x.scratch;
}
function showAddr(x: Addr): string {
  return typeof x === "bigint" ? show(x) : `scratch+0x${x.scratch.toString(16)}`;
}

/** Writes into the process's scratch memory; a process that unmapped it leaves the kernel to fault. */
function poke(p: Task, addr: bigint, bytes: Uint8Array): void {
  try {
    p.sys.poke(addr, bytes);
  } catch (e) {
    if (!(e instanceof UserSignal)) throw e;
  }
}

/** Byte offsets and lengths around the namespace's blocks and the buffers' edges. */
const fileOff = (a: FuzzArbs): fc.Arbitrary<bigint> => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0n, 1n, 0x200n, 0x1000n, NS_SIZE - 0x200n, NS_SIZE - 0x1000n, NS_SIZE, NS_SIZE + 0x200n) }, { weight: 1, arbitrary: a.u64 });
const ioLen = (a: FuzzArbs): fc.Arbitrary<number> => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 4, 0x1ff, 0x200, 0x1000, 0x2000, 0x10000) }, { weight: 1, arbitrary: a.u32 });

/** One SQE with its fd role and address kind; resolved against the submitting process. */
interface SqeSpec {
  readonly opcode: number;
  readonly flags: number;
  readonly fd: Role;
  readonly off: bigint;
  /** A registered buffer's byte offset (fixed opcodes), or a user address. */
  readonly addr: Addr;
  readonly len: number;
  readonly bufIndex: number;
}
function sqeSpec(a: FuzzArbs): fc.Arbitrary<SqeSpec> {
  // A well-formed fixed read or write on the block device, so that registered dma-bufs see I/O (and I/O in flight).
  const fixed = fc.record({
    opcode: fc.constantFrom(IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED),
    flags: fc.constant(0),
    fd: fc.constant("nvme" as Role),
    off: fc.constantFrom(0n, 0x200n, 0x1000n, NS_SIZE - 0x1000n),
    addr: fc.constantFrom(0n, 0x200n, 0x1000n) as fc.Arbitrary<Addr>,
    len: fc.constantFrom(0x200, 0x1000),
    bufIndex: fc.nat(SPARSE_SLOTS - 1),
  });
  return fc.oneof({ weight: 2, arbitrary: fixed }, { weight: 3, arbitrary: anySqe(a) });
}
function anySqe(a: FuzzArbs): fc.Arbitrary<SqeSpec> {
  return fc.record({
    opcode: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_NOP, IORING_OP_READV_FIXED, IORING_OP_WRITEV_FIXED, 46) }, { weight: 1, arbitrary: fc.nat(255) }),
    flags: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(IOSQE_FIXED_FILE, 0x80, 0xff) }),
    fd: roleFd(a, 1, 8, 1),
    off: fileOff(a),
    addr: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0n, 4n, 0x200n, 0x1000n, 0x3000n).map((v) => v as Addr) }, { weight: 2, arbitrary: userAddr(a) }),
    len: ioLen(a),
    bufIndex: fc.oneof({ weight: 6, arbitrary: fc.nat(SPARSE_SLOTS) }, { weight: 1, arbitrary: fc.constant(0xffff) }),
  });
}
function sqeOf(p: Task, s: SqeSpec, userData: number): IoUringSqe {
  return ioUringSqe({ opcode: s.opcode, flags: s.flags, fd: resolve(p, s.fd), off: s.off, addr: addrOf(p, s.addr), len: s.len, bufIndex: s.bufIndex, userData: BigInt(userData) });
}
function showSqe(s: SqeSpec): string {
  return `{op ${s.opcode}, flags ${s.flags}, fd ${s.fd}, off ${show(s.off)}, addr ${showAddr(s.addr)}, len ${s.len}, buf ${s.bufIndex}}`;
}

/** Queues SQEs on ring `fd` of `p` through its mapped SQ (nothing when `fd` is not its ring). */
function queue(p: Task, fd: number, sqes: readonly SqeSpec[]): void {
  const rings = ioUringRings(p, fd);
  sqes.forEach((s, i) => rings?.pushSqe(sqeOf(p, s, i + 1)));
}

/** A registration descriptor with its fd roles (`struct io_uring_regbuf_desc`). */
interface DescSpec {
  readonly type: number;
  readonly flags: number;
  readonly size: bigint;
  readonly uaddr: Addr;
  readonly dmabufFd: Role;
  readonly targetFd: Role;
  readonly resv: bigint;
}
function descSpec(a: FuzzArbs): fc.Arbitrary<DescSpec> {
  const zero = { flags: 0, size: 0n, uaddr: 0n as Addr, resv: 0n };
  // Mostly well-formed descriptors of each type (so that registrations succeed and I/O reaches the device), then anything.
  const dmabuf = fc.record({ dmabufFd: roleFd(a, 1, 1, 10), targetFd: roleFd(a, 1, 10, 1) }).map((r) => ({ ...zero, type: IO_REGBUF_TYPE_DMABUF, ...r }));
  const empty = fc.constant({ ...zero, type: IO_REGBUF_TYPE_EMPTY, dmabufFd: 0 as Role, targetFd: 0 as Role });
  const uaddr = fc.record({ uaddr: userAddr(a), size: fc.constantFrom(0x200n, 0x1000n, 0x2000n) }).map((r) => ({ ...zero, type: IO_REGBUF_TYPE_UADDR, dmabufFd: 0 as Role, targetFd: 0 as Role, ...r }));
  const any = fc.record({
    type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(IO_REGBUF_TYPE_DMABUF, IO_REGBUF_TYPE_EMPTY, IO_REGBUF_TYPE_UADDR) }, { weight: 1, arbitrary: a.u32 }),
    flags: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: a.u32 }),
    size: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0n, 0x1000n, 0x2000n) }, { weight: 1, arbitrary: a.u64 }),
    uaddr: fc.oneof({ weight: 2, arbitrary: fc.constant(0n as Addr) }, { weight: 2, arbitrary: userAddr(a) }),
    dmabufFd: roleFd(a, 1, 1, 4),
    targetFd: roleFd(a, 1, 4, 1),
    resv: fc.oneof({ weight: 3, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: a.u64 }),
  });
  return fc.oneof({ weight: 6, arbitrary: dmabuf }, { weight: 1, arbitrary: empty }, { weight: 1, arbitrary: uaddr }, { weight: 3, arbitrary: any });
}
function descBytes(p: Task, d: DescSpec): Uint8Array {
  return ioUringRegbufDesc({ type: d.type, flags: d.flags, size: d.size, uaddr: addrOf(p, d.uaddr), dmabufFd: resolve(p, d.dmabufFd), targetFd: resolve(p, d.targetFd), resv: [0n, 0n, 0n, 0n, 0n, d.resv] });
}

const SETUP_ERRNOS: Errno[] = ["EFAULT", "EINVAL", "ENOMEM", "EMFILE"];
// fget/ring checks, the single-issuer rule, the EXT_ARG size.
const ENTER_ERRNOS: Errno[] = ["EINVAL", "EBADF", "EOPNOTSUPP", "EEXIST"];
// Ring checks; table state (EBUSY, ENXIO); copies (EFAULT); sizes and fields (EINVAL, EMFILE, EOVERFLOW);
// buffer pinning (EFAULT, ENOMEM); dma-buf registration: fds (EBADF, EINVAL for a non-dma-buf), a target
// without the op (EOPNOTSUPP), a block device without O_DIRECT (EINVAL), the exporter's attach (ENODEV, EPERM, ENOSPC).
const REGISTER_ERRNOS: Errno[] = ["EINVAL", "EBADF", "EOPNOTSUPP", "EEXIST", "EFAULT", "EBUSY", "ENXIO", "EMFILE", "EOVERFLOW", "ENOMEM", "ENODEV", "EPERM", "ENOSPC"];
// What a CQE carries: prep (EINVAL), files (EBADF), fixed-buffer import (EFAULT, EOPNOTSUPP, EBADF), the map
// (ENODEV from a revoked exporter, ENOENT after the device went away, ENOMEM), the block device (EINVAL for
// unaligned direct I/O, ENOSPC past the end, EIO), user memory (EFAULT), files without read_iter (EINVAL).
// The io_uring_enter() that submits them may fail as that entry does (a process that closed its ring).
const CQE_ERRNOS: Errno[] = [...ENTER_ERRNOS, "EFAULT", "ENODEV", "ENOENT", "ENOMEM", "ENOSPC", "EIO"];

export const ioUringEntryPoints: readonly UapiEntryPoint[] = [
  {
    name: "io_uring_setup",
    errnos: SETUP_ERRNOS,
    command: (a) =>
      fc
        .record({
          entries: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 3, 8, 32768, 32769) }, { weight: 1, arbitrary: a.u32 }, { weight: 1, arbitrary: a.anyNumber }),
          flags: fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(0, IORING_SETUP_CQSIZE, IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_IOPOLL, 1 << 1) },
            { weight: 1, arbitrary: a.u32 },
          ),
          cqEntries: fc.oneof(fc.constant(null), fc.constantFrom(0, 1, 16, 65536, 65537), a.u32, a.anyNumber),
          version: fc.constantFrom("v6" as const, "v3" as const),
          nullParams: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        })
        .map((r) => {
          const params: IoUringParams | null = r.nullParams ? null : { flags: r.flags, dmabufVersion: r.version, ...(r.cqEntries === null ? {} : { cqEntries: r.cqEntries }) };
          return cmd(`io_uring_setup(${show(r.entries)}, ${params ? `{flags ${r.flags}, cq ${show(r.cqEntries)}, ${r.version}}` : "NULL"})`, (_w, p) => ioUringSetup(p, r.entries, params));
        }),
  },
  {
    name: "io_uring_enter",
    errnos: ENTER_ERRNOS,
    command: (a) =>
      fc
        .record({
          fd: roleFd(a, 8, 1, 1),
          sqes: fc.array(sqeSpec(a), { maxLength: 3 }),
          toSubmit: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 3) }, { weight: 1, arbitrary: a.u32 }),
          minComplete: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 3) }, { weight: 1, arbitrary: a.u32 }),
          flags: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, IORING_ENTER_GETEVENTS, IORING_ENTER_SQ_WAKEUP, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, IORING_ENTER_REGISTERED_RING) }, { weight: 1, arbitrary: a.u32 }),
        })
        .map((r) =>
          cmd(`io_uring_enter(${r.fd}, ${r.sqes.map(showSqe).join(" ")}, submit ${r.toSubmit}, min ${r.minComplete}, flags ${r.flags})`, (_w, p) => {
            const fd = resolve(p, r.fd);
            queue(p, fd, r.sqes);
            return ioUringEnter(p, fd, r.toSubmit, r.minComplete, r.flags);
          }),
        ),
  },
  {
    // Not a syscall: the CQEs of what a process submits on its own ring, each checked as a return value.
    name: "io_uring CQEs (READ/WRITE, READ_FIXED/WRITE_FIXED)",
    errnos: CQE_ERRNOS,
    command: (a) =>
      fc.array(sqeSpec(a), { minLength: 1, maxLength: 3 }).map((sqes) =>
        cmd(`submit and wait ${sqes.map(showSqe).join(" ")}`, (_w, p) => {
          const fd = resolve(p, "ring");
          queue(p, fd, sqes);
          const r = ioUringEnter(p, fd, sqes.length, sqes.length, IORING_ENTER_GETEVENTS);
          if (r < 0) return r;
          const cqes = ioUringRings(p, fd)?.reapCqes() ?? [];
          const bad = cqes.find((c) => c.res < 0);
          return bad ? bad.res : cqes.length;
        }),
      ),
  },
  {
    name: "io_uring_register",
    errnos: REGISTER_ERRNOS,
    command: (a) => {
      type Req = { label: string; run(p: Task, fd: number): number };
      const reg = (label: string, opcode: number, arg: (p: Task) => Uint8Array | null, nrArgs: number): Req => ({ label, run: (p, fd) => ioUringRegister(p, fd, opcode, arg(p), nrArgs) });
      const nrArgs = (size: number) => fc.oneof({ weight: 6, arbitrary: fc.constant(size) }, { weight: 1, arbitrary: a.u32 });
      const buffers2 = fc
        .record({ nr: fc.oneof(fc.constantFrom(1, 4, 0, 16385), a.u32), flags: fc.oneof(fc.constantFrom(IORING_RSRC_REGISTER_SPARSE, 0), a.u32), resv2: fc.oneof({ weight: 6, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: a.u64 }), data: fc.oneof(fc.constant(0n as Addr), userAddr(a)), tags: fc.oneof({ weight: 3, arbitrary: fc.constant(0n as Addr) }, { weight: 1, arbitrary: userAddr(a) }), size: nrArgs(IO_URING_RSRC_REGISTER_SIZE) })
        .map((r) => reg(`BUFFERS2 {nr ${r.nr}, flags ${r.flags}, resv2 ${show(r.resv2)}, data ${showAddr(r.data)}, tags ${showAddr(r.tags)}} size ${r.size}`, IORING_REGISTER_BUFFERS2, (p) => rsrcRegister(r.nr, r.flags, r.resv2, addrOf(p, r.data), addrOf(p, r.tags)), r.size));
      const iovecs = fc
        .record({ iovs: fc.array(fc.record({ base: userAddr(a), len: fc.oneof(fc.constantFrom(0n, 0x200n, 0x1000n, 0x2000n), a.u64) }), { maxLength: 3 }), nr: rarely(a.u32), nullArg: fc.boolean() })
        .map((r) =>
          reg(
            `BUFFERS ${r.nullArg ? "NULL" : r.iovs.map((v) => `{${showAddr(v.base)}, ${show(v.len)}}`).join(" ")} nr ${show(r.nr ?? r.iovs.length)}`,
            IORING_REGISTER_BUFFERS,
            (p) => {
              if (r.nullArg) return null;
              const b = new Uint8Array(16 * r.iovs.length);
              const v = new DataView(b.buffer);
              r.iovs.forEach((iov, i) => {
                v.setBigUint64(16 * i, addrOf(p, iov.base), true);
                v.setBigUint64(16 * i + 8, iov.len, true);
              });
              return b;
            },
            r.nr ?? r.iovs.length,
          ),
        );
      // The series' path: descriptors in user memory, IORING_RSRC_UPDATE_EXTENDED.
      const update = fc
        .record({
          descs: fc.array(descSpec(a), { minLength: 1, maxLength: 3 }),
          offset: fc.oneof({ weight: 12, arbitrary: fc.nat(SPARSE_SLOTS - 1) }, { weight: 1, arbitrary: fc.constant(SPARSE_SLOTS) }, { weight: 1, arbitrary: a.u32 }),
          flags: fc.oneof({ weight: 12, arbitrary: fc.constant(IORING_RSRC_UPDATE_EXTENDED) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 3) }, { weight: 1, arbitrary: a.u32 }),
          data: fc.oneof({ weight: 12, arbitrary: fc.constant({ scratch: 0n } as Addr) }, { weight: 1, arbitrary: userAddr(a) }),
          tags: fc.oneof({ weight: 8, arbitrary: fc.constant(0n as Addr) }, { weight: 1, arbitrary: fc.constant({ scratch: TAGS_OFF } as Addr) }, { weight: 1, arbitrary: userAddr(a) }),
          tagValues: fc.array(fc.oneof(fc.constant(0n), a.u64), { minLength: 3, maxLength: 3 }),
          nr: fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.oneof(fc.constant(0), a.u32) }),
          resv2: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: a.u32 }),
          size: fc.oneof({ weight: 12, arbitrary: fc.constant(IO_URING_RSRC_UPDATE2_SIZE) }, { weight: 1, arbitrary: a.u32 }),
        })
        .map((r) => {
          const nr = r.nr ?? r.descs.length;
          const label = `BUFFERS_UPDATE {offset ${r.offset}, flags ${r.flags}, data ${showAddr(r.data)}, tags ${showAddr(r.tags)}, nr ${nr}, resv2 ${r.resv2}} size ${r.size}: ${r.descs.map((d) => `{type ${d.type}, flags ${d.flags}, size ${show(d.size)}, uaddr ${showAddr(d.uaddr)}, dmabuf ${d.dmabufFd}, target ${d.targetFd}, resv ${show(d.resv)}}`).join(" ")}`;
          return {
            label,
            run: (p: Task, fd: number) => {
              const scratch = FDS.get(p)?.scratch;
              if (scratch !== undefined) {
                const b = new Uint8Array(IO_URING_REGBUF_DESC_SIZE * r.descs.length);
                r.descs.forEach((d, i) => b.set(descBytes(p, d), i * IO_URING_REGBUF_DESC_SIZE));
                poke(p, scratch, b);
                const t = new Uint8Array(24);
                r.tagValues.forEach((v, i) => new DataView(t.buffer).setBigUint64(8 * i, v, true));
                poke(p, scratch + TAGS_OFF, t);
              }
              return ioUringRegister(p, fd, IORING_REGISTER_BUFFERS_UPDATE, rsrcUpdate2(r.offset, r.flags, addrOf(p, r.data), addrOf(p, r.tags), nr, r.resv2), r.size);
            },
          } satisfies Req;
        });
      const unregister = fc
        .record({ files: fc.boolean(), arg: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(8)) }), nr: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: a.u32 }) })
        .map((r) => reg(`UNREGISTER_${r.files ? "FILES" : "BUFFERS"}(${r.arg ? "arg" : "NULL"}, ${r.nr})`, r.files ? IORING_UNREGISTER_FILES : IORING_UNREGISTER_BUFFERS, () => r.arg, r.nr));
      const files = fc
        .record({ fds: fc.array(fc.oneof(roleFd(a, 1, 4, 2), fc.constant(-1 as Role)), { maxLength: 3 }), nr: rarely(fc.oneof(fc.constant(0), fc.constant(1 << 21), a.u32)), nullArg: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) })
        .map((r) =>
          reg(
            `FILES [${r.fds.join(", ")}] nr ${show(r.nr ?? r.fds.length)}${r.nullArg ? " NULL" : ""}`,
            IORING_REGISTER_FILES,
            (p) => {
              if (r.nullArg) return null;
              const b = new Uint8Array(4 * r.fds.length);
              r.fds.forEach((f, i) => new DataView(b.buffer).setInt32(4 * i, resolve(p, f), true));
              return b;
            },
            r.nr ?? r.fds.length,
          ),
        );
      const other = fc
        .record({ opcode: fc.oneof(fc.constantFrom(6, 13, 14, 17, 30, 35, 36, 37, 0x100, IORING_REGISTER_USE_REGISTERED_RING | IORING_REGISTER_BUFFERS2), a.u32), arg: fc.oneof(fc.constant(null), a.bytes), nr: a.u32 })
        .map((r) => reg(`opcode ${r.opcode} (${r.arg ? `${r.arg.length} bytes` : "NULL"}, ${r.nr})`, r.opcode, () => r.arg, r.nr));
      return fc
        .record({ fd: fc.oneof({ weight: 20, arbitrary: roleFd(a, 20, 1, 1) }, { weight: 1, arbitrary: fc.constant(-1 as Role) }), req: fc.oneof(update, update, update, buffers2, iovecs, unregister, files, other) })
        .map(({ fd, req }) => cmd(`io_uring_register(${fd}, ${req.label})`, (_w, p) => req.run(p, resolve(p, fd))));
    },
  },
  {
    name: "nvme block device (open, pread64/pwrite64, fcntl O_DIRECT)",
    // open: ENOENT/EMFILE; rw: EBADF (fd, mode), EINVAL (unaligned direct I/O, pos), ENOSPC (write past the end), ESPIPE/EFAULT
    // from the other kinds of fd the same calls reach; fcntl: EBADF, EINVAL.
    errnos: ["ENOENT", "EMFILE", "EBADF", "EINVAL", "ENOSPC", "ESPIPE", "EFAULT", "EAGAIN", "EIO", "ENXIO", "ENODEV"],
    command: (a) => {
      const open = fc.oneof(fc.constantFrom(O_RDWR | O_DIRECT, O_RDONLY | O_DIRECT, O_RDWR, O_WRONLY | O_DIRECT, O_RDWR | O_NONBLOCK), a.u32).map((flags) => ({ label: `open(/dev/nvme0n1, ${flags})`, run: (p: Task) => p.sys.open("/dev/nvme0n1", flags) }));
      const rw = fc.record({ fd: roleFd(a, 0, 8, 1), write: fc.boolean(), pos: fileOff(a), len: fc.oneof(fc.constantFrom(0, 1, 0x1ff, 0x200, 0x400, 0x1000), fc.nat(0x2000)) }).map((r) => ({
        label: `${r.write ? "pwrite" : "pread"}(${r.fd}, ${r.len}, ${show(r.pos)})`,
        run: (p: Task) => (r.write ? p.sys.pwrite(resolve(p, r.fd), new Uint8Array(r.len).fill(0x5a), r.pos) : p.sys.pread(resolve(p, r.fd), new Uint8Array(r.len), r.pos)),
      }));
      const setfl = fc.record({ fd: roleFd(a, 0, 8, 1), flags: fc.constantFrom(0, O_DIRECT, O_DIRECT | O_NONBLOCK) }).map((r) => ({ label: `fcntl(${r.fd}, F_SETFL, ${r.flags})`, run: (p: Task) => p.sys.fcntl(resolve(p, r.fd), F_SETFL, r.flags) }));
      return fc.oneof(rw, rw, rw, open, setfl).map((r) => cmd(r.label, (_w, p) => r.run(p)));
    },
  },
];
