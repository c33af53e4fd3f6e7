/**
 * The part of dockerode's API the Docker handler uses, typed here so that the library's type
 * graph does not pull in `@types/dockerode` (and with it an old `@types/node`).
 *
 * @module
 */

/** Settings of a new container (a subset of the Docker API's `ContainerCreate` body). */
export interface ContainerSpec {
  Image: string;
  Cmd: string[];
  Env: string[];
  User: string;
  WorkingDir: string;
  Labels: Record<string, string>;
  AttachStdin: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  HostConfig: {
    Binds: string[];
    NetworkMode: string;
    CapDrop: string[];
    SecurityOpt: string[];
    ReadonlyRootfs: boolean;
    Tmpfs?: Record<string, string>;
    PidsLimit: number;
    LogConfig: { Type: string; Config: Record<string, string> };
    Memory?: number;
    MemorySwap?: number;
    NanoCpus?: number;
  };
}

/** A container handle. */
export interface DockerContainer {
  /** Container id. */
  readonly id: string;
  /** Starts it. */
  start(): Promise<unknown>;
  /** Waits until it stops. */
  wait(): Promise<{ StatusCode: number }>;
  /** Its state. */
  inspect(): Promise<{ State: { ExitCode: number; OOMKilled?: boolean } }>;
  /** Removes it (`force` kills it first). */
  remove(options?: { force?: boolean }): Promise<unknown>;
}

/** A dockerode client. */
export interface DockerClient {
  /** `GET /_ping`. */
  ping(): Promise<unknown>;
  /** `POST /containers/create`. */
  createContainer(spec: ContainerSpec): Promise<DockerContainer>;
  /** A handle on an existing container. */
  getContainer(id: string): DockerContainer;
  /** A handle on an image. */
  getImage(name: string): { inspect(): Promise<unknown> };
  /** `GET /containers/json`. */
  listContainers(options: {
    all?: boolean;
    filters?: Record<string, string[]>;
  }): Promise<{ Id: string; Labels?: Record<string, string> }[]>;
  /** `POST /images/create` (a progress stream). */
  pull(image: string): Promise<unknown>;
  /** The HTTP layer (docker-modem). */
  modem: {
    dial(
      options: Record<string, unknown>,
      callback: (error: unknown, result: unknown) => void,
    ): void;
    followProgress(
      stream: unknown,
      done: (error: Error | null, events: { error?: string }[]) => void,
    ): void;
  };
}

/** dockerode's default export. */
export type DockerConstructor = new (options?: { socketPath?: string }) => DockerClient;
