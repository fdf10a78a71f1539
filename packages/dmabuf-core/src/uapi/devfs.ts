// /dev: character device nodes with their file_operations (fs/char_dev.c chrdev_open).
import { KernelError } from "../kernel/kernel-error.js";
import type { File, FileOperations } from "./file.js";

/** A character device node: its fops and an `open` that sets `private_data`. @public */
export interface DevNode {
  readonly fops: FileOperations;
  /** `fops->open`: runs before the fd is installed; throw to fail the open. */
  open?(file: File): void;
}

/** `/dev`: paths to device nodes. @public */
export class Devfs {
  readonly #nodes = new Map<string, DevNode>();

  /** Creates `/dev/<path>`; returns the function that removes it. `EEXIST` if taken. */
  register(path: string, node: DevNode): () => void {
    if (this.#nodes.has(path)) throw new KernelError("EEXIST", "device_create", path);
    this.#nodes.set(path, node);
    return () => {
      if (this.#nodes.get(path) === node) this.#nodes.delete(path);
    };
  }

  lookup(path: string): DevNode | undefined {
    return this.#nodes.get(path);
  }

  paths(): string[] {
    return [...this.#nodes.keys()].sort();
  }
}
