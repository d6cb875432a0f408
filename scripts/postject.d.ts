/** Types for postject's JS API (the package ships none); only what build-binary.ts uses. */
declare module 'postject' {
  interface InjectOptions {
    /** The fuse string the target checks; node's SEA uses NODE_SEA_FUSE_<hash>. */
    sentinelFuse?: string;
    machoSegmentName?: string;
    overwrite?: boolean;
  }
  const postject: {
    /** Adds `resourceData` to the executable `filename` as resource/section/note `resourceName`, flipping the fuse. */
    inject(filename: string, resourceName: string, resourceData: Buffer, options?: InjectOptions): Promise<void>;
  };
  export default postject;
}
