import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorProtoSchema, type DescriptorProto, type EnumDescriptorProto } from '@bufbuild/protobuf/wkt';

/** The descriptor set `buf build` produced for proto/ (copied next to the compiled code). */
export const DESCRIPTOR_SET_PATH = join(__dirname, '..', 'generated', 'descriptors.binpb');

/**
 * The build's own FileDescriptorProtos, kept as the exact bytes `buf build` wrote, indexed by
 * file name and by every symbol they define. Serving these bytes verbatim (with their real
 * dependency lists and `...Entry` map types) is what lets grpcurl and other Go clients resolve
 * them; proto-loader-derived descriptors do not (grpc/grpc-node#3034).
 */
export class DescriptorIndex {
  private readonly bytesByFile = new Map<string, Uint8Array>();
  private readonly depsByFile = new Map<string, string[]>();
  private readonly fileBySymbol = new Map<string, string>();

  constructor(descriptorSet: Uint8Array) {
    for (const bytes of splitFiles(descriptorSet)) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      this.bytesByFile.set(file.name, bytes);
      this.depsByFile.set(file.name, file.dependency);
      const pkg = file.package ? `${file.package}.` : '';
      for (const service of file.service) {
        const name = pkg + service.name;
        this.fileBySymbol.set(name, file.name);
        for (const method of service.method) this.fileBySymbol.set(`${name}.${method.name}`, file.name);
      }
      for (const message of file.messageType) this.indexMessage(pkg + message.name, message, file.name);
      for (const e of file.enumType) this.indexEnum(pkg + e.name, e, file.name);
    }
  }

  /** Loads the set produced by the build. */
  static load(path = DESCRIPTOR_SET_PATH): DescriptorIndex {
    return new DescriptorIndex(readFileSync(path));
  }

  /** The file defining `symbol`, or undefined. */
  fileOfSymbol(symbol: string): string | undefined {
    return this.fileBySymbol.get(symbol.replace(/^\./, ''));
  }

  /** Whether `typeName` is a message type defined in the set. */
  hasSymbol(symbol: string): boolean {
    return this.fileBySymbol.has(symbol);
  }

  /** `file` followed by all its transitive dependencies, as serialized descriptors. */
  withDependencies(file: string): Uint8Array[] | undefined {
    if (!this.bytesByFile.has(file)) return undefined;
    const order: string[] = [];
    const visit = (name: string): void => {
      if (order.includes(name)) return;
      order.push(name);
      for (const dep of this.depsByFile.get(name) ?? []) visit(dep);
    };
    visit(file);
    return order.map((name) => this.bytesByFile.get(name)).filter((b): b is Uint8Array => b !== undefined);
  }

  private indexMessage(name: string, message: DescriptorProto, file: string): void {
    this.fileBySymbol.set(name, file);
    for (const field of message.field) this.fileBySymbol.set(`${name}.${field.name}`, file);
    for (const nested of message.nestedType) this.indexMessage(`${name}.${nested.name}`, nested, file);
    for (const e of message.enumType) this.indexEnum(`${name}.${e.name}`, e, file);
  }

  private indexEnum(name: string, e: EnumDescriptorProto, file: string): void {
    this.fileBySymbol.set(name, file);
  }
}

/** Splits a FileDescriptorSet (field 1: repeated FileDescriptorProto) into the files' bytes. */
function splitFiles(set: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(set);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}
