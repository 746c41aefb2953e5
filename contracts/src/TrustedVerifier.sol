// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IFaultVerifier} from "./interfaces/IFaultVerifier.sol";

/// @title TrustedVerifier
/// @notice A verifier contract for services without an on-chain proof: an owner-managed committee of
/// voters re-checks the disputed segment off chain and votes. The first side to reach `quorum` votes
/// decides, and this contract submits the verdict to the FaultVerifier. Choose a quorum above half the
/// voters so that only one side can reach it.
contract TrustedVerifier is Ownable {
    /// @notice A zero address was given where an address is required.
    error ZeroAddress();
    /// @notice The caller is not a voter.
    error NotVoter(address caller);
    /// @notice The address is already a voter.
    error AlreadyVoter(address voter);
    /// @notice The quorum is zero or above the number of voters.
    error InvalidQuorum(uint256 quorum, uint256 voters);
    /// @notice The voter already voted on this challenge.
    error AlreadyVoted(bytes32 challengeId, address voter);
    /// @notice The challenge is not pending or not assigned to this verifier.
    error NotAssigned(bytes32 challengeId);

    /// @notice `voter` may vote.
    event VoterAdded(address indexed voter);
    /// @notice `voter` may no longer vote.
    event VoterRemoved(address indexed voter);
    /// @notice Votes needed for a verdict.
    event QuorumSet(uint256 quorum);
    /// @notice `voter` voted on `challengeId`.
    event VoteCast(bytes32 indexed challengeId, address indexed voter, bool guilty);
    /// @notice The verdict on `challengeId` was submitted to the FaultVerifier.
    event VerdictSubmitted(bytes32 indexed challengeId, bool guilty);

    struct Tally {
        uint32 guilty;
        uint32 innocent;
        bool decided;
    }

    /// @notice The FaultVerifier this contract judges for.
    IFaultVerifier public immutable faultVerifier;
    /// @notice Whether an address may vote.
    mapping(address => bool) public isVoter;
    /// @notice Number of voters.
    uint256 public voterCount;
    /// @notice Votes needed for a verdict.
    uint256 public quorum;

    mapping(bytes32 => Tally) private _tallies;
    mapping(bytes32 => mapping(address => bool)) private _voted;

    /// @param faultVerifier_ The FaultVerifier.
    /// @param voters Initial voters.
    /// @param quorum_ Votes needed for a verdict, between 1 and the number of voters.
    constructor(IFaultVerifier faultVerifier_, address[] memory voters, uint256 quorum_) Ownable(msg.sender) {
        if (address(faultVerifier_) == address(0)) revert ZeroAddress();
        faultVerifier = faultVerifier_;
        for (uint256 i; i < voters.length; ++i) {
            _addVoter(voters[i]);
        }
        _setQuorum(quorum_);
    }

    /// @notice Adds a voter. Owner only.
    function addVoter(address voter) external onlyOwner {
        _addVoter(voter);
    }

    /// @notice Removes a voter; fails if the quorum would become unreachable. Owner only. Votes it already
    /// cast still count.
    function removeVoter(address voter) external onlyOwner {
        if (!isVoter[voter]) revert NotVoter(voter);
        if (voterCount - 1 < quorum) revert InvalidQuorum(quorum, voterCount - 1);
        isVoter[voter] = false;
        --voterCount;
        emit VoterRemoved(voter);
    }

    /// @notice Sets the quorum. Owner only.
    function setQuorum(uint256 quorum_) external onlyOwner {
        _setQuorum(quorum_);
    }

    /// @notice Votes on a pending challenge assigned to this verifier. The vote that reaches the quorum
    /// submits the verdict.
    function vote(bytes32 challengeId, bool guilty) external {
        if (!isVoter[msg.sender]) revert NotVoter(msg.sender);
        Tally memory t = _tallies[challengeId];
        (IFaultVerifier.Status status, address verifier,) = faultVerifier.challengeState(challengeId);
        if (t.decided || status != IFaultVerifier.Status.Pending || verifier != address(this)) {
            revert NotAssigned(challengeId);
        }
        if (_voted[challengeId][msg.sender]) revert AlreadyVoted(challengeId, msg.sender);
        _voted[challengeId][msg.sender] = true;
        if (guilty) ++t.guilty;
        else ++t.innocent;
        emit VoteCast(challengeId, msg.sender, guilty);
        uint256 q = quorum;
        if (t.guilty >= q || t.innocent >= q) {
            bool verdict = t.guilty >= q;
            t.decided = true;
            _tallies[challengeId] = t;
            emit VerdictSubmitted(challengeId, verdict);
            faultVerifier.resolve(challengeId, verdict);
        } else {
            _tallies[challengeId] = t;
        }
    }

    /// @notice Votes so far on a challenge and whether the verdict was submitted.
    function tally(bytes32 challengeId)
        external
        view
        returns (uint256 guilty, uint256 innocent, bool decided)
    {
        Tally memory t = _tallies[challengeId];
        return (t.guilty, t.innocent, t.decided);
    }

    /// @notice Whether `voter` voted on `challengeId`.
    function hasVoted(bytes32 challengeId, address voter) external view returns (bool) {
        return _voted[challengeId][voter];
    }

    function _addVoter(address voter) private {
        if (voter == address(0)) revert ZeroAddress();
        if (isVoter[voter]) revert AlreadyVoter(voter);
        isVoter[voter] = true;
        ++voterCount;
        emit VoterAdded(voter);
    }

    function _setQuorum(uint256 quorum_) private {
        if (quorum_ == 0 || quorum_ > voterCount) revert InvalidQuorum(quorum_, voterCount);
        quorum = quorum_;
        emit QuorumSet(quorum_);
    }
}
