// Hardhat Network as a local Ethereum node for the corridor (scripts/install-ethereum).
// Nothing is compiled here: contracts/corridor/*.sol are compiled by the chain's pinned solc.
// The chain id is Hardhat's default; a block is mined for each transaction (automine).
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      // Several blocks may share a second, so the chain's clock keeps to the wall clock
      // (else each block adds a second and the clock runs ahead of the other chain's).
      allowBlocksWithSameTimestamp: true,
    },
  },
};
