// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IBondingManager} from "./interfaces/IBondingManager.sol";
import {IRoundsManager} from "./interfaces/IRoundsManager.sol";
import {ITicketBroker} from "./interfaces/ITicketBroker.sol";

/// @title TicketBroker
/// @notice Probabilistic micropayments. A broadcaster (sender) funds a deposit and a reserve, signs tickets
/// for an orchestrator (recipient), and the recipient redeems the winning ones. Tickets are byte-compatible
/// with Livepeer's: same fields, same 232-byte hash preimage, EIP-191 signature, win rule and commit-reveal.
///
/// Differences from the reference broker:
///   - All-or-nothing payout: a ticket is paid in full from the deposit plus the recipient's claimable share
///     of the reserve, or the redemption reverts with `InsufficientFunds` and the ticket stays unused (fixes
///     Livepeer protocol #663, partial payouts, and #657, the 1-wei deposit frontrun that burnt tickets).
///   - Replay protection is a nonce bitmap whose words expire and can be deleted (see `_replayKey`).
///   - Batch redemption credits fees with one BondingManager call per (recipient, creation round) and
///     reverts as a whole, naming the failing ticket, instead of skipping it silently.
///   - The recipient's activity and the reserve pool size come from one round-start snapshot, so they agree.
///   - The round is computed from the RoundsManager's immutable round length, without a call.
///
/// Ticket failures are parameterless custom errors so that a batch can report them as
/// `BatchTicketFailed(index, selector)`.
contract TicketBroker is ITicketBroker, ReentrancyGuardTransient {
    /// @notice A ticket, in Livepeer's field order.
    struct Ticket {
        address recipient;
        address sender;
        uint256 faceValue;
        uint256 winProb;
        uint256 senderNonce;
        bytes32 recipientRandHash;
        bytes auxData; // 64 bytes: creationRound (uint256, big-endian) || creationRoundBlockHash
    }

    // ---------------------------------------------------------------- ticket errors

    /// @notice The ticket's recipient is the zero address.
    error InvalidRecipient();
    /// @notice The ticket's sender is the zero address.
    error InvalidSender();
    /// @notice The ticket's face value is zero.
    error ZeroFaceValue();
    /// @notice The ticket's auxData is not 64 bytes.
    error InvalidAuxData();
    /// @notice creationRound + ticketValidityPeriod <= currentRound.
    error TicketExpired();
    /// @notice The creation round was not initialized or its block hash differs from the auxData's.
    error InvalidCreationRoundBlockHash();
    /// @notice keccak256(recipientRand) != recipientRandHash.
    error InvalidRecipientRand();
    /// @notice The signature is not 65 bytes.
    error InvalidSignatureLength();
    /// @notice The signature's v is neither 27 nor 28.
    error InvalidSignatureV();
    /// @notice The signature's s is in the upper half of the curve order.
    error InvalidSignatureS();
    /// @notice The signature does not recover to the ticket's sender.
    error InvalidSignature();
    /// @notice keccak256(sig, recipientRand) >= winProb.
    error TicketDidNotWin();
    /// @notice The ticket was already redeemed.
    error TicketAlreadyUsed();
    /// @notice The sender's unlock period is over; its funds can no longer pay tickets.
    error SenderUnlocked();
    /// @notice Deposit plus the recipient's claimable reserve share is below the face value.
    error InsufficientFunds();

    // ---------------------------------------------------------------- other errors

    /// @notice Ticket `index` of a batch failed with the ticket error `reason` (its selector).
    error BatchTicketFailed(uint256 index, bytes4 reason);
    /// @notice The batch arrays differ in length.
    error BatchLengthMismatch();
    /// @notice The batch is empty.
    error EmptyBatch();
    /// @notice A zero address was given where an address is required.
    error ZeroAddress();
    /// @notice A constructor parameter is out of range.
    error InvalidParameter();
    /// @notice No ETH was sent.
    error ZeroValue();
    /// @notice msg.value differs from depositAmount + reserveAmount.
    error ValueMismatch(uint256 expected, uint256 actual);
    /// @notice The resulting deposit or reserve does not fit in 96 bits.
    error AmountOverflow();
    /// @notice The sender has no deposit and no reserve.
    error NoFunds();
    /// @notice The sender is already unlocking; its funds unlock in `withdrawRound`.
    error AlreadyUnlocking(uint256 withdrawRound);
    /// @notice The sender is not unlocking.
    error NotUnlocking();
    /// @notice The sender's funds stay locked until `withdrawRound`.
    error StillLocked(uint256 withdrawRound);
    /// @notice Sending ETH failed.
    error TransferFailed();

    // ---------------------------------------------------------------- events

    /// @notice `funder` added `amount` wei to `sender`'s deposit.
    event DepositFunded(address indexed sender, address indexed funder, uint256 amount);
    /// @notice `funder` added `amount` wei to `sender`'s reserve.
    event ReserveFunded(address indexed sender, address indexed funder, uint256 amount);
    /// @notice `sender` started unlocking in `startRound`; it may withdraw from `withdrawRound`.
    event Unlock(address indexed sender, uint256 startRound, uint256 withdrawRound);
    /// @notice `sender`'s unlock was cancelled.
    event UnlockCancelled(address indexed sender);
    /// @notice `sender` withdrew its deposit and reserve.
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);
    /// @notice A winning ticket was paid: `faceValue` wei from `sender` to `recipient`, of which
    /// `fromReserve` came from the sender's reserve.
    event WinningTicketRedeemed(
        address indexed sender,
        address indexed recipient,
        bytes32 indexed ticketHash,
        uint256 faceValue,
        uint256 fromReserve,
        uint256 creationRound
    );
    /// @notice `count` expired replay-protection words were deleted.
    event UsedWordsCleared(uint256 count);

    // ---------------------------------------------------------------- storage

    struct Sender {
        uint96 deposit;
        uint96 reserve;
        uint64 withdrawRound; // zero: locked
    }

    struct RoundClaim {
        uint96 claimed;
        uint64 round;
    }

    struct Context {
        uint256 round;
        uint256 hashRound; // creation round whose block hash is cached
        bytes32 blockHash;
        address poolRecipient; // recipient whose pool info is cached
        bool poolActive;
        uint256 poolSize;
    }

    /// @dev Bits of a replay word used for nonces; the top 64 bits hold the word's expiry round.
    uint256 private constant NONCE_BITS = 192;
    uint256 private constant NONCE_MASK = (uint256(1) << NONCE_BITS) - 1;
    /// @dev secp256k1 order / 2: the largest s accepted.
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice The RoundsManager.
    IRoundsManager public immutable rounds;
    /// @notice The BondingManager, which receives the fees.
    IBondingManager public immutable bondingManager;
    /// @notice Cached `rounds.roundLength()`, immutable there.
    uint256 public immutable roundLength;
    /// @notice Rounds between `unlock` and `withdraw`; longer than the validity period, so every ticket a
    /// sender signed before unlocking expires before the sender can take its funds back.
    uint256 public immutable unlockPeriod;
    /// @inheritdoc ITicketBroker
    uint256 public immutable ticketValidityPeriod;

    mapping(address => Sender) private _senders;
    mapping(address sender => RoundClaim) private _reserveClaims;
    mapping(address sender => mapping(address recipient => RoundClaim)) private _recipientClaims;
    mapping(bytes32 key => uint256 word) private _usedWords;

    /// @param rounds_ The RoundsManager.
    /// @param bondingManager_ The BondingManager.
    /// @param unlockPeriod_ Rounds between unlock and withdraw; must exceed `ticketValidityPeriod_`.
    /// @param ticketValidityPeriod_ Rounds a ticket stays redeemable after its creation round (at least 1).
    constructor(
        IRoundsManager rounds_,
        IBondingManager bondingManager_,
        uint256 unlockPeriod_,
        uint256 ticketValidityPeriod_
    ) {
        if (address(rounds_) == address(0) || address(bondingManager_) == address(0)) {
            revert ZeroAddress();
        }
        if (
            ticketValidityPeriod_ == 0 || unlockPeriod_ <= ticketValidityPeriod_
                || unlockPeriod_ > type(uint32).max
        ) {
            revert InvalidParameter();
        }
        rounds = rounds_;
        bondingManager = bondingManager_;
        roundLength = rounds_.roundLength();
        unlockPeriod = unlockPeriod_;
        ticketValidityPeriod = ticketValidityPeriod_;
    }

    // ---------------------------------------------------------------- funding

    /// @notice Adds msg.value to the caller's deposit. Cancels the caller's unlock, if any.
    function fundDeposit() external payable {
        _fund(msg.sender, msg.value, 0);
    }

    /// @notice Adds msg.value to the caller's reserve. Cancels the caller's unlock, if any.
    function fundReserve() external payable {
        _fund(msg.sender, 0, msg.value);
    }

    /// @notice Adds to the caller's deposit and reserve; msg.value must equal their sum. Cancels the caller's
    /// unlock, if any.
    function fundDepositAndReserve(uint256 depositAmount, uint256 reserveAmount) external payable {
        _fund(msg.sender, depositAmount, reserveAmount);
    }

    /// @notice Adds to `sender`'s deposit and reserve; msg.value must equal their sum. Only the sender's own
    /// funding cancels its unlock: a third party cannot keep a sender from withdrawing.
    function fundDepositAndReserveFor(address sender, uint256 depositAmount, uint256 reserveAmount)
        external
        payable
    {
        _fund(sender, depositAmount, reserveAmount);
    }

    /// @notice Starts the caller's unlock: its funds become withdrawable `unlockPeriod` rounds from now.
    function unlock() external {
        Sender storage s = _senders[msg.sender];
        if (s.deposit == 0 && s.reserve == 0) revert NoFunds();
        uint256 pending = s.withdrawRound;
        if (pending != 0) revert AlreadyUnlocking(pending);
        uint256 round = _currentRound();
        uint256 withdrawRound = round + unlockPeriod;
        s.withdrawRound = uint64(withdrawRound);
        emit Unlock(msg.sender, round, withdrawRound);
    }

    /// @notice Cancels the caller's unlock.
    function cancelUnlock() external {
        Sender storage s = _senders[msg.sender];
        if (s.withdrawRound == 0) revert NotUnlocking();
        s.withdrawRound = 0;
        emit UnlockCancelled(msg.sender);
    }

    /// @notice Sends the caller its deposit and reserve once its unlock period is over.
    function withdraw() external nonReentrant {
        Sender memory s = _senders[msg.sender];
        if (s.withdrawRound == 0) revert NotUnlocking();
        if (_currentRound() < s.withdrawRound) revert StillLocked(s.withdrawRound);
        uint256 amount = uint256(s.deposit) + s.reserve;
        if (amount == 0) revert NoFunds();
        delete _senders[msg.sender];
        emit Withdrawal(msg.sender, s.deposit, s.reserve);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- redemption

    /// @notice Redeems one winning ticket: pays its face value to the recipient's fee pool in the
    /// BondingManager, from the sender's deposit and then from the recipient's share of the reserve.
    /// Anyone may submit it; the money always goes to the ticket's recipient.
    function redeemWinningTicket(Ticket calldata ticket, bytes calldata sig, uint256 recipientRand)
        external
        nonReentrant
    {
        Context memory ctx = _context();
        (bytes4 err, uint256 creationRound) = _redeem(ticket, sig, recipientRand, ctx);
        if (err != bytes4(0)) {
            assembly ("memory-safe") {
                mstore(0, err)
                revert(0, 4)
            }
        }
        bondingManager.creditFees{value: ticket.faceValue}(ticket.recipient, creationRound);
    }

    /// @notice Redeems many winning tickets in one transaction. Either every ticket is paid or the whole
    /// batch reverts with `BatchTicketFailed(index, reason)`: no ticket is dropped silently, and a gas
    /// estimate covers the whole batch. Fees are credited with one BondingManager call per distinct
    /// (recipient, creation round).
    function batchRedeemWinningTickets(
        Ticket[] calldata tickets,
        bytes[] calldata sigs,
        uint256[] calldata recipientRands
    ) external nonReentrant {
        uint256 n = tickets.length;
        if (n == 0) revert EmptyBatch();
        if (sigs.length != n || recipientRands.length != n) revert BatchLengthMismatch();
        Context memory ctx = _context();
        address[] memory groupRecipient = new address[](n);
        uint256[] memory groupRound = new uint256[](n);
        uint256[] memory groupAmount = new uint256[](n);
        uint256 groups;
        for (uint256 i; i < n; ++i) {
            Ticket calldata t = tickets[i];
            (bytes4 err, uint256 creationRound) = _redeem(t, sigs[i], recipientRands[i], ctx);
            if (err != bytes4(0)) revert BatchTicketFailed(i, err);
            address recipient = t.recipient;
            uint256 g;
            while (g < groups && (groupRecipient[g] != recipient || groupRound[g] != creationRound)) ++g;
            if (g == groups) {
                groupRecipient[g] = recipient;
                groupRound[g] = creationRound;
                ++groups;
            }
            groupAmount[g] += t.faceValue;
        }
        for (uint256 g; g < groups; ++g) {
            bondingManager.creditFees{value: groupAmount[g]}(groupRecipient[g], groupRound[g]);
        }
    }

    /// @notice Deletes replay words whose tickets have all expired, for their storage refund. Keys that are
    /// empty or not expired yet are skipped. Returns the number of words deleted.
    function clearExpiredUsedWords(bytes32[] calldata keys) external returns (uint256 cleared) {
        uint256 round = _currentRound();
        for (uint256 i; i < keys.length; ++i) {
            uint256 word = _usedWords[keys[i]];
            if (word != 0 && (word >> NONCE_BITS) <= round) {
                delete _usedWords[keys[i]];
                ++cleared;
            }
        }
        if (cleared != 0) emit UsedWordsCleared(cleared);
    }

    // ---------------------------------------------------------------- views

    /// @notice keccak256 of the ticket's 232-byte packed preimage (168 bytes with empty auxData).
    function getTicketHash(Ticket calldata ticket) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                ticket.recipient,
                ticket.sender,
                ticket.faceValue,
                ticket.winProb,
                ticket.senderNonce,
                ticket.recipientRandHash,
                ticket.auxData
            )
        );
    }

    /// @notice The replay word key of a ticket and the bit of its nonce in that word.
    function replayKey(Ticket calldata ticket) public pure returns (bytes32 key, uint256 bit) {
        return (_replayKey(ticket), ticket.senderNonce % NONCE_BITS);
    }

    /// @notice Whether the ticket was already redeemed (and its word not yet cleared after expiry).
    function isTicketUsed(Ticket calldata ticket) external view returns (bool) {
        (bytes32 key, uint256 bit) = replayKey(ticket);
        return (_usedWords[key] >> bit) & 1 == 1;
    }

    /// @notice A replay word: the bitmap of used nonces and the round from which it may be deleted.
    function usedWord(bytes32 key) external view returns (uint256 bitmap, uint256 expiryRound) {
        uint256 word = _usedWords[key];
        return (word & NONCE_MASK, word >> NONCE_BITS);
    }

    /// @notice A sender's deposit, reserve and withdraw round (zero when not unlocking).
    function getSenderInfo(address sender)
        external
        view
        returns (uint256 deposit, uint256 reserve, uint256 withdrawRound)
    {
        Sender memory s = _senders[sender];
        return (s.deposit, s.reserve, s.withdrawRound);
    }

    /// @notice Reserve already paid out in the current round: in all and to `recipient`.
    function reserveClaimed(address sender, address recipient)
        external
        view
        returns (uint256 total, uint256 byRecipient)
    {
        uint256 round = _currentRound();
        RoundClaim memory all = _reserveClaims[sender];
        RoundClaim memory mine = _recipientClaims[sender][recipient];
        return (all.round == round ? all.claimed : 0, mine.round == round ? mine.claimed : 0);
    }

    /// @notice What `recipient` may still take from `sender`'s reserve in the current round: the reserve as
    /// it stood at the round's first claim, divided by the active pool size, minus what it already took.
    function claimableReserve(address sender, address recipient) external view returns (uint256) {
        Context memory ctx = _context();
        return _claimable(sender, recipient, _senders[sender].reserve, ctx);
    }

    /// @notice The current round, computed from the RoundsManager's immutable round length.
    function currentRound() external view returns (uint256) {
        return _currentRound();
    }

    // ---------------------------------------------------------------- internals

    function _currentRound() private view returns (uint256) {
        return block.number / roundLength;
    }

    function _context() private view returns (Context memory ctx) {
        ctx.round = _currentRound();
        ctx.hashRound = type(uint256).max;
    }

    function _fund(address sender, uint256 depositAmount, uint256 reserveAmount) private {
        if (sender == address(0)) revert ZeroAddress();
        if (depositAmount > type(uint96).max || reserveAmount > type(uint96).max) revert AmountOverflow();
        uint256 total = depositAmount + reserveAmount;
        if (total == 0) revert ZeroValue();
        if (msg.value != total) revert ValueMismatch(total, msg.value);
        Sender memory s = _senders[sender];
        uint256 deposit = uint256(s.deposit) + depositAmount;
        uint256 reserve = uint256(s.reserve) + reserveAmount;
        if (deposit > type(uint96).max || reserve > type(uint96).max) revert AmountOverflow();
        s.deposit = uint96(deposit);
        s.reserve = uint96(reserve);
        if (msg.sender == sender && s.withdrawRound != 0) {
            s.withdrawRound = 0;
            emit UnlockCancelled(sender);
        }
        _senders[sender] = s;
        if (depositAmount != 0) emit DepositFunded(sender, msg.sender, depositAmount);
        if (reserveAmount != 0) emit ReserveFunded(sender, msg.sender, reserveAmount);
    }

    /// @dev Replay protection. A word of 192 nonce bits is keyed by every hashed ticket field except the
    /// nonce's low bits: keccak(recipient, sender, faceValue, winProb, recipientRandHash, auxData,
    /// senderNonce / 192). The top 64 bits of the word hold its expiry round.
    ///
    /// Why this layout:
    ///   - A sender signs many tickets with one set of parameters (one recipientRandHash) and consecutive
    ///     nonces, so the winners of a batch usually share a word: one 20k-gas slot instead of one per ticket.
    ///   - The key binds every other field, so two different tickets never share a bit: a sender cannot burn
    ///     a recipient's pending winner with a cheaper ticket of the same nonce (which a key of only
    ///     (sender, recipientRandHash, nonce) would allow once the recipient's rand is public).
    ///   - auxData binds the creation round, so once the word's expiry round has passed every ticket that
    ///     maps to it is expired; the word can then be deleted (`clearExpiredUsedWords`) without reopening a
    ///     replay. Storage thus holds only live words rather than growing forever.
    function _replayKey(Ticket calldata t) private pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                t.recipient,
                t.sender,
                t.faceValue,
                t.winProb,
                t.recipientRandHash,
                t.auxData,
                t.senderNonce / NONCE_BITS
            )
        );
    }

    /// @dev Validates and pays one ticket, except for crediting the fee. Returns a ticket error selector
    /// (zero on success) and the ticket's creation round. Writes nothing on failure.
    function _redeem(Ticket calldata t, bytes calldata sig, uint256 rand, Context memory ctx)
        private
        returns (bytes4 err, uint256 creationRound)
    {
        bytes32 ticketHash;
        (err, creationRound, ticketHash) = _validate(t, sig, rand, ctx);
        if (err != bytes4(0)) return (err, creationRound);

        bytes32 key = _replayKey(t);
        uint256 word = _usedWords[key];
        uint256 bit = uint256(1) << (t.senderNonce % NONCE_BITS);
        if (word & bit != 0) return (TicketAlreadyUsed.selector, creationRound);

        uint256 fromReserve;
        (err, fromReserve) = _pay(t, ctx);
        if (err != bytes4(0)) return (err, creationRound);

        // Tickets of this word are valid while creationRound + validity > round: expired from that sum on.
        _usedWords[key] = (word & NONCE_MASK) | bit | ((creationRound + ticketValidityPeriod) << NONCE_BITS);
        emit WinningTicketRedeemed(t.sender, t.recipient, ticketHash, t.faceValue, fromReserve, creationRound);
    }

    /// @dev Everything that does not depend on storage of this contract: fields, round, rand, signature, win.
    function _validate(Ticket calldata t, bytes calldata sig, uint256 rand, Context memory ctx)
        private
        view
        returns (bytes4, uint256 creationRound, bytes32 ticketHash)
    {
        if (t.recipient == address(0)) return (InvalidRecipient.selector, 0, 0);
        if (t.sender == address(0)) return (InvalidSender.selector, 0, 0);
        if (t.faceValue == 0) return (ZeroFaceValue.selector, 0, 0);
        if (t.auxData.length != 64) return (InvalidAuxData.selector, 0, 0);
        creationRound = uint256(bytes32(t.auxData[0:32]));
        // Written to avoid overflow on an absurd creationRound: expired iff creationRound + validity <= round.
        if (creationRound <= ctx.round && ctx.round - creationRound >= ticketValidityPeriod) {
            return (TicketExpired.selector, creationRound, 0);
        }
        if (ctx.hashRound != creationRound) {
            ctx.blockHash = rounds.blockHashForRound(creationRound);
            ctx.hashRound = creationRound;
        }
        if (ctx.blockHash == bytes32(0) || ctx.blockHash != bytes32(t.auxData[32:64])) {
            return (InvalidCreationRoundBlockHash.selector, creationRound, 0);
        }
        if (keccak256(abi.encodePacked(rand)) != t.recipientRandHash) {
            return (InvalidRecipientRand.selector, creationRound, 0);
        }
        ticketHash = getTicketHash(t);
        bytes4 sigErr = _checkSignature(ticketHash, sig, t.sender);
        if (sigErr != bytes4(0)) return (sigErr, creationRound, ticketHash);
        if (uint256(keccak256(abi.encodePacked(sig, rand))) >= t.winProb) {
            return (TicketDidNotWin.selector, creationRound, ticketHash);
        }
        return (bytes4(0), creationRound, ticketHash);
    }

    /// @dev EIP-191 personal-sign check: 65 bytes r || s || v, v in {27, 28}, low s, signer == sender.
    function _checkSignature(bytes32 ticketHash, bytes calldata sig, address sender)
        private
        pure
        returns (bytes4)
    {
        if (sig.length != 65) return InvalidSignatureLength.selector;
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v != 27 && v != 28) return InvalidSignatureV.selector;
        if (uint256(s) > HALF_ORDER) return InvalidSignatureS.selector;
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", ticketHash));
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0) || signer != sender) return InvalidSignature.selector;
        return bytes4(0);
    }

    /// @dev Takes the face value from the deposit, then from the recipient's reserve share; all or nothing.
    function _pay(Ticket calldata t, Context memory ctx) private returns (bytes4, uint256 fromReserve) {
        address sender = t.sender;
        Sender memory s = _senders[sender];
        if (s.withdrawRound != 0 && ctx.round >= s.withdrawRound) return (SenderUnlocked.selector, 0);
        uint256 face = t.faceValue;
        uint256 fromDeposit = face <= s.deposit ? face : s.deposit;
        fromReserve = face - fromDeposit;
        if (fromReserve != 0) {
            address recipient = t.recipient;
            if (_claimable(sender, recipient, s.reserve, ctx) < fromReserve) {
                return (InsufficientFunds.selector, 0);
            }
            uint256 round = ctx.round;
            RoundClaim memory all = _reserveClaims[sender];
            RoundClaim memory mine = _recipientClaims[sender][recipient];
            // fromReserve <= reserve < 2^96, and per-round claims never exceed the reserve they came from.
            _reserveClaims[sender] = RoundClaim({
                claimed: uint96((all.round == round ? all.claimed : 0) + fromReserve), round: uint64(round)
            });
            _recipientClaims[sender][recipient] = RoundClaim({
                claimed: uint96((mine.round == round ? mine.claimed : 0) + fromReserve), round: uint64(round)
            });
            s.reserve -= uint96(fromReserve);
        }
        s.deposit -= uint96(fromDeposit);
        _senders[sender] = s;
        return (bytes4(0), fromReserve);
    }

    /// @dev Livepeer's allocation: (reserve + claimed this round) / poolSize - claimed by recipient this round,
    /// zero for a recipient that was not active at the start of the round.
    function _claimable(address sender, address recipient, uint256 reserve, Context memory ctx)
        private
        view
        returns (uint256)
    {
        if (reserve == 0) return 0;
        if (ctx.poolRecipient != recipient) {
            (ctx.poolActive, ctx.poolSize) = bondingManager.poolInfo(recipient);
            ctx.poolRecipient = recipient;
        }
        if (!ctx.poolActive || ctx.poolSize == 0) return 0;
        uint256 round = ctx.round;
        RoundClaim memory all = _reserveClaims[sender];
        RoundClaim memory mine = _recipientClaims[sender][recipient];
        uint256 allocation = (reserve + (all.round == round ? all.claimed : 0)) / ctx.poolSize;
        uint256 taken = mine.round == round ? mine.claimed : 0;
        if (allocation <= taken) return 0;
        uint256 claimable = allocation - taken;
        return claimable < reserve ? claimable : reserve;
    }
}
