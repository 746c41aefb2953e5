// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title ReserveAllocation
/// @notice The part of the TicketBroker that decides how much of a sender's reserve each recipient may take
/// in a round. A sender names the recipients its reserve covers; changes take effect a ticket validity
/// period after the request, so neither an addition nor a removal touches a share that tickets already
/// issued rely on. In a round with k recipients covered by name each may take (reserve at the start of the
/// round) / k; a sender that covers no one has its reserve split by round-start active stake. Every input
/// is fixed for the round. See contracts/README.md, "the reserve allocation".
abstract contract ReserveAllocation {
    /// @notice The most recipients a sender's reserve covers by name.
    uint256 public constant MAX_RESERVE_RECIPIENTS = 64;

    uint256 internal constant MASK16 = (1 << 16) - 1;
    uint256 internal constant MASK48 = (1 << 48) - 1;
    uint256 internal constant MASK96 = (1 << 96) - 1;
    uint256 internal constant MASK144 = (1 << 144) - 1;

    /// @dev Per sender: what its reserve paid in round `claimRound`, and how many named recipients its
    /// reserve covers (`count` from round `countRound` on, `prevCount` before). Rounds fit in 48 bits on any
    /// chain (block number / round length).
    struct ReserveState {
        uint96 claimed;
        uint48 claimRound;
        uint16 count;
        uint16 prevCount;
        uint48 countRound;
    }

    /// @dev Per (sender, recipient): what the recipient took from the reserve in round `claimRound`, and the
    /// rounds `[fromRound, untilRound)` in which the sender's reserve covers it by name (`fromRound` zero: not
    /// named; `untilRound` zero: no removal requested).
    struct Cover {
        uint96 claimed;
        uint48 claimRound;
        uint48 fromRound;
        uint48 untilRound;
    }

    mapping(address sender => ReserveState) internal _reserves;
    mapping(address sender => mapping(address recipient => Cover)) internal _covers;

    // ---------------------------------------------------------------- errors

    /// @notice The zero address cannot be a reserve recipient.
    error ZeroRecipient();
    /// @notice The list of recipients is empty.
    error EmptyRecipients();
    /// @notice The sender already names `recipient` (a removal pending or not).
    error AlreadyReserveRecipient(address recipient);
    /// @notice The sender does not name `recipient`, or its removal was already requested.
    error NotReserveRecipient(address recipient);
    /// @notice A sender names at most `max` reserve recipients.
    error TooManyReserveRecipients(uint256 max);
    /// @notice A change of the sender's recipients requested in an earlier round takes effect in
    /// `effectiveRound`; the next change may be requested from then on.
    error ReserveChangePending(uint256 effectiveRound);

    // ---------------------------------------------------------------- events

    /// @notice `sender`'s reserve covers `recipient` from round `fromRound` on.
    event ReserveRecipientAdded(address indexed sender, address indexed recipient, uint256 fromRound);
    /// @notice `sender`'s reserve covers `recipient` until round `untilRound` (excluded).
    event ReserveRecipientRemoved(address indexed sender, address indexed recipient, uint256 untilRound);

    // ---------------------------------------------------------------- changes

    /// @notice Names `recipients` as covered by the caller's reserve from round `currentRound() +
    /// ticketValidityPeriod` on: until then no share changes, so tickets already issued keep the share they
    /// were accepted with. All changes requested in one round take effect together; a change requested
    /// while an earlier round's change is pending reverts with `ReserveChangePending`.
    function addReserveRecipients(address[] calldata recipients) external {
        (ReserveState memory st, uint256 round, uint256 effective) = _beginChange(recipients.length);
        uint256 count = st.count;
        for (uint256 i; i < recipients.length; ++i) {
            address recipient = recipients[i];
            if (recipient == address(0)) revert ZeroRecipient();
            Cover storage c = _covers[msg.sender][recipient];
            uint256 until = c.untilRound;
            if (c.fromRound != 0 && (until == 0 || until > round)) revert AlreadyReserveRecipient(recipient);
            if (++count > MAX_RESERVE_RECIPIENTS) revert TooManyReserveRecipients(MAX_RESERVE_RECIPIENTS);
            c.fromRound = uint48(effective);
            c.untilRound = 0;
            emit ReserveRecipientAdded(msg.sender, recipient, effective);
        }
        st.count = uint16(count);
        _reserves[msg.sender] = st;
    }

    /// @notice Ends the caller's reserve cover of `recipients` in round `currentRound() +
    /// ticketValidityPeriod`: every ticket issued up to now expires before then, so a sender cannot drop a
    /// recipient it owes. A recipient should not count on the reserve for tickets issued after the request
    /// (see `reserveRecipient`). Same timing rule as `addReserveRecipients`.
    function removeReserveRecipients(address[] calldata recipients) external {
        (ReserveState memory st, uint256 round, uint256 effective) = _beginChange(recipients.length);
        uint256 count = st.count;
        for (uint256 i; i < recipients.length; ++i) {
            address recipient = recipients[i];
            Cover storage c = _covers[msg.sender][recipient];
            uint256 until = c.untilRound;
            if (c.fromRound == 0 || until != 0) {
                // Not named, or a removal was already requested (pending, or effective: no longer named).
                revert NotReserveRecipient(recipient);
            }
            c.untilRound = uint48(effective);
            --count; // count >= 1: the recipient is counted from fromRound <= effective on
            emit ReserveRecipientRemoved(msg.sender, recipient, effective);
        }
        st.count = uint16(count);
        _reserves[msg.sender] = st;
    }

    /// @dev Checkpoints the caller's covered count before a change that takes effect in `effective`.
    function _beginChange(uint256 n)
        private
        view
        returns (ReserveState memory st, uint256 round, uint256 effective)
    {
        if (n == 0) revert EmptyRecipients();
        st = _reserves[msg.sender];
        round = _currentRound();
        effective = round + _changeDelay();
        uint256 pending = st.countRound;
        if (pending <= round) {
            st.prevCount = st.count;
            st.countRound = uint48(effective);
        } else if (pending != effective) {
            revert ReserveChangePending(pending);
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice The rounds `[fromRound, untilRound)` in which `sender`'s reserve covers `recipient` by name
    /// (`fromRound` zero: not named; `untilRound` zero: no removal requested). A recipient that accepts a
    /// ticket backed by the reserve checks that the ticket expires before `untilRound`.
    function reserveRecipient(address sender, address recipient)
        external
        view
        returns (uint256 fromRound, uint256 untilRound)
    {
        Cover memory c = _covers[sender][recipient];
        return (c.fromRound, c.untilRound);
    }

    /// @notice How many recipients `sender`'s reserve covers by name in the current round, and from round
    /// `nextRound` on (equal to the current round when no change is pending). Zero: the stake-weighted
    /// split applies.
    function reserveRecipientCount(address sender)
        external
        view
        returns (uint256 current, uint256 next, uint256 nextRound)
    {
        ReserveState memory st = _reserves[sender];
        uint256 round = _currentRound();
        if (round >= st.countRound) return (st.count, st.count, round);
        return (st.prevCount, st.count, st.countRound);
    }

    /// @dev The packed `ReserveState` word of `sender` and `Cover` word of (`sender`, `recipient`).
    function _reserveWords(address sender, address recipient)
        internal
        view
        returns (uint256 st, uint256 cover)
    {
        ReserveState storage stp = _reserves[sender];
        Cover storage cp = _covers[sender][recipient];
        assembly ("memory-safe") {
            st := sload(stp.slot)
            cover := sload(cp.slot)
        }
    }

    // ---------------------------------------------------------------- hooks and arithmetic

    /// @dev The current round.
    function _currentRound() internal view virtual returns (uint256);

    /// @dev Rounds between a change of recipients and its effect: the ticket validity period.
    function _changeDelay() internal view virtual returns (uint256);

    /// @dev A recipient's active stake and the total active stake, both at the start of the round.
    function _stakeWeight(address recipient) internal view virtual returns (uint256 stake, uint256 total);

    /// @dev Adds `amount` to the (claimed, claimRound) pair in the low 144 bits of a `ReserveState` or
    /// `Cover` word, restarting from zero in a new round.
    function _addClaim(uint256 word, uint256 amount, uint256 round) internal pure returns (uint256) {
        uint256 claimed = ((word >> 96) & MASK48) == round ? word & MASK96 : 0;
        return (word & ~MASK144) | (claimed + amount) | (round << 96);
    }

    /// @dev The recipient's share of the reserve as it stood at the start of the round ((reserve + claimed
    /// this round), as Livepeer's), minus what it took this round. The share is an equal part among the
    /// recipients covered by name this round, or the recipient's part of the round-start active stake when
    /// the sender covers none. Every input is fixed for the round, so the share cannot change within it.
    /// `st` and `cover` are the packed `ReserveState` and `Cover` words.
    function _claimable(uint256 st, uint256 cover, address recipient, uint256 reserve, uint256 round)
        internal
        view
        returns (uint256)
    {
        if (reserve == 0) return 0;
        uint256 atStart = reserve + (((st >> 96) & MASK48) == round ? st & MASK96 : 0);
        // count from countRound on, prevCount before.
        uint256 named = round >= (st >> 176) & MASK48 ? (st >> 144) & MASK16 : (st >> 160) & MASK16;
        uint256 allocation;
        if (named != 0) {
            uint256 fromRound = (cover >> 144) & MASK48;
            uint256 until = (cover >> 192) & MASK48;
            if (fromRound == 0 || fromRound > round || (until != 0 && until <= round)) return 0;
            allocation = atStart / named;
        } else {
            (uint256 stake, uint256 total) = _stakeWeight(recipient);
            if (stake == 0 || total == 0) return 0;
            allocation = (atStart * stake) / total; // atStart < 2^97, stake <= total < 2^128
        }
        uint256 taken = ((cover >> 96) & MASK48) == round ? cover & MASK96 : 0;
        if (allocation <= taken) return 0;
        uint256 claimable = allocation - taken;
        return claimable < reserve ? claimable : reserve;
    }
}
