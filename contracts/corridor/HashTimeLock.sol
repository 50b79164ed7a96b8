// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Hash time lock for ERC-20 tokens: the foreign leg of an Urbis corridor
/// @notice The same lock as Urbis's `lock_htlc` (urbis/modules/payments): a SHA-256 hash
///         lock, claimable by the recipient with the preimage up to and including the
///         deadline, refundable to the sender after it. The deadline is block time
///         (`block.timestamp`, seconds), as the Urbis leg's is (`deadline_at_ms`), so both
///         chains measure the two deadlines alike. A preimage is 1 to 64 bytes on both
///         chains: a secret one chain accepts and the other refuses would let the party
///         who knows it claim one leg while the other leg could never be claimed.
interface IERC20 {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

contract HashTimeLock {
    enum Status {
        None,
        Locked,
        Claimed,
        Refunded
    }

    struct Lock {
        address sender;
        address recipient;
        IERC20 token;
        uint256 amount;
        bytes32 hashlock;
        uint64 deadline;
        Status status;
        bytes preimage;
    }

    uint256 private constant PREIMAGE_BYTES_MAX = 64;

    mapping(bytes32 => Lock) private locks;

    event Locked(
        bytes32 indexed id,
        address indexed sender,
        address indexed recipient,
        address token,
        uint256 amount,
        bytes32 hashlock,
        uint64 deadline
    );
    /// The preimage becomes public here: the counterparty uses it on the other chain.
    event Claimed(bytes32 indexed id, address indexed recipient, bytes preimage);
    event Refunded(bytes32 indexed id, address indexed sender);

    // The checks run in the Urbis HTLC's order, and each maps to its payments.* code.
    error LockExists(bytes32 id);
    error LockNotFound(bytes32 id);
    error LockClosed(bytes32 id, Status status);
    error NotParty(bytes32 id, address expected);
    error Expired(bytes32 id, uint64 deadline, uint256 blockTime);
    error NotExpired(bytes32 id, uint64 deadline, uint256 blockTime);
    error WrongPreimage(bytes32 id);
    error InvalidLock(string reason);
    error TokenTransferFailed(address token);

    /// Take `amount` of `token` from the sender (approved beforehand) for `recipient`.
    function lock(
        bytes32 id,
        address recipient,
        IERC20 token,
        uint256 amount,
        bytes32 hashlock,
        uint64 deadline
    ) external {
        if (amount == 0) revert InvalidLock("amount is zero");
        if (recipient == address(0) || recipient == msg.sender) {
            revert InvalidLock("the recipient must be another account");
        }
        if (deadline <= block.timestamp) revert InvalidLock("the deadline has passed");
        if (locks[id].status != Status.None) revert LockExists(id);
        locks[id] = Lock(msg.sender, recipient, token, amount, hashlock, deadline, Status.Locked, "");
        emit Locked(id, msg.sender, recipient, address(token), amount, hashlock, deadline);
        // A token that takes a fee or lies about the transfer would leave the lock short.
        uint256 before = token.balanceOf(address(this));
        if (!token.transferFrom(msg.sender, address(this), amount)) {
            revert TokenTransferFailed(address(token));
        }
        if (token.balanceOf(address(this)) != before + amount) {
            revert TokenTransferFailed(address(token));
        }
    }

    /// The recipient takes the tokens by revealing the preimage, up to the deadline.
    function claim(bytes32 id, bytes calldata preimage) external {
        Lock storage held = open(id);
        if (msg.sender != held.recipient) revert NotParty(id, held.recipient);
        if (block.timestamp > held.deadline) revert Expired(id, held.deadline, block.timestamp);
        if (
            preimage.length == 0 || preimage.length > PREIMAGE_BYTES_MAX
                || sha256(preimage) != held.hashlock
        ) revert WrongPreimage(id);
        held.status = Status.Claimed;
        held.preimage = preimage;
        emit Claimed(id, msg.sender, preimage);
        if (!held.token.transfer(held.recipient, held.amount)) {
            revert TokenTransferFailed(address(held.token));
        }
    }

    /// The sender takes the tokens back once the deadline has passed unclaimed.
    function refund(bytes32 id) external {
        Lock storage held = open(id);
        if (msg.sender != held.sender) revert NotParty(id, held.sender);
        if (block.timestamp <= held.deadline) revert NotExpired(id, held.deadline, block.timestamp);
        held.status = Status.Refunded;
        emit Refunded(id, msg.sender);
        if (!held.token.transfer(held.sender, held.amount)) {
            revert TokenTransferFailed(address(held.token));
        }
    }

    function getLock(bytes32 id) external view returns (Lock memory) {
        return locks[id];
    }

    function open(bytes32 id) private view returns (Lock storage held) {
        held = locks[id];
        if (held.status == Status.None) revert LockNotFound(id);
        if (held.status != Status.Locked) revert LockClosed(id, held.status);
    }
}
