// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IBondingManager} from "./interfaces/IBondingManager.sol";
import {IRoundsManager} from "./interfaces/IRoundsManager.sol";
import {ITicketBroker} from "./interfaces/ITicketBroker.sol";
import {ReserveAllocation} from "./ReserveAllocation.sol";

/// @title TicketBroker
/// @notice Probabilistic micropayments. A broadcaster (sender) funds a deposit and a reserve, signs tickets
/// for an orchestrator (recipient), and the recipient redeems the winning ones. Tickets are byte-compatible
/// with Livepeer's: same fields, same 232-byte hash preimage, EIP-191 signature, win rule and commit-reveal.
///
/// Differences from the reference broker:
///   - All-or-nothing payout: a ticket is paid in full from the deposit plus the recipient's claimable share
///     of the reserve, or the redemption reverts with `InsufficientFunds` and the ticket stays unused (fixes
///     Livepeer protocol #663, partial payouts, and #657, the 1-wei deposit frontrun that burnt tickets).
///   - Replay protection keeps Livepeer's `usedTickets[ticketHash]`, but each entry holds the round from
///     which its ticket is expired, and anyone may then delete it (`clearExpiredTickets`): storage holds
///     only live entries instead of growing forever.
///   - Batch redemption credits fees with one BondingManager call per (recipient, creation round) and
///     reverts as a whole, naming the failing ticket, instead of skipping it silently.
///   - Fees stay in this contract: the BondingManager only accounts for them and pays them out through
///     `payFees` when a delegator withdraws, which saves moving ETH on every redemption.
///   - The reserve covers the recipients the sender names (`addReserveRecipients`), split equally among
///     those covered in the round; the set changes only `ticketValidityPeriod` rounds after a request, so
///     neither new orchestrators nor the sender can shrink a share that outstanding tickets rely on. A
///     sender that names none has its reserve split by round-start active stake, which splitting one stake
///     into many identities does not change.
///   - The round is computed from the RoundsManager's immutable round length, without a call.
///   - A zero face value is refused (`ZeroFaceValue`) rather than redeemed for nothing.
///
/// Read interface and events as Livepeer's (same selectors, return layouts and event signatures):
/// `getSenderInfo`, `getReserveInfo`, `claimedReserve`, `claimableReserve`, `isUnlockInProgress`,
/// `usedTickets`, `getTicketHash`, `WinningTicketRedeemed`, `WinningTicketTransfer`, `ReserveClaimed`.
///
/// Ticket failures are parameterless custom errors so that a batch can report them as
/// `BatchTicketFailed(index, selector)`. A recipient that is not a registered orchestrator is refused by
/// the BondingManager's fee credit with `NotRegistered(recipient)`.
contract TicketBroker is ITicketBroker, ReserveAllocation, ReentrancyGuardTransient {
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
    /// @notice The current round was not initialized in the RoundsManager.
    error RoundNotInitialized();
    /// @notice The RoundsManager's `blockHashForRound` call failed.
    error RoundsCallFailed();

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
    /// @notice Only the BondingManager may call this function.
    error Unauthorized(address caller);

    // ---------------------------------------------------------------- events

    /// @notice `amount` wei were added to `sender`'s deposit (Livepeer's event: the funder is the
    /// transaction's sender, which `fundDepositAndReserveFor` lets differ from `sender`).
    event DepositFunded(address indexed sender, uint256 amount);
    /// @notice `amount` wei were added to `reserveHolder`'s reserve (Livepeer's event).
    event ReserveFunded(address indexed reserveHolder, uint256 amount);
    /// @notice `sender` started unlocking in `startRound`; it may withdraw from `withdrawRound`.
    event Unlock(address indexed sender, uint256 startRound, uint256 withdrawRound);
    /// @notice `sender`'s unlock was cancelled.
    event UnlockCancelled(address indexed sender);
    /// @notice `sender` withdrew its deposit and reserve.
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);
    /// @notice A winning ticket was redeemed (Livepeer's event: the ticket's fields and the revealed rand).
    event WinningTicketRedeemed(
        address indexed sender,
        address indexed recipient,
        uint256 faceValue,
        uint256 winProb,
        uint256 senderNonce,
        uint256 recipientRand,
        bytes auxData
    );
    /// @notice `amount` wei of `sender`'s funds were paid to `recipient`'s fees for a winning ticket (always
    /// the face value here: payouts are all or nothing).
    event WinningTicketTransfer(address indexed sender, address indexed recipient, uint256 amount);
    /// @notice `claimant` took `amount` wei of a winning ticket's payment from `reserveHolder`'s reserve.
    event ReserveClaimed(address indexed reserveHolder, address claimant, uint256 amount);
    /// @notice `count` used-ticket entries of expired tickets were deleted.
    event UsedTicketsCleared(uint256 count);
    /// @notice `amount` wei of fees were paid out to `recipient` on the BondingManager's order.
    event FeesPaid(address indexed recipient, uint256 amount);

    // ---------------------------------------------------------------- read types (Livepeer's layout)

    /// @notice A sender's deposit and the round from which it may withdraw (zero: no unlock in progress).
    struct SenderInfo {
        uint256 deposit;
        uint256 withdrawRound;
    }

    /// @notice A sender's reserve and what was paid out of it in the current round.
    struct ReserveInfo {
        uint256 fundsRemaining;
        uint256 claimedInCurrentRound;
    }

    // ---------------------------------------------------------------- storage

    struct Sender {
        uint96 deposit;
        uint96 reserve;
        uint64 withdrawRound; // zero: locked
    }

    struct Context {
        uint256 round;
        uint256 hashRound; // creation round whose block hash is cached
        bytes32 blockHash;
        bool roundInitialized; // the current round was seen initialized
    }
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
    /// @dev Redeemed tickets: the round from which the ticket is expired (creationRound + validity), never
    /// zero for a used ticket.
    mapping(bytes32 ticketHash => uint256 expiryRound) private _usedTickets;

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

    // ---------------------------------------------------------------- fee payout

    /// @notice Sends `amount` wei of redeemed fees to `recipient`. Only the BondingManager may call it, when
    /// a delegator withdraws fees it accounted for; every wei it orders was redeemed here first.
    function payFees(address payable recipient, uint256 amount) external nonReentrant {
        if (msg.sender != address(bondingManager)) revert Unauthorized(msg.sender);
        emit FeesPaid(recipient, amount);
        (bool ok,) = recipient.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- redemption

    /// @notice Redeems one winning ticket: credits its face value to the recipient's fees in the
    /// BondingManager, from the sender's deposit and then from the recipient's share of the reserve (the ETH
    /// stays here until the BondingManager orders it paid out, see `payFees`).
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
        bondingManager.creditFees(address(uint160(_field(ticket, 0))), creationRound, _field(ticket, 0x40));
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
            address recipient = address(uint160(_field(t, 0)));
            uint256 g;
            while (g < groups && (groupRecipient[g] != recipient || groupRound[g] != creationRound)) ++g;
            if (g == groups) {
                groupRecipient[g] = recipient;
                groupRound[g] = creationRound;
                ++groups;
            }
            groupAmount[g] += _field(t, 0x40);
        }
        for (uint256 g; g < groups; ++g) {
            bondingManager.creditFees(groupRecipient[g], groupRound[g], groupAmount[g]);
        }
    }

    /// @notice Deletes the used-ticket entries of expired tickets, for their storage refund: an expired
    /// ticket can never be redeemed, used or not. Hashes that are not used or not expired yet are skipped.
    /// Returns the number of entries deleted.
    function clearExpiredTickets(bytes32[] calldata ticketHashes) external returns (uint256 cleared) {
        uint256 round = _currentRound();
        for (uint256 i; i < ticketHashes.length; ++i) {
            uint256 expiry = _usedTickets[ticketHashes[i]];
            if (expiry != 0 && expiry <= round) {
                delete _usedTickets[ticketHashes[i]];
                ++cleared;
            }
        }
        if (cleared != 0) emit UsedTicketsCleared(cleared);
    }

    // ---------------------------------------------------------------- views

    /// @notice keccak256 of the ticket's 232-byte packed preimage (168 bytes with empty auxData).
    function getTicketHash(Ticket calldata ticket) public pure returns (bytes32 hash) {
        address recipient = ticket.recipient;
        address sender = ticket.sender;
        bytes calldata aux = ticket.auxData;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, shl(96, recipient))
            mstore(add(ptr, 20), shl(96, sender))
            calldatacopy(add(ptr, 40), add(ticket, 0x40), 0x80) // faceValue .. recipientRandHash
            calldatacopy(add(ptr, 168), aux.offset, aux.length)
            hash := keccak256(ptr, add(168, aux.length))
        }
    }

    /// @notice Whether the ticket with hash `ticketHash` was redeemed (Livepeer's `usedTickets`). An entry
    /// deleted by `clearExpiredTickets` reads false again, but its ticket is expired and stays unredeemable.
    function usedTickets(bytes32 ticketHash) external view returns (bool) {
        return _usedTickets[ticketHash] != 0;
    }

    /// @notice Whether the ticket was redeemed: `usedTickets(getTicketHash(ticket))`.
    function isTicketUsed(Ticket calldata ticket) external view returns (bool) {
        return _usedTickets[getTicketHash(ticket)] != 0;
    }

    /// @notice A sender's deposit and withdraw round, and its reserve info (Livepeer's 128-byte layout).
    function getSenderInfo(address sender)
        external
        view
        returns (SenderInfo memory info, ReserveInfo memory reserve)
    {
        Sender memory s = _senders[sender];
        info = SenderInfo({deposit: s.deposit, withdrawRound: s.withdrawRound});
        reserve = getReserveInfo(sender);
    }

    /// @notice A sender's remaining reserve and the amount paid out of it in the current round.
    function getReserveInfo(address reserveHolder) public view returns (ReserveInfo memory info) {
        ReserveState memory st = _reserves[reserveHolder];
        info.fundsRemaining = _senders[reserveHolder].reserve;
        info.claimedInCurrentRound = st.claimRound == _currentRound() ? st.claimed : 0;
    }

    /// @notice What `claimant` took from `reserveHolder`'s reserve in the current round.
    function claimedReserve(address reserveHolder, address claimant) external view returns (uint256) {
        Cover memory c = _covers[reserveHolder][claimant];
        return c.claimRound == _currentRound() ? c.claimed : 0;
    }

    /// @notice Whether `sender` called `unlock` and has not withdrawn or cancelled since.
    function isUnlockInProgress(address sender) external view returns (bool) {
        return _senders[sender].withdrawRound != 0;
    }

    /// @notice What `recipient` may still take from `sender`'s reserve in the current round: its share of
    /// the reserve as it stood at the start of the round, minus what it already took this round. The share
    /// is an equal part among the recipients the sender's reserve covers by name this round, or, for a
    /// sender that covers none, the recipient's part of the round-start active stake.
    function claimableReserve(address sender, address recipient) external view returns (uint256) {
        (uint256 st, uint256 cover) = _reserveWords(sender, recipient);
        return _claimable(st, cover, recipient, _senders[sender].reserve, _currentRound());
    }

    /// @notice The current round, computed from the RoundsManager's immutable round length.
    function currentRound() external view returns (uint256) {
        return _currentRound();
    }

    // ---------------------------------------------------------------- internals

    function _currentRound() internal view override returns (uint256) {
        return block.number / roundLength;
    }

    function _changeDelay() internal view override returns (uint256) {
        return ticketValidityPeriod;
    }

    function _stakeWeight(address recipient) internal view override returns (uint256, uint256) {
        return bondingManager.reserveWeight(recipient);
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
        if (depositAmount != 0) emit DepositFunded(sender, depositAmount);
        if (reserveAmount != 0) emit ReserveFunded(sender, reserveAmount);
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
        uint256 slot;
        assembly ("memory-safe") {
            mstore(0, ticketHash)
            mstore(0x20, _usedTickets.slot)
            slot := keccak256(0, 0x40)
        }
        if (_loadWord(slot) != 0) return (TicketAlreadyUsed.selector, creationRound);

        err = _pay(t, ctx);
        if (err != bytes4(0)) return (err, creationRound);

        // The ticket is valid while creationRound + validity > round: expired from that sum on, which is
        // never zero because validity >= 1.
        uint256 expiry = creationRound + ticketValidityPeriod;
        assembly ("memory-safe") {
            sstore(slot, expiry)
        }
        _emitRedeemed(t, rand);
    }

    /// @dev Livepeer's `WinningTicketTransfer` and `WinningTicketRedeemed`, written from calldata without
    /// an ABI-encoding pass (the auxData is known to be 64 bytes here).
    function _emitRedeemed(Ticket calldata t, uint256 rand) private {
        bytes32 transferTopic = WinningTicketTransfer.selector;
        bytes32 redeemedTopic = WinningTicketRedeemed.selector;
        uint256 aux = _auxOffset(t);
        assembly ("memory-safe") {
            let recipient := calldataload(t)
            let sender := calldataload(add(t, 0x20))
            let ptr := mload(0x40)
            calldatacopy(ptr, add(t, 0x40), 0x60) // faceValue, winProb, senderNonce
            log3(ptr, 0x20, transferTopic, sender, recipient)
            mstore(add(ptr, 0x60), rand)
            mstore(add(ptr, 0x80), 0xa0) // offset of auxData in the data
            mstore(add(ptr, 0xa0), 0x40)
            calldatacopy(add(ptr, 0xc0), aux, 0x40)
            log3(ptr, 0x100, redeemedTopic, sender, recipient)
        }
    }

    /// @dev The head word at byte `at` of a ticket whose fields `_checkFieldsAndRound` already validated
    /// (addresses clean, auxData in bounds): a plain calldata load, without re-validation.
    function _field(Ticket calldata t, uint256 at) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(t, at))
        }
    }

    /// @dev Calldata offset of a validated ticket's 64 auxData bytes.
    function _auxOffset(Ticket calldata t) private pure returns (uint256 offset) {
        assembly ("memory-safe") {
            offset := add(add(t, calldataload(add(t, 0xc0))), 0x20)
        }
    }

    function _loadWord(uint256 slot) private view returns (uint256 value) {
        assembly ("memory-safe") {
            value := sload(slot)
        }
    }

    /// @dev Everything that does not depend on storage of this contract: fields, round, rand, signature, win.
    function _validate(Ticket calldata t, bytes calldata sig, uint256 rand, Context memory ctx)
        private
        view
        returns (bytes4 err, uint256 creationRound, bytes32 ticketHash)
    {
        (err, creationRound) = _checkFieldsAndRound(t, ctx);
        if (err != bytes4(0)) return (err, creationRound, 0);
        bytes32 randHash;
        assembly ("memory-safe") {
            mstore(0, rand)
            randHash := keccak256(0, 0x20)
        }
        if (randHash != bytes32(_field(t, 0xa0))) return (InvalidRecipientRand.selector, creationRound, 0);
        ticketHash = _hashValidated(t);
        err = _checkSignature(ticketHash, sig, address(uint160(_field(t, 0x20))));
        if (err != bytes4(0)) return (err, creationRound, ticketHash);
        uint256 draw;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, sig.offset, 65)
            mstore(add(ptr, 65), rand)
            draw := keccak256(ptr, 97)
        }
        if (draw >= _field(t, 0x60)) return (TicketDidNotWin.selector, creationRound, ticketHash);
    }

    /// @dev The ticket's fields, its expiry and the creation round's block hash, and that the current round
    /// is initialized.
    function _checkFieldsAndRound(Ticket calldata t, Context memory ctx)
        private
        view
        returns (bytes4, uint256 creationRound)
    {
        if (t.recipient == address(0)) return (InvalidRecipient.selector, 0);
        if (t.sender == address(0)) return (InvalidSender.selector, 0);
        if (t.faceValue == 0) return (ZeroFaceValue.selector, 0);
        bytes calldata aux = t.auxData;
        if (aux.length != 64) return (InvalidAuxData.selector, 0);
        bytes32 auxHash;
        assembly ("memory-safe") {
            creationRound := calldataload(aux.offset)
            auxHash := calldataload(add(aux.offset, 0x20))
        }
        uint256 round = ctx.round;
        // Written to avoid overflow on an absurd creationRound: expired iff creationRound + validity <= round.
        if (creationRound <= round && round - creationRound >= ticketValidityPeriod) {
            return (TicketExpired.selector, creationRound);
        }
        if (ctx.hashRound != creationRound) {
            ctx.blockHash = _blockHashForRound(creationRound);
            ctx.hashRound = creationRound;
        }
        if (ctx.blockHash == bytes32(0) || ctx.blockHash != auxHash) {
            return (InvalidCreationRoundBlockHash.selector, creationRound);
        }
        if (!ctx.roundInitialized) {
            // A ticket of the current round proves it initialized (its block hash is set); otherwise ask,
            // once per transaction.
            if (creationRound != round && _blockHashForRound(round) == bytes32(0)) {
                return (RoundNotInitialized.selector, creationRound);
            }
            ctx.roundInitialized = true;
        }
        return (bytes4(0), creationRound);
    }

    /// @dev `getTicketHash` of a validated ticket (64-byte auxData), from plain calldata loads.
    function _hashValidated(Ticket calldata t) private pure returns (bytes32 hash) {
        uint256 aux = _auxOffset(t);
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, shl(96, calldataload(t)))
            mstore(add(ptr, 20), shl(96, calldataload(add(t, 0x20))))
            calldatacopy(add(ptr, 40), add(t, 0x40), 0x80) // faceValue .. recipientRandHash
            calldatacopy(add(ptr, 168), aux, 0x40)
            hash := keccak256(ptr, 232)
        }
    }

    /// @dev `rounds.blockHashForRound(round)` with a plain static call (the RoundsManager is ours and
    /// returns one word).
    function _blockHashForRound(uint256 round) private view returns (bytes32 hash) {
        address target = address(rounds);
        bytes4 selector = IRoundsManager.blockHashForRound.selector;
        bool ok;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 4), round)
            ok := and(gt(returndatasize(), 0x1f), staticcall(gas(), target, ptr, 0x24, 0, 0x20))
            hash := mload(0)
        }
        if (!ok) revert RoundsCallFailed();
    }

    /// @dev EIP-191 personal-sign check: 65 bytes r || s || v, v in {27, 28}, low s, signer == sender.
    function _checkSignature(bytes32 ticketHash, bytes calldata sig, address sender)
        private
        view
        returns (bytes4)
    {
        if (sig.length != 65) return InvalidSignatureLength.selector;
        bytes32 r;
        bytes32 s;
        uint256 v;
        assembly ("memory-safe") {
            r := calldataload(sig.offset)
            s := calldataload(add(sig.offset, 0x20))
            v := byte(0, calldataload(add(sig.offset, 0x40)))
        }
        if (v != 27 && v != 28) return InvalidSignatureV.selector;
        if (uint256(s) > HALF_ORDER) return InvalidSignatureS.selector;
        address signer;
        assembly ("memory-safe") {
            mstore(0, "\x19Ethereum Signed Message:\n32")
            mstore(28, ticketHash)
            let digest := keccak256(0, 60)
            let ptr := mload(0x40)
            mstore(ptr, digest)
            mstore(add(ptr, 0x20), v)
            mstore(add(ptr, 0x40), r)
            mstore(add(ptr, 0x60), s)
            mstore(0, 0)
            // The precompile returns nothing for an invalid signature: the zero stored above stays.
            pop(staticcall(gas(), 1, ptr, 0x80, 0, 0x20))
            signer := mload(0)
        }
        if (signer == address(0) || signer != sender) return InvalidSignature.selector;
        return bytes4(0);
    }

    /// @dev Takes the face value from the deposit, then from the recipient's reserve share; all or nothing.
    /// Works on the packed storage words (one read and one write per slot) of `Sender`, `ReserveState` and
    /// `Cover`, whose layouts are fixed above: the first member in the lowest bits.
    function _pay(Ticket calldata t, Context memory ctx) private returns (bytes4) {
        address sender = address(uint160(_field(t, 0x20)));
        Sender storage sp = _senders[sender];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(sp.slot)
        }
        uint256 deposit = word & MASK96;
        uint256 reserve = (word >> 96) & MASK96;
        uint256 withdrawRound = word >> 192;
        uint256 round = ctx.round;
        if (withdrawRound != 0 && round >= withdrawRound) return SenderUnlocked.selector;
        uint256 face = _field(t, 0x40);
        uint256 fromDeposit = face <= deposit ? face : deposit;
        uint256 fromReserve = face - fromDeposit;
        if (fromReserve != 0) {
            address recipient = address(uint160(_field(t, 0)));
            ReserveState storage stp = _reserves[sender];
            Cover storage cp = _covers[sender][recipient];
            uint256 st;
            uint256 cover;
            assembly ("memory-safe") {
                st := sload(stp.slot)
                cover := sload(cp.slot)
            }
            if (_claimable(st, cover, recipient, reserve, round) < fromReserve) {
                return InsufficientFunds.selector;
            }
            // fromReserve <= reserve < 2^96; a round's claims are bounded by the ETH ever funded (< 2^96).
            st = _addClaim(st, fromReserve, round);
            cover = _addClaim(cover, fromReserve, round);
            assembly ("memory-safe") {
                sstore(stp.slot, st)
                sstore(cp.slot, cover)
            }
            reserve -= fromReserve;
            emit ReserveClaimed(sender, recipient, fromReserve);
        }
        word = (deposit - fromDeposit) | (reserve << 96) | (withdrawRound << 192);
        assembly ("memory-safe") {
            sstore(sp.slot, word)
        }
        return bytes4(0);
    }
}
