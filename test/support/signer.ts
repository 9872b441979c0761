import { signerFromSeed, type Signer } from '../../functions/ledger/index.ts';

/** The test deployment key (RFC 8032's first test seed): seeds and test ledgers are signed by it. */
export const TEST_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
export const testSigner: Signer = signerFromSeed(TEST_SEED);
