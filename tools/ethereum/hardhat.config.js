// Hardhat Network as a local Ethereum node for the corridor (scripts/install-ethereum).
// Nothing is compiled here: contracts/corridor/*.sol are compiled by the chain's pinned solc.
// The chain id is Hardhat's default; blocks are mined on each transaction (automine), and
// tests move time with evm_increaseTime / evm_mine.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
    },
  },
};
