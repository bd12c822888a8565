// Types for the parts of kafkajs's own protocol primitives the test broker reuses (kafkajs ships none for them).
declare module 'kafkajs/src/protocol/encoder.js' {
  export default class Encoder {
    constructor(initialSize?: number);
    readonly buffer: Buffer;
    writeInt8(value: number): this;
    writeInt16(value: number): this;
    writeInt32(value: number): this;
    writeInt64(value: number | bigint | string): this;
    writeBoolean(value: boolean): this;
    writeString(value: string | null): this;
    writeBytes(value: Buffer | null): this;
    writeBuffer(value: Buffer): this;
    writeEncoder(value: Encoder): this;
    writeArray(array: readonly (Encoder | number | string)[], type?: 'int32' | 'string' | 'object'): this;
    size(): number;
  }
}
declare module 'kafkajs/src/protocol/decoder.js' {
  export default class Decoder {
    constructor(buffer: Buffer);
    offset: number;
    readInt8(): number;
    readInt16(): number;
    readInt32(): number;
    readInt64(): { toString(): string };
    readBoolean(): boolean;
    readString(): string | null;
    readBytes(length?: number): Buffer;
    readArray<T>(reader: (decoder: Decoder) => T): T[];
    canReadInt32(): boolean;
  }
}
declare module 'kafkajs/src/protocol/recordBatch/crc32C/index.js' {
  /** CRC-32C of the bytes, unsigned. */
  export default function crc32C(buffer: Buffer): number;
}
