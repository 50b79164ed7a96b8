// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Parking permits (a vendor's contract, in Solidity)
/// @notice Parking officers of a department issue and revoke residents' permits;
///         anyone (an enforcement app) checks one. Only the plate's hash is kept.
interface Governance {
    function hasRole(address account, string calldata role) external view returns (bool);
}

contract ParkingPermits {
    Governance private constant GOVERNANCE = Governance(0x0000000000000000000000000000000000005002);

    struct Permit {
        address holder;
        bytes32 plateHash;
        uint64 validUntil;
        bool revoked;
    }

    string public officerRole;
    mapping(bytes32 => Permit) public permits;
    uint256 public issued;

    event PermitIssued(bytes32 indexed permit, address holder, uint64 validUntil);
    event PermitRevoked(bytes32 indexed permit, string reason);

    constructor(string memory department) {
        officerRole = string.concat(department, ".parking_officer");
    }

    modifier onlyOfficer() {
        require(GOVERNANCE.hasRole(msg.sender, officerRole), "only a parking officer");
        _;
    }

    function issue(bytes32 permit, address holder, bytes32 plateHash, uint64 days_) external onlyOfficer {
        require(permits[permit].holder == address(0), "permit id taken");
        uint64 until = uint64(block.timestamp) + days_ * 1 days;
        permits[permit] = Permit(holder, plateHash, until, false);
        issued += 1;
        emit PermitIssued(permit, holder, until);
    }

    function revoke(bytes32 permit, string calldata reason) external onlyOfficer {
        require(permits[permit].holder != address(0), "no such permit");
        permits[permit].revoked = true;
        emit PermitRevoked(permit, reason);
    }

    function isValid(bytes32 permit, bytes32 plateHash) external view returns (bool) {
        Permit storage p = permits[permit];
        return p.holder != address(0) && !p.revoked && p.plateHash == plateHash
            && block.timestamp < p.validUntil;
    }
}
