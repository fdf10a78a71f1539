// io_uring/register.c: io_uring_register() for the buffer and file tables.
import { KernelError, copyFromUser, type Task, type UserArg } from "@dmabuf-sdk/dmabuf-core";
import { ioRingFromFd, sysCall } from "./io-uring.js";
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
} from "./io-uring-uapi.js";
import {
  copyFromUserPtr,
  ioDescFromIovec,
  ioSqeBuffersRegister,
  ioSqeBuffersUnregister,
  ioSqeBuffersUpdate,
  ioSqeFilesRegister,
  ioSqeFilesUnregister,
  type IoUringRegbufDesc,
} from "./rsrc.js";

/**
 * `io_uring_register(fd, opcode, arg, nr_args)`: 0 or a count, or -errno.
 * `arg` is the user struct (or array) the opcode reads; pointers inside it
 * (`data`, `tags`) are user addresses in `task`'s memory.
 * - `IORING_REGISTER_BUFFERS`: `arg` = `nr_args` iovecs;
 * - `IORING_REGISTER_BUFFERS2`: `arg` = `io_uring_rsrc_register`, `nr_args` its size;
 *   `IORING_RSRC_REGISTER_SPARSE` makes `nr` empty slots;
 * - `IORING_REGISTER_BUFFERS_UPDATE`: `arg` = `io_uring_rsrc_update2`, `nr_args` its size;
 *   returns the entries updated;
 * - `IORING_UNREGISTER_BUFFERS` / `IORING_UNREGISTER_FILES`: `arg` NULL, `nr_args` 0;
 * - `IORING_REGISTER_FILES`: `arg` = `nr_args` s32 fds (-1 = empty).
 * Unknown opcodes are `EINVAL`.
 */
export function ioUringRegister(task: Task, fd: number, opcode: number, arg: UserArg, nrArgs: number): number {
  return sysCall(task, "io_uring_register", () => {
    const { ctx, file } = ioRingFromFd(task, fd);
    try {
      switch (opcode) {
        case IORING_REGISTER_BUFFERS: {
          if (nrArgs <= 0) throw new KernelError("EINVAL", "io_uring_register", "nr_args");
          const descs: IoUringRegbufDesc[] = [];
          for (let i = 0; i < nrArgs; i++) {
            const v = copyFromUser(arg, i * IOVEC_SIZE, IOVEC_SIZE, "io_uring_register");
            descs.push(ioDescFromIovec(v.getBigUint64(0, true), v.getBigUint64(8, true)));
          }
          ioSqeBuffersRegister(ctx, descs, nrArgs);
          return 0;
        }
        case IORING_REGISTER_BUFFERS2: {
          if (nrArgs !== IO_URING_RSRC_REGISTER_SIZE) throw new KernelError("EINVAL", "io_uring_register", "size");
          const v = copyFromUser(arg, 0, IO_URING_RSRC_REGISTER_SIZE, "io_uring_register");
          const nr = v.getUint32(0, true);
          const flags = v.getUint32(4, true);
          const resv2 = v.getBigUint64(8, true);
          const data = v.getBigUint64(16, true);
          if (resv2 || flags & ~IORING_RSRC_REGISTER_SPARSE) throw new KernelError("EINVAL", "io_uring_register", "flags/resv2");
          if (flags & IORING_RSRC_REGISTER_SPARSE) {
            if (data) throw new KernelError("EINVAL", "io_uring_register", "sparse with data");
            ioSqeBuffersRegister(ctx, null, nr);
            return 0;
          }
          const descs: IoUringRegbufDesc[] = [];
          for (let i = 0; i < nr; i++) {
            const iov = new DataView(copyFromUserPtr(task, data + BigInt(i * IOVEC_SIZE), IOVEC_SIZE, "io_uring_register").buffer);
            descs.push(ioDescFromIovec(iov.getBigUint64(0, true), iov.getBigUint64(8, true)));
          }
          ioSqeBuffersRegister(ctx, descs, nr);
          return 0;
        }
        case IORING_REGISTER_BUFFERS_UPDATE: {
          if (nrArgs !== IO_URING_RSRC_UPDATE2_SIZE) throw new KernelError("EINVAL", "io_uring_register", "size");
          const v = copyFromUser(arg, 0, IO_URING_RSRC_UPDATE2_SIZE, "io_uring_register");
          const up = { offset: v.getUint32(0, true), flags: v.getUint32(4, true), data: v.getBigUint64(8, true), tags: v.getBigUint64(16, true), nr: v.getUint32(24, true) };
          // The old `resv != 0` check is gone: that field is now `flags`.
          if (up.nr === 0 || v.getUint32(28, true) !== 0) throw new KernelError("EINVAL", "io_register_rsrc_update", "nr/resv2");
          return ioSqeBuffersUpdate(ctx, up);
        }
        case IORING_UNREGISTER_BUFFERS:
          if (arg !== null || nrArgs) throw new KernelError("EINVAL", "io_uring_register", "arg");
          ioSqeBuffersUnregister(ctx);
          return 0;
        case IORING_REGISTER_FILES: {
          if (nrArgs <= 0) throw new KernelError("EINVAL", "io_uring_register", "nr_args");
          const v = copyFromUser(arg, 0, nrArgs * 4, "io_uring_register");
          ioSqeFilesRegister(ctx, Array.from({ length: nrArgs }, (_, i) => v.getInt32(i * 4, true)));
          return 0;
        }
        case IORING_UNREGISTER_FILES:
          if (arg !== null || nrArgs) throw new KernelError("EINVAL", "io_uring_register", "arg");
          ioSqeFilesUnregister(ctx);
          return 0;
        default:
          throw new KernelError("EINVAL", "io_uring_register", `opcode ${opcode}`);
      }
    } finally {
      file.put();
    }
  });
}
