import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ServerReflectionRequest, ServerReflectionResponse } from '../generated/grpc/reflection/v1/reflection';
import { ServerReflectionService as ReflectionV1 } from '../generated/grpc/reflection/v1/reflection';
import { ServerReflectionService as ReflectionV1Alpha } from '../generated/grpc/reflection/v1alpha/reflection';
import type { DescriptorIndex } from './descriptor-index';

type ReflectionCall = ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>;
type Server = { addService(service: object, implementation: object): void };

/**
 * gRPC server reflection, v1 and v1alpha side by side (grpcurl tries v1 first, older clients
 * use v1alpha; the messages are identical). Answers come from the build's descriptor set.
 */
export class ReflectionService {
  constructor(
    private readonly index: DescriptorIndex,
    /** Services actually registered on the server (what list_services reports). */
    private readonly serviceNames: readonly string[],
  ) {}

  /** Registers both versions on `server`. */
  addToServer(server: Server): void {
    server.addService(ReflectionV1, { serverReflectionInfo: this.handle });
    server.addService(ReflectionV1Alpha, { serverReflectionInfo: this.handle });
  }

  private readonly handle = (call: ReflectionCall): void => {
    call.on('data', (request: ServerReflectionRequest) => {
      call.write({ validHost: request.host, originalRequest: request, messageResponse: this.answer(request) });
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  };

  private answer(request: ServerReflectionRequest): ServerReflectionResponse['messageResponse'] {
    const r = request.messageRequest;
    switch (r?.$case) {
      case 'listServices':
        return { $case: 'listServicesResponse', listServicesResponse: { service: this.serviceNames.map((name) => ({ name })) } };
      case 'fileByFilename':
        return this.files(r.fileByFilename, `file ${r.fileByFilename} not found`);
      case 'fileContainingSymbol': {
        const file = this.index.fileOfSymbol(r.fileContainingSymbol);
        return this.files(file, `symbol ${r.fileContainingSymbol} not found`);
      }
      case 'allExtensionNumbersOfType':
        // No extensions are defined; a known type answers with an empty list.
        if (this.index.hasSymbol(r.allExtensionNumbersOfType)) {
          return { $case: 'allExtensionNumbersResponse', allExtensionNumbersResponse: { baseTypeName: r.allExtensionNumbersOfType, extensionNumber: [] } };
        }
        return notFound(`type ${r.allExtensionNumbersOfType} not found`);
      case 'fileContainingExtension':
        return notFound('no extensions are defined');
      default:
        return { $case: 'errorResponse', errorResponse: { errorCode: status.INVALID_ARGUMENT, errorMessage: 'empty reflection request' } };
    }
  }

  private files(file: string | undefined, missing: string): ServerReflectionResponse['messageResponse'] {
    const files = file === undefined ? undefined : this.index.withDependencies(file);
    if (!files) return notFound(missing);
    return { $case: 'fileDescriptorResponse', fileDescriptorResponse: { fileDescriptorProto: files.map((b) => Buffer.from(b)) } };
  }
}

function notFound(message: string): ServerReflectionResponse['messageResponse'] {
  return { $case: 'errorResponse', errorResponse: { errorCode: status.NOT_FOUND, errorMessage: message } };
}
