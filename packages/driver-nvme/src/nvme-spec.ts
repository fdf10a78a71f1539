// include/linux/nvme.h: controller registers, opcodes, status codes and the 64-byte command / 16-byte completion layouts.

/** Controller register offsets in BAR0. @public */
export const NVME_REG_CAP = 0x0000;
/** @public */
export const NVME_REG_VS = 0x0008;
/** @public */
export const NVME_REG_CC = 0x0014;
/** @public */
export const NVME_REG_CSTS = 0x001c;
/** @public */
export const NVME_REG_AQA = 0x0024;
/** @public */
export const NVME_REG_ASQ = 0x0028;
/** @public */
export const NVME_REG_ACQ = 0x0030;
/** First doorbell: SQ y tail at 0x1000 + (2y) * stride, CQ y head at 0x1000 + (2y + 1) * stride. @public */
export const NVME_REG_DBS = 0x1000;

/** @public */
export const NVME_CC_ENABLE = 1 << 0;
/** @public */
export const NVME_CSTS_RDY = 1 << 0;
/** @public */
export const NVME_CSTS_CFS = 1 << 1;

/** `NVME_CTRL_PAGE_SIZE`. @public */
export const NVME_CTRL_PAGE_SIZE = 4096;
/** @public */
export const NVME_SQE_SIZE = 64;
/** @public */
export const NVME_CQE_SIZE = 16;

/** Admin opcodes. @public */
export const nvme_admin_delete_sq = 0x00;
/** @public */
export const nvme_admin_create_sq = 0x01;
/** @public */
export const nvme_admin_delete_cq = 0x04;
/** @public */
export const nvme_admin_create_cq = 0x05;
/** @public */
export const nvme_admin_identify = 0x06;
/** I/O opcodes. @public */
export const nvme_cmd_flush = 0x00;
/** @public */
export const nvme_cmd_write = 0x01;
/** @public */
export const nvme_cmd_read = 0x02;

/** `NVME_CMD_SGL_METABUF`-style PSDT field (flags bits 7:6): 0 = PRP, 1 = SGL. @public */
export const NVME_CMD_PSDT_SGL = 1 << 6;
/** SGL descriptor types (high nibble of byte 15). @public */
export const NVME_SGL_FMT_DATA_DESC = 0x00;
/** @public */
export const NVME_SGL_FMT_LAST_SEG_DESC = 0x03;

/** Status codes (bits 15:1 of the completion's status; phase in bit 0). @public */
export const NVME_SC_SUCCESS = 0x0;
/** @public */
export const NVME_SC_INVALID_OPCODE = 0x1;
/** @public */
export const NVME_SC_INVALID_FIELD = 0x2;
/** @public */
export const NVME_SC_DATA_XFER_ERROR = 0x4;
/** @public */
export const NVME_SC_INVALID_NS = 0xb;
/** @public */
export const NVME_SC_LBA_RANGE = 0x80;
/** @public */
export const NVME_SC_QID_INVALID = 0x101;
/** @public */
export const NVME_SC_QUEUE_SIZE = 0x102;

/** Identify CNS values. @public */
export const NVME_ID_CNS_NS = 0x00;
/** @public */
export const NVME_ID_CNS_CTRL = 0x01;

/** A submission queue entry as the fields the model uses (`struct nvme_common_command` / `nvme_rw_command`). @public */
export interface NvmeCommand {
  opcode: number;
  flags: number;
  commandId: number;
  nsid: number;
  /** PRP1 / PRP2, or the SGL descriptor in bytes 24..39. */
  prp1: bigint;
  prp2: bigint;
  cdw10: number;
  cdw11: number;
  cdw12: number;
}

/** @public */
export function encodeCommand(c: NvmeCommand): Uint8Array {
  const b = new Uint8Array(NVME_SQE_SIZE);
  const v = new DataView(b.buffer);
  v.setUint8(0, c.opcode);
  v.setUint8(1, c.flags);
  v.setUint16(2, c.commandId, true);
  v.setUint32(4, c.nsid, true);
  v.setBigUint64(24, c.prp1, true);
  v.setBigUint64(32, c.prp2, true);
  v.setUint32(40, c.cdw10 >>> 0, true);
  v.setUint32(44, c.cdw11 >>> 0, true);
  v.setUint32(48, c.cdw12 >>> 0, true);
  return b;
}

/** @public */
export function decodeCommand(b: Uint8Array): NvmeCommand {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    opcode: v.getUint8(0),
    flags: v.getUint8(1),
    commandId: v.getUint16(2, true),
    nsid: v.getUint32(4, true),
    prp1: v.getBigUint64(24, true),
    prp2: v.getBigUint64(32, true),
    cdw10: v.getUint32(40, true),
    cdw11: v.getUint32(44, true),
    cdw12: v.getUint32(48, true),
  };
}

/** `struct nvme_completion`: result, SQ head, SQ id, command id, status with the phase bit. @public */
export interface NvmeCompletion {
  result: number;
  sqHead: number;
  sqId: number;
  commandId: number;
  /** Status code (without the phase bit). */
  status: number;
  phase: number;
}

/** @public */
export function encodeCompletion(c: NvmeCompletion): Uint8Array {
  const b = new Uint8Array(NVME_CQE_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, c.result >>> 0, true);
  v.setUint16(8, c.sqHead, true);
  v.setUint16(10, c.sqId, true);
  v.setUint16(12, c.commandId, true);
  v.setUint16(14, ((c.status << 1) | c.phase) & 0xffff, true);
  return b;
}

/** @public */
export function decodeCompletion(b: Uint8Array): NvmeCompletion {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const st = v.getUint16(14, true);
  return { result: v.getUint32(0, true), sqHead: v.getUint16(8, true), sqId: v.getUint16(10, true), commandId: v.getUint16(12, true), status: st >> 1, phase: st & 1 };
}

/** An SGL descriptor (16 bytes): address, length, type in the high nibble of byte 15. @public */
export function encodeSglDesc(addr: bigint, len: number, type: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, addr, true);
  v.setUint32(8, len >>> 0, true);
  v.setUint8(15, type << 4);
  return b;
}
