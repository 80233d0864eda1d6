// A small first-fit allocator over a WebAssembly.Memory, run from TypeScript (the AssemblyScript
// module itself never allocates). Blocks are 64-byte aligned so f32x4 loads never straddle a
// cache line at a row start. Grows the memory on demand up to its maximum.

const ALIGN = 64;
const PAGE = 65536;
/** WebAssembly's 32-bit address space: 65536 pages. */
export const WASM_MAX_BYTES = 4 * 1024 * 1024 * 1024;

interface Block {
  start: number;
  size: number;
}

export class WasmHeap {
  /** free blocks sorted by start */
  private free: Block[] = [];
  private used = new Map<number, number>();
  private top: number;

  /** `base`: first byte the heap may hand out (below it: reserved). */
  constructor(
    readonly memory: WebAssembly.Memory,
    base = 1024,
    private readonly maxBytes = WASM_MAX_BYTES,
  ) {
    this.top = align(base);
  }

  /** bytes currently handed out */
  get allocated(): number {
    let s = 0;
    for (const v of this.used.values()) s += v;
    return s;
  }

  alloc(bytes: number): number {
    const size = align(Math.max(bytes, 1));
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b.size < size) continue;
      const ptr = b.start;
      if (b.size === size) this.free.splice(i, 1);
      else {
        b.start += size;
        b.size -= size;
      }
      this.used.set(ptr, size);
      return ptr;
    }
    const ptr = this.top;
    const end = ptr + size;
    if (end > this.maxBytes) {
      throw new RangeError(
        `WebAssembly memory exhausted: ${bytes} more bytes would pass the ${this.maxBytes}-byte cap`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch (e) {
        throw new RangeError(`could not grow WebAssembly memory by ${pages} pages: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
    this.top = end;
    this.used.set(ptr, size);
    return ptr;
  }

  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) return;
    this.used.delete(ptr);
    let i = 0;
    while (i < this.free.length && this.free[i].start < ptr) i++;
    this.free.splice(i, 0, { start: ptr, size });
    // coalesce with neighbours
    if (i + 1 < this.free.length && this.free[i].start + this.free[i].size === this.free[i + 1].start) {
      this.free[i].size += this.free[i + 1].size;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].start + this.free[i - 1].size === this.free[i].start) {
      this.free[i - 1].size += this.free[i].size;
      this.free.splice(i, 1);
    }
    // give the last block back to the bump pointer
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.top) {
      this.top = last.start;
      this.free.pop();
    }
  }
}

export function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
