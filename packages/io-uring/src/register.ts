// io_uring/register.c: io_uring_register() for the buffer and file tables.
import { KernelError, copyFromUser, type Task, type UserArg } from "@dmabuf-sdk/dmabuf-core";
import { asU32, ioRegisteredRing, ioRingFromFd, isU32, sysCall } from "./io-uring.js";
import {
  IO_URING_RSRC_REGISTER_SIZE,
  IO_URING_RSRC_UPDATE2_SIZE,
  IOVEC_SIZE,
  IORING_REGISTER_BUFFERS,
  IORING_REGISTER_BUFFERS2,
  IORING_REGISTER_BUFFERS_UPDATE,
  IORING_REGISTER_FILES,
  IORING_RSRC_REGISTER_SPARSE,
  IORING_UNREGISTER_BUFFERS,
  IORING_UNREGISTER_FILES,
  IORING_REGISTER_LAST,
  IORING_REGISTER_USE_REGISTERED_RING,
  IORING_SETUP_SINGLE_ISSUER,
} from "./io-uring-uapi.js";
import {
  copyFromUserPtr,
  ioDescFromIovec,
  ioSqeBuffersRegister,
  ioSqeBuffersUnregister,
  ioSqeBuffersUpdate,
  ioSqeFilesRegister,
  ioSqeFilesUnregister,
} from "./rsrc.js";

/**
 * `io_uring_register(fd, opcode, arg, nr_args)`: 0 or a count, or -errno.
 * `arg` is the user struct (or array) the opcode reads; pointers inside it
 * (`data`, `tags`) are user addresses in the caller's memory.
 * - `IORING_REGISTER_BUFFERS`: `arg` = `nr_args` iovecs;
 * - `IORING_REGISTER_BUFFERS2`: `arg` = `io_uring_rsrc_register`, `nr_args` its size;
 *   `IORING_RSRC_REGISTER_SPARSE` (or `data` 0) makes `nr` empty slots;
 * - `IORING_REGISTER_BUFFERS_UPDATE`: `arg` = `io_uring_rsrc_update2`, `nr_args` its size;
 *   returns the entries updated;
 * - `IORING_UNREGISTER_BUFFERS` / `IORING_UNREGISTER_FILES`: `arg` NULL, `nr_args` 0;
 * - `IORING_REGISTER_FILES`: `arg` = `nr_args` s32 fds (-1 = empty).
 * The kernel's order: `EINVAL` for an opcode at or past `IORING_REGISTER_LAST`,
 * then for fd -1 (no blind opcode is modelled), a registered-ring index as
 * `ioRegisteredRing()`, `EBADF`, `EOPNOTSUPP` for a file that is not a ring, `EEXIST` when a task
 * other than a `SINGLE_ISSUER` ring's submitter calls, then the opcode's own
 * checks. Opcodes the model does not implement are `EINVAL`, as unknown ones.
 * @public
 */
