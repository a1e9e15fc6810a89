/**
 * Minimal typings for the two CommonJS packages that supply MD4 and DES (Node 20's OpenSSL only offers
 * them behind --openssl-legacy-provider). Only what legacy.ts uses is declared.
 */
declare module 'js-md4' {
  interface Md4 {
    /** Pure-JS digest. (Calling the module itself goes through node:crypto's md4, which Node 20 refuses.) */
    arrayBuffer(message: Uint8Array): ArrayBuffer;
  }
  const md4: Md4;
  export = md4;
}

declare module 'des.js' {
  interface BlockCipher {
    update(data: Uint8Array): number[];
  }
  interface DesFactory {
    create(options: { type: 'encrypt' | 'decrypt'; key: Uint8Array; padding?: boolean }): BlockCipher;
  }
  const desjs: { readonly DES: DesFactory };
  export = desjs;
}
