import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clone, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { credentials } from '@grpc/grpc-js';
import { ServerReflectionClient as V1Client, type ServerReflectionRequest, type ServerReflectionResponse } from '../../src/generated/grpc/reflection/v1/reflection';
import { ServerReflectionClient as V1AlphaClient } from '../../src/generated/grpc/reflection/v1alpha/reflection';
import { useOrchestrator } from '../helpers/in-process';
import { strictDescriptorProblems } from '../helpers/strict-descriptors';

type AnyClient = InstanceType<typeof V1Client>;

/** One reflection request on a fresh stream (as grpcurl does per lookup). */
function ask(client: AnyClient, messageRequest: ServerReflectionRequest['messageRequest']): Promise<ServerReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = client.serverReflectionInfo();
    call.on('data', (r: ServerReflectionResponse) => {
      resolve(r);
      call.end();
    });
    call.on('error', reject);
    call.write({ host: '', messageRequest });
  });
}

async function filesFor(client: AnyClient, symbol: string): Promise<FileDescriptorProto[]> {
  const r = await ask(client, { $case: 'fileContainingSymbol', fileContainingSymbol: symbol });
  if (r.messageResponse?.$case !== 'fileDescriptorResponse') throw new Error(`no descriptors for ${symbol}: ${JSON.stringify(r.messageResponse)}`);
  return r.messageResponse.fileDescriptorResponse.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
}

describe('server reflection serves the build\'s descriptors, strict enough for grpcurl', () => {
  const fx = useOrchestrator();

  it.each([['v1', V1Client], ['v1alpha', V1AlphaClient]] as const)('%s: lists services and resolves every descriptor with dependencies', async (_v, Client) => {
    const client = new Client(`127.0.0.1:${fx.port}`, credentials.createInsecure()) as unknown as AnyClient;
    const listed = await ask(client, { $case: 'listServices', listServices: '' });
    expect(listed.messageResponse?.$case === 'listServicesResponse' && listed.messageResponse.listServicesResponse.service.map((s) => s.name).sort()).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'nexus.prime.NexusPulseService',
    ]);

    for (const symbol of ['nexus.prime.NexusPulseService', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'nexus.prime.Hello', 'nexus.prime.NexusPulseService.GetSystemStatus']) {
      const files = await filesFor(client, symbol);
      expect(strictDescriptorProblems(files)).toEqual([]);
    }

    const [pulse] = await filesFor(client, 'nexus.prime.NexusPulseService');
    const registry = createFileRegistry({ $typeName: 'google.protobuf.FileDescriptorSet', file: [pulse] });
    const service = registry.getService('nexus.prime.NexusPulseService');
    expect(service?.methods.map((m) => m.name)).toEqual([
      'Pulse', 'GetSystemStatus', 'GetCommand', 'SubmitCommand', 'ListCommands', 'WatchCommand', 'WatchEvents',
      'ListDeadLetters', 'RedriveDeadLetters', 'PurgeDeadLetters', 'CancelCommands',
    ]);
    expect(service?.methods[0].methodKind).toBe('bidi_streaming');
    expect(service?.methods.find((m) => m.name === 'WatchCommand')?.methodKind).toBe('server_streaming');
    // Map fields keep their spec name (<Field>Entry), the defect of proto-loader-based reflection.
    const hello = pulse.messageType.find((m) => m.name === 'Hello');
    expect(hello?.nestedType.map((n) => [n.name, n.options?.mapEntry])).toEqual([['LabelsEntry', true]]);
    expect(registry.getMessage('nexus.prime.Hello')?.field.labels.fieldKind).toBe('map');

    const missing = await ask(client, { $case: 'fileContainingSymbol', fileContainingSymbol: 'nexus.prime.Nope' });
    expect(missing.messageResponse).toMatchObject({ $case: 'errorResponse', errorResponse: { errorCode: 5 } });
    client.close();
  });

  it('the strict check rejects what proto-loader-based reflection serves (renamed map entry, missing import)', async () => {
    const client = new V1Client(`127.0.0.1:${fx.port}`, credentials.createInsecure());
    const files = await filesFor(client, 'nexus.prime.Hello');
    const renamed = files.map((f) => clone(FileDescriptorProtoSchema, f));
    const hello = renamed[0].messageType.find((m) => m.name === 'Hello')!;
    hello.nestedType[0].name = 'Labels';
    hello.field.find((f) => f.name === 'labels')!.typeName = '.nexus.prime.Hello.Labels';
    expect(strictDescriptorProblems(renamed)).toEqual([expect.stringMatching(/incorrect implicit map entry name nexus.prime.Hello.Labels/)]);
    const orphan = files.map((f) => clone(FileDescriptorProtoSchema, f));
    orphan[0].dependency.push('google/protobuf/empty.proto');
    expect(strictDescriptorProblems(orphan)).toEqual([expect.stringMatching(/Cannot find google\/protobuf\/empty.proto/)]);
    client.close();
  });

  it('serves the exact bytes buf build produced', async () => {
    const client = new V1Client(`127.0.0.1:${fx.port}`, credentials.createInsecure());
    const r = await ask(client, { $case: 'fileByFilename', fileByFilename: 'grpc/health/v1/health.proto' });
    const served = r.messageResponse?.$case === 'fileDescriptorResponse' ? r.messageResponse.fileDescriptorResponse.fileDescriptorProto[0] : undefined;
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(join(__dirname, '../../src/generated/descriptors.binpb')));
    const built = set.file.find((f) => f.name === 'grpc/health/v1/health.proto');
    expect(served && fromBinary(FileDescriptorProtoSchema, served)).toEqual(built);
    client.close();
  });
});