export function ioUringRegister(task: Task, fd: number, op: number, arg: UserArg, nrArgs: number): number {
  return sysCall(task, "io_uring_register", () => {
    const raw = asU32(op);
    if (raw === null || (raw & ~IORING_REGISTER_USE_REGISTERED_RING) >>> 0 >= IORING_REGISTER_LAST) throw new KernelError("EINVAL", "io_uring_register", `opcode ${op}`);
    const opcode = (raw & ~IORING_REGISTER_USE_REGISTERED_RING) >>> 0;
    // io_uring_register_blind(): SEND_MSG_RING, QUERY, RESTRICTIONS, BPF_FILTER are not modelled.
    if (fd === -1) throw new KernelError("EINVAL", "io_uring_register_blind", `opcode ${opcode}`);
    if (raw & IORING_REGISTER_USE_REGISTERED_RING) ioRegisteredRing(task, fd, "io_uring_register_get_file");
    const { ctx, file } = ioRingFromFd(task, fd);
    try {
      if (ctx.dead) throw new KernelError("ENXIO", "__io_uring_register", "ring is going away");
      if (ctx.flags & IORING_SETUP_SINGLE_ISSUER && ctx.task !== task) throw new KernelError("EEXIST", "__io_uring_register", "not the submitter task");
      const nr = isU32(nrArgs) ? nrArgs : -1;
      switch (opcode) {
        case IORING_REGISTER_BUFFERS: {
          if (arg === null) throw new KernelError("EFAULT", "io_uring_register", "arg is NULL");
          ioSqeBuffersRegister(ctx, nr, (i) => {
            const v = copyFromUser(arg, i * IOVEC_SIZE, IOVEC_SIZE, "io_uring_register");
            return ioDescFromIovec(v.getBigUint64(0, true), v.getBigUint64(8, true));
          }, 0n);
          return 0;
        }
        case IORING_REGISTER_BUFFERS2: {
          // io_register_rsrc()
          if (nr !== IO_URING_RSRC_REGISTER_SIZE) throw new KernelError("EINVAL", "io_register_rsrc", "size");
          const v = copyFromUser(arg, 0, IO_URING_RSRC_REGISTER_SIZE, "io_register_rsrc");
          const count = v.getUint32(0, true);
          const flags = v.getUint32(4, true);
          const resv2 = v.getBigUint64(8, true);
          const data = v.getBigUint64(16, true);
          const tags = v.getBigUint64(24, true);
          if (!count || resv2) throw new KernelError("EINVAL", "io_register_rsrc", "nr/resv2");
          if (flags & ~IORING_RSRC_REGISTER_SPARSE) throw new KernelError("EINVAL", "io_register_rsrc", `flags ${flags}`);
          if (flags & IORING_RSRC_REGISTER_SPARSE && data) throw new KernelError("EINVAL", "io_register_rsrc", "sparse with data");
          // A NULL `data` registers empty slots, with or without the flag.
          const desc = data
            ? (i: number) => {
                const iov = new DataView(copyFromUserPtr(task, data + BigInt(i * IOVEC_SIZE), IOVEC_SIZE, "io_sqe_buffers_register").buffer);
                return ioDescFromIovec(iov.getBigUint64(0, true), iov.getBigUint64(8, true));
              }
            : null;
          ioSqeBuffersRegister(ctx, count, desc, tags);
          return 0;
        }
        case IORING_REGISTER_BUFFERS_UPDATE: {
          // io_register_rsrc_update()
          if (nr !== IO_URING_RSRC_UPDATE2_SIZE) throw new KernelError("EINVAL", "io_register_rsrc_update", "size");
          const v = copyFromUser(arg, 0, IO_URING_RSRC_UPDATE2_SIZE, "io_register_rsrc_update");
          const up = { offset: v.getUint32(0, true), flags: v.getUint32(4, true), data: v.getBigUint64(8, true), tags: v.getBigUint64(16, true), nr: v.getUint32(24, true) };
          // The old `resv != 0` check is gone: that field is now `flags`.
          if (up.nr === 0 || v.getUint32(28, true) !== 0) throw new KernelError("EINVAL", "io_register_rsrc_update", "nr/resv2");
          // __io_register_rsrc_update(): offset + nr must not wrap a u32.
          if (up.offset + up.nr > 0xffff_ffff) throw new KernelError("EOVERFLOW", "__io_register_rsrc_update", "offset + nr");
          return ioSqeBuffersUpdate(ctx, up);
        }
        case IORING_UNREGISTER_BUFFERS:
          if (arg !== null || nrArgs) throw new KernelError("EINVAL", "io_uring_register", "arg");
          ioSqeBuffersUnregister(ctx);
          return 0;
        case IORING_REGISTER_FILES: {
          if (arg === null) throw new KernelError("EFAULT", "io_uring_register", "arg is NULL");
          ioSqeFilesRegister(ctx, nr, (i) => copyFromUser(arg, i * 4, 4, "io_sqe_files_register").getInt32(0, true));
          return 0;
        }
        case IORING_UNREGISTER_FILES:
          if (arg !== null || nrArgs) throw new KernelError("EINVAL", "io_uring_register", "arg");
          ioSqeFilesUnregister(ctx);
          return 0;
        default:
          throw new KernelError("EINVAL", "__io_uring_register", `opcode ${opcode} is not modelled`);
      }
    } finally {
      file.put();
    }
  });
}
