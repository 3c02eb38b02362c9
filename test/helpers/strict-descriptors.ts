import { createFileRegistry } from '@bufbuild/protobuf';
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, type DescriptorProto, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

/**
 * Checks descriptors the way Go's protodesc.NewFiles (grpcurl) does, as far as the defects of
 * proto-loader-based reflection go: every import present and every type resolvable
 * (createFileRegistry throws otherwise), and map fields backed by a nested `<Field>Entry`
 * message marked map_entry. Returns the problems found (empty = a Go client can use them).
 */
export function strictDescriptorProblems(files: FileDescriptorProto[]): string[] {
  const problems: string[] = [];
  try {
    createFileRegistry({ $typeName: 'google.protobuf.FileDescriptorSet', file: files });
  } catch (err) {
    problems.push((err as Error).message);
  }
  const visit = (scope: string, message: DescriptorProto): void => {
    const name = `${scope}.${message.name}`;
    for (const field of message.field) {
      if (field.label !== FieldDescriptorProto_Label.REPEATED || field.type !== FieldDescriptorProto_Type.MESSAGE) continue;
      const nested = message.nestedType.find((n) => `${name}.${n.name}` === field.typeName.replace(/^\./, ''));
      if (!nested?.options?.mapEntry) continue;
      const expected = `${camel(field.name)}Entry`;
      if (nested.name !== expected) problems.push(`incorrect implicit map entry name ${name}.${nested.name}, want ${expected}`);
    }
    for (const nested of message.nestedType) visit(name, nested);
  };
  for (const file of files) for (const message of file.messageType) visit(file.package, message);
  return problems;
}

/** protoc's map entry naming: `labels` -> `Labels`, `foo_bar` -> `FooBar`. */
function camel(field: string): string {
  return field.replace(/(^|_)([a-z0-9])/g, (_m, _u, c: string) => c.toUpperCase());
}
