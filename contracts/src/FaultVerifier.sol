// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IBondingManager} from "./interfaces/IBondingManager.sol";
import {IFaultVerifier} from "./interfaces/IFaultVerifier.sol";
import {IServiceRegistry} from "./interfaces/IServiceRegistry.sol";

/// @title FaultVerifier
/// @notice Fault-based verification. A broadcaster that finds a bad segment opens a challenge with two
/// pieces of evidence: the orchestrator's signed Receipt for the segment and its own signed SegmentClaim.
/// The verifier contract the orchestrator registered for the service decides; a guilty verdict slashes the
/// orchestrator, pays the broadcaster the finder's fee and returns its bond; an innocent verdict gives the
/// bond to the orchestrator; no verdict within the window returns the bond. Each receipt can be challenged
/// once: the challenge id is the receipt hash.
///
/// Both statements are EIP-712 typed data (the Rust side builds them byte for byte), signed for this
/// deployment's domain {name "livepeer-rs", version "1", chainId, verifyingContract = this contract}, so a
/// statement signed for another chain or another deployment does not recover to its signer here:
///   receiptHash = keccak256(abi.encode(RECEIPT_TYPEHASH, orchestrator, broadcaster, streamId, seq, inputHash,
///                 keccak256(abi.encodePacked(profileIds)), keccak256(abi.encodePacked(outputHashes)),
///                 keccak256(abi.encodePacked(pixels))))
///   claimHash   = keccak256(abi.encode(SEGMENT_CLAIM_TYPEHASH, broadcaster, orchestrator, streamId, seq,
///                 inputHash, keccak256(abi.encodePacked(profileIds)), durationMs))
///   digest      = keccak256("\x19\x01" || DOMAIN_SEPARATOR() || structHash)
/// (abi.encodePacked pads each array element to 32 bytes, as EIP-712 encodes arrays). Each signature is
/// 65 bytes r || s || v over the digest, v in {27, 28}, low s.
///
/// ETH owed (bonds) is credited and withdrawn with `withdraw`, so a party that cannot receive ETH cannot
/// block a verdict.
contract FaultVerifier is IFaultVerifier, ReentrancyGuardTransient, EIP712 {
    /// @notice What an orchestrator signs for each segment it returns.
    struct Receipt {
        address orchestrator;
        address broadcaster;
        bytes32 streamId;
        uint64 seq;
        bytes32 inputHash;
        bytes32[] profileIds;
        bytes32[] outputHashes;
        uint64[] pixels;
    }

    /// @notice What a broadcaster signs for each segment it sends.
    struct SegmentClaim {
        address broadcaster;
        address orchestrator;
        bytes32 streamId;
        uint64 seq;
        bytes32 inputHash;
        bytes32[] profileIds;
        uint64 durationMs;
    }

    /// @notice A challenge's record.
    struct Challenge {
        address orchestrator;
        uint64 deadline; // last block a verdict is accepted
        Status status;
        address challenger;
        uint96 bond;
        address verifier;
        bytes32 serviceId;
        bytes32 claimHash;
    }

    /// @notice EIP-712 type hash of receipts.
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(address orchestrator,address broadcaster,bytes32 streamId,uint64 seq,bytes32 inputHash,"
        "bytes32[] profileIds,bytes32[] outputHashes,uint64[] pixels)"
    );
    /// @notice EIP-712 type hash of segment claims.
    bytes32 public constant SEGMENT_CLAIM_TYPEHASH = keccak256(
        "SegmentClaim(address broadcaster,address orchestrator,bytes32 streamId,uint64 seq,bytes32 inputHash,"
        "bytes32[] profileIds,uint64 durationMs)"
    );
    /// @notice Parts per million.
    uint256 public constant PPM = 1_000_000;
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice A zero address was given where an address is required.
    error ZeroAddress();
    /// @notice A constructor parameter is out of range.
    error InvalidParameter();
    /// @notice msg.value is below the challenge bond (or above 2^96 - 1 wei).
    error InvalidBond(uint256 required, uint256 sent);
    /// @notice A signature is not 65 bytes.
    error InvalidSignatureLength();
    /// @notice A signature's v is neither 27 nor 28.
    error InvalidSignatureV();
    /// @notice A signature's s is in the upper half of the curve order.
    error InvalidSignatureS();
    /// @notice A signature does not recover to an address.
    error InvalidSignature();
    /// @notice The receipt was not signed by its orchestrator.
    error ReceiptSignerMismatch(address signer);
    /// @notice The claim was not signed by its broadcaster.
    error ClaimSignerMismatch(address signer);
    /// @notice The caller is not the broadcaster of the claim.
    error NotBroadcaster(address caller);
    /// @notice Receipt and claim name different orchestrators or broadcasters.
    error PartiesMismatch();
    /// @notice Receipt and claim differ in stream id, sequence number or input hash.
    error SegmentMismatch();
    /// @notice The receipt's profileIds, outputHashes and pixels differ in length.
    error MalformedReceipt();
    /// @notice The orchestrator has no verifier for this service.
    error ServiceNotChallengeable(address orchestrator, bytes32 serviceId);
    /// @notice This receipt was already challenged.
    error ReceiptAlreadyChallenged(bytes32 challengeId);
    /// @notice The challenge is not pending.
    error ChallengeNotPending(bytes32 challengeId, Status status);
    /// @notice The caller is not the challenge's verifier.
    error NotVerifier(address caller);
    /// @notice The verdict came after the challenge's deadline.
    error ChallengeWindowClosed(uint256 deadline);
    /// @notice The challenge can still be decided until its deadline.
    error ChallengeWindowOpen(uint256 deadline);
    /// @notice Nothing is owed to the caller.
    error NothingToWithdraw();
    /// @notice Sending ETH failed.
    error TransferFailed();

    /// @notice A challenge was opened against `orchestrator`'s receipt `challengeId`.
    event ChallengeOpened(
        bytes32 indexed challengeId,
        address indexed orchestrator,
        address indexed challenger,
        address verifier,
        bytes32 serviceId,
        bytes32 claimHash,
        uint256 bond,
        uint256 deadline
    );
    /// @notice The verifier found the orchestrator guilty or innocent.
    event ChallengeResolved(bytes32 indexed challengeId, bool guilty);
    /// @notice The challenge passed its deadline undecided; the bond went back to the challenger.
    event ChallengeExpired(bytes32 indexed challengeId);
    /// @notice `amount` wei became withdrawable by `account`.
    event Credited(address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount` wei.
    event Withdrawal(address indexed account, uint256 amount);

    /// @notice The BondingManager, which slashes.
    IBondingManager public immutable bondingManager;
    /// @notice Where each orchestrator's verifier per service is registered.
    IServiceRegistry public immutable serviceRegistry;
    /// @notice Minimum bond a challenger posts, in wei.
    uint256 public immutable challengeBond;
    /// @notice Blocks a verifier has to decide after a challenge opens.
    uint256 public immutable challengeWindow;
    /// @notice Fraction of the orchestrator's own stake slashed on a guilty verdict, in PPM.
    uint256 public immutable slashFractionPPM;
    /// @notice Fraction of the penalty paid to the challenger, in PPM.
    uint256 public immutable finderFeePPM;

    mapping(bytes32 => Challenge) private _challenges;
    mapping(address => uint256) private _credits;

    /// @param bondingManager_ The BondingManager.
    /// @param serviceRegistry_ The ServiceRegistry.
    /// @param challengeBond_ Minimum bond in wei.
    /// @param challengeWindow_ Blocks a verifier has to decide (at least 1).
    /// @param slashFractionPPM_ Fraction of stake slashed on a fault (PPM).
    /// @param finderFeePPM_ Fraction of the penalty paid to the challenger (PPM).
    constructor(
        IBondingManager bondingManager_,
        IServiceRegistry serviceRegistry_,
        uint256 challengeBond_,
        uint256 challengeWindow_,
        uint256 slashFractionPPM_,
        uint256 finderFeePPM_
    ) EIP712("livepeer-rs", "1") {
        if (address(bondingManager_) == address(0) || address(serviceRegistry_) == address(0)) revert ZeroAddress();
        if (
            challengeWindow_ == 0 || challengeWindow_ > type(uint32).max || challengeBond_ > type(uint96).max
                || slashFractionPPM_ > PPM || finderFeePPM_ > PPM
        ) revert InvalidParameter();
        bondingManager = bondingManager_;
        serviceRegistry = serviceRegistry_;
        challengeBond = challengeBond_;
        challengeWindow = challengeWindow_;
        slashFractionPPM = slashFractionPPM_;
        finderFeePPM = finderFeePPM_;
    }

    /// @notice Opens a challenge against `receipt`. The caller must be the broadcaster that signed `claim`,
    /// post at least `challengeBond` wei, and name a service whose registered verifier will decide.
    /// @return challengeId The receipt hash.
    function openChallenge(
        Receipt calldata receipt,
        bytes calldata receiptSig,
        SegmentClaim calldata claim,
        bytes calldata claimSig,
        bytes32 serviceId
    ) external payable returns (bytes32 challengeId) {
        if (msg.value < challengeBond || msg.value > type(uint96).max) {
            revert InvalidBond(challengeBond, msg.value);
        }
        if (receipt.orchestrator != claim.orchestrator || receipt.broadcaster != claim.broadcaster) {
            revert PartiesMismatch();
        }
        if (
            receipt.streamId != claim.streamId || receipt.seq != claim.seq
                || receipt.inputHash != claim.inputHash
        ) {
            revert SegmentMismatch();
        }
        if (
            receipt.outputHashes.length != receipt.profileIds.length
                || receipt.pixels.length != receipt.profileIds.length
        ) {
            revert MalformedReceipt();
        }
        if (msg.sender != claim.broadcaster) revert NotBroadcaster(msg.sender);

        challengeId = receiptHash(receipt);
        bytes32 claimHash_ = claimHash(claim);
        address receiptSigner = _recover(_hashTypedDataV4(challengeId), receiptSig);
        if (receiptSigner != receipt.orchestrator) revert ReceiptSignerMismatch(receiptSigner);
        address claimSigner = _recover(_hashTypedDataV4(claimHash_), claimSig);
        if (claimSigner != claim.broadcaster) revert ClaimSignerMismatch(claimSigner);

        if (_challenges[challengeId].status != Status.None) revert ReceiptAlreadyChallenged(challengeId);
        address orchestrator = receipt.orchestrator;
        address verifier = serviceRegistry.verifierFor(orchestrator, serviceId);
        if (verifier == address(0)) revert ServiceNotChallengeable(orchestrator, serviceId);

        uint256 deadline = block.number + challengeWindow;
        _challenges[challengeId] = Challenge({
            orchestrator: orchestrator,
            deadline: uint64(deadline),
            status: Status.Pending,
            challenger: msg.sender,
            bond: uint96(msg.value),
            verifier: verifier,
            serviceId: serviceId,
            claimHash: claimHash_
        });
        emit ChallengeOpened(
            challengeId, orchestrator, msg.sender, verifier, serviceId, claimHash_, msg.value, deadline
        );
    }

    /// @inheritdoc IFaultVerifier
    function resolve(bytes32 challengeId, bool guilty) external nonReentrant {
        Challenge storage c = _challenges[challengeId];
        Status status = c.status;
        if (status != Status.Pending) revert ChallengeNotPending(challengeId, status);
        if (msg.sender != c.verifier) revert NotVerifier(msg.sender);
        if (block.number > c.deadline) revert ChallengeWindowClosed(c.deadline);
        address orchestrator = c.orchestrator;
        address challenger = c.challenger;
        uint256 bond = c.bond;
        c.status = guilty ? Status.Guilty : Status.Innocent;
        emit ChallengeResolved(challengeId, guilty);
        if (guilty) {
            _credit(challenger, bond);
            bondingManager.slash(orchestrator, slashFractionPPM, challenger, finderFeePPM);
        } else {
            _credit(orchestrator, bond);
        }
    }

    /// @notice Closes a challenge left undecided past its deadline and returns the bond to the challenger.
    function closeExpiredChallenge(bytes32 challengeId) external {
        Challenge storage c = _challenges[challengeId];
        Status status = c.status;
        if (status != Status.Pending) revert ChallengeNotPending(challengeId, status);
        if (block.number <= c.deadline) revert ChallengeWindowOpen(c.deadline);
        c.status = Status.Expired;
        emit ChallengeExpired(challengeId);
        _credit(c.challenger, c.bond);
    }

    /// @notice Sends the caller the bonds credited to it.
    function withdraw() external nonReentrant {
        uint256 amount = _credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        _credits[msg.sender] = 0;
        emit Withdrawal(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- views

    /// @notice The receipt's EIP-712 struct hash (also the challenge id).
    function receiptHash(Receipt calldata r) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECEIPT_TYPEHASH,
                r.orchestrator,
                r.broadcaster,
                r.streamId,
                r.seq,
                r.inputHash,
                keccak256(abi.encodePacked(r.profileIds)),
                keccak256(abi.encodePacked(r.outputHashes)),
                keccak256(abi.encodePacked(r.pixels))
            )
        );
    }

    /// @notice The segment claim's EIP-712 struct hash.
    function claimHash(SegmentClaim calldata c) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                SEGMENT_CLAIM_TYPEHASH,
                c.broadcaster,
                c.orchestrator,
                c.streamId,
                c.seq,
                c.inputHash,
                keccak256(abi.encodePacked(c.profileIds)),
                c.durationMs
            )
        );
    }

    /// @notice The EIP-712 domain separator of this deployment on the current chain.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The digest the orchestrator signs for `r` on this deployment.
    function receiptDigest(Receipt calldata r) external view returns (bytes32) {
        return _hashTypedDataV4(receiptHash(r));
    }

    /// @notice The digest the broadcaster signs for `c` on this deployment.
    function claimDigest(SegmentClaim calldata c) external view returns (bytes32) {
        return _hashTypedDataV4(claimHash(c));
    }

    /// @inheritdoc IFaultVerifier
    function challengeState(bytes32 challengeId)
        external
        view
        returns (Status status, address verifier, uint256 deadline)
    {
        Challenge storage c = _challenges[challengeId];
        return (c.status, c.verifier, c.deadline);
    }

    /// @notice A challenge's full record.
    function getChallenge(bytes32 challengeId) external view returns (Challenge memory) {
        return _challenges[challengeId];
    }

    /// @notice Wei withdrawable by `account`.
    function credits(address account) external view returns (uint256) {
        return _credits[account];
    }

    // ---------------------------------------------------------------- internals

    function _credit(address account, uint256 amount) private {
        _credits[account] += amount;
        emit Credited(account, amount);
    }

    /// @dev Recovery over a 32-byte typed-data digest, strict on length, v and s.
    function _recover(bytes32 digest, bytes calldata sig) private pure returns (address signer) {
        if (sig.length != 65) revert InvalidSignatureLength();
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v != 27 && v != 28) revert InvalidSignatureV();
        if (uint256(s) > HALF_ORDER) revert InvalidSignatureS();
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
    }
}
