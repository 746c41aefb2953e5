// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {BondingLedger} from "./BondingLedger.sol";
import {IBondingManager} from "./interfaces/IBondingManager.sol";
import {IRoundsManager} from "./interfaces/IRoundsManager.sol";
import {IStakeToken} from "./interfaces/IStakeToken.sol";
import {ITicketBroker} from "./interfaces/ITicketBroker.sol";

/// @title BondingManager
/// @notice Stake, delegation, per-round inflationary rewards and ETH ticket fees.
///
/// Delegators bond stake tokens to an orchestrator (an orchestrator bonds to itself). A registered
/// orchestrator whose total delegated stake is at least `minActiveStake` is active; there is no cap on the
/// number of active orchestrators. Once per round an active orchestrator calls `reward()`: it mints
/// `inflationPPB` parts per billion of its active stake (as of the start of the round), keeps `rewardCut`
/// and leaves the rest to its delegators. Relating inflation to the active stake rather than the supply
/// bounds how fast the reward factor grows (it cannot overflow for tens of thousands of rounds). Ticket fees arrive from the TicketBroker through
/// `creditFees`; `feeShare` of them goes to the delegators.
///
/// Accounting (contracts/README.md has the arithmetic): each orchestrator keeps two cumulative factors as
/// running values, as in Livepeer's LIP-36 without one record per round. `rewardFactor` multiplies every
/// counted amount when rewards are distributed; `feeFactor` accumulates fees per unit of stake scaled by
/// `rewardFactor`. The earnings of round r are shared over the stake bonded at the start of round r: stake
/// added during a round earns from the next one (the delegator keeps the added amount apart, and settles it
/// with the factors of that round's end, written lazily), stake removed stops earning at once. Claims are
/// O(1), and a fee credit writes two slots (the second, with the orchestrator's cut, is never fresh).
///
/// Creation round: fees are credited with the fee share committed for the ticket's creation round; a
/// change of `rewardCut`/`feeShare` takes effect from the next round and another is refused until every
/// ticket created under the previous value has expired, so one stored previous value is enough.
///
/// Activity snapshots: the per-orchestrator active stake and the global active count/total are kept with
/// their value at the start of the current round (one lazy checkpoint each), so the reserve split and the
/// reward share use an active set and a pool size that always agree (Livepeer protocol #656).
contract BondingManager is IBondingManager, BondingLedger, Ownable, ReentrancyGuardTransient {
    using SafeCast for uint256;
    using SafeERC20 for IStakeToken;

    /// @notice Parts per million: the unit of `rewardCut`, `feeShare` and slashing fractions.
    uint256 public constant PPM = 1_000_000;
    /// @notice Initial value of an orchestrator's reward factor.
    /// @notice Inflation is expressed in parts per billion of the active stake per round.
    uint256 public constant PPB = 1_000_000_000;
    /// @notice Upper bound of `inflationPPB` (1% per round).
    uint256 public constant MAX_INFLATION_PPB = 10_000_000;

    // ---------------------------------------------------------------- errors

    /// @notice A zero address was given where an address is required.
    error ZeroAddress();
    /// @notice An amount of zero was given where a positive amount is required.
    error ZeroAmount();
    /// @notice A constructor parameter is out of range.
    error InvalidParameter();
    /// @notice A parts-per-million value exceeds 1,000,000.
    error InvalidPPM(uint256 value);
    /// @notice The inflation exceeds `MAX_INFLATION_PPB`.
    error InflationTooHigh(uint256 ppb);
    /// @notice `initialize` was already called.
    error AlreadyInitialized();
    /// @notice The caller is not allowed to call this function.
    error Unauthorized(address caller);
    /// @notice The caller must be bonded to itself with a positive amount to register.
    error NotSelfBonded(address caller);
    /// @notice The orchestrator is already registered.
    error AlreadyRegistered(address orchestrator);
    /// @notice The address is not a registered orchestrator.
    error NotRegistered(address orchestrator);
    /// @notice A registered orchestrator cannot move its own stake to another orchestrator.
    error OrchestratorCannotDelegate(address orchestrator);
    /// @notice The amount exceeds the caller's bonded stake.
    error InsufficientBond(uint256 requested, uint256 available);
    /// @notice There is no unbonded stake to withdraw.
    error NothingToWithdraw();
    /// @notice The unbonded stake is locked until `withdrawRound`.
    error UnbondingLocked(uint256 withdrawRound);
    /// @notice The amount exceeds the caller's earned fees.
    error InsufficientFees(uint256 requested, uint256 available);
    /// @notice Sending ETH failed.
    error TransferFailed();
    /// @notice Parameters changed too recently: tickets created under the previous values may still be
    /// redeemed. The next change is possible in `earliestRound`.
    error ParamsChangeTooSoon(uint256 earliestRound);
    /// @notice `reward()` was already called in this round.
    error RewardAlreadyClaimed(uint256 round);
    /// @notice The orchestrator is not active in the current round.
    error NotActive(address orchestrator);
    /// @notice The current round has not been initialized in the RoundsManager.
    error RoundNotInitialized(uint256 round);

    // ---------------------------------------------------------------- events

    /// @notice The TicketBroker and FaultVerifier were wired in.
    event Initialized(address ticketBroker, address faultVerifier, uint256 ticketValidityPeriod);
    /// @notice The per-round inflation was changed.
    event InflationSet(uint256 ppb);
    /// @notice `delegator` bonded `amount` new tokens to `orchestrator`; its bonded stake is now `bonded`.
    event Bonded(address indexed delegator, address indexed orchestrator, uint256 amount, uint256 bonded);
    /// @notice `delegator` moved its bonded stake `amount` from `from` to `to`.
    event DelegateChanged(
        address indexed delegator, address indexed from, address indexed to, uint256 amount
    );
    /// @notice `delegator` unbonded `amount` from `orchestrator`; all its unbonding stake unlocks in
    /// `withdrawRound`.
    event Unbonded(
        address indexed delegator, address indexed orchestrator, uint256 amount, uint256 withdrawRound
    );
    /// @notice `delegator` withdrew `amount` unbonded tokens.
    event StakeWithdrawn(address indexed delegator, uint256 amount);
    /// @notice `delegator`'s earnings were settled: `rewards` compounded into its stake, `fees` made
    /// withdrawable.
    event EarningsClaimed(
        address indexed delegator, address indexed orchestrator, uint256 rewards, uint256 fees
    );
    /// @notice `delegator` withdrew `amount` wei of fees to `recipient`.
    event FeesWithdrawn(address indexed delegator, address indexed recipient, uint256 amount);
    /// @notice `orchestrator` registered.
    event OrchestratorRegistered(address indexed orchestrator, uint256 rewardCut, uint256 feeShare);
    /// @notice `orchestrator`'s parameters are `rewardCut` and `feeShare` from round `effectiveRound`.
    event OrchestratorParamsSet(
        address indexed orchestrator, uint256 rewardCut, uint256 feeShare, uint256 effectiveRound
    );
    /// @notice `orchestrator` is no longer registered.
    event OrchestratorResigned(address indexed orchestrator);
    /// @notice The stake counted for `orchestrator`'s activity is now `activeStake` (zero: inactive).
    event ActiveStakeChanged(address indexed orchestrator, uint256 activeStake);
    /// @notice `orchestrator` minted `amount` tokens of round `round` rewards and kept `orchestratorCut`.
    event Reward(
        address indexed orchestrator, uint256 indexed round, uint256 amount, uint256 orchestratorCut
    );
    /// @notice `amount` wei of fees of tickets created in `creationRound` were credited to `orchestrator`,
    /// `delegatorShare` of them to its delegators.
    event FeesCredited(
        address indexed orchestrator, uint256 indexed creationRound, uint256 amount, uint256 delegatorShare
    );
    /// @notice `orchestrator` lost `penalty` tokens; `finderFee` of them went to `finder`, the rest was burnt.
    event Slashed(address indexed orchestrator, address indexed finder, uint256 penalty, uint256 finderFee);

    // ---------------------------------------------------------------- storage

    struct ActivePool {
        uint32 count;
        uint32 startCount;
        uint64 round;
        uint128 total;
    }

    /// @notice The stake token.
    IStakeToken public immutable token;
    /// @notice The RoundsManager.
    IRoundsManager public immutable rounds;
    /// @notice Cached `rounds.roundLength()`, immutable there.
    uint256 public immutable roundLength;
    /// @notice Minimum stake for a registered orchestrator to be active.
    uint256 public immutable minActiveStake;
    /// @notice Rounds between `unbond` and `withdrawStake`.
    uint256 public immutable unbondingPeriod;

    /// @notice The only caller of `creditFees`.
    address public ticketBroker;
    /// @notice The only caller of `slash`.
    address public faultVerifier;
    /// @notice Copy of the broker's ticket validity period.
    uint256 public ticketValidityPeriod;
    /// @notice Tokens minted per round, in parts per billion of the active stake.
    uint256 public inflationPPB;

    ActivePool private _pool;
    uint128 private _startTotal;

    /// @param token_ The stake token; this contract must be its minter.
    /// @param rounds_ The RoundsManager.
    /// @param minActiveStake_ Minimum stake of an active orchestrator (at least 1).
    /// @param unbondingPeriod_ Rounds between `unbond` and `withdrawStake` (at least 1).
    /// @param inflationPPB_ Tokens minted per round in parts per billion of the active stake.
    constructor(
        IStakeToken token_,
        IRoundsManager rounds_,
        uint256 minActiveStake_,
        uint256 unbondingPeriod_,
        uint256 inflationPPB_
    ) Ownable(msg.sender) {
        if (address(token_) == address(0) || address(rounds_) == address(0)) {
            revert ZeroAddress();
        }
        if (minActiveStake_ == 0 || minActiveStake_ > type(uint96).max || unbondingPeriod_ == 0) {
            revert InvalidParameter();
        }
        if (inflationPPB_ > MAX_INFLATION_PPB) revert InflationTooHigh(inflationPPB_);
        token = token_;
        rounds = rounds_;
        roundLength = rounds_.roundLength();
        minActiveStake = minActiveStake_;
        unbondingPeriod = unbondingPeriod_;
        inflationPPB = inflationPPB_;
        emit InflationSet(inflationPPB_);
    }

    // ---------------------------------------------------------------- wiring and governance

    /// @notice Wires the TicketBroker and FaultVerifier. Owner only, once.
    function initialize(address ticketBroker_, address faultVerifier_) external onlyOwner {
        if (ticketBroker != address(0)) revert AlreadyInitialized();
        if (ticketBroker_ == address(0) || faultVerifier_ == address(0)) revert ZeroAddress();
        uint256 validity = ITicketBroker(ticketBroker_).ticketValidityPeriod();
        if (validity == 0) revert InvalidParameter();
        ticketBroker = ticketBroker_;
        faultVerifier = faultVerifier_;
        ticketValidityPeriod = validity;
        emit Initialized(ticketBroker_, faultVerifier_, validity);
    }

    /// @notice Sets the per-round inflation. Owner only. Applies from the next round that has no reward yet.
    function setInflation(uint256 ppb) external onlyOwner {
        if (ppb > MAX_INFLATION_PPB) revert InflationTooHigh(ppb);
        inflationPPB = ppb;
        emit InflationSet(ppb);
    }

    // ---------------------------------------------------------------- delegation

    /// @notice Bonds `amount` more tokens (pulled with transferFrom) to `to`. If the caller is bonded to
    /// another orchestrator, its whole stake moves to `to` first. `amount` may be zero for a pure move.
    function bond(uint256 amount, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        Delegator storage d = _delegators[msg.sender];
        address from = d.delegate;
        if (amount == 0 && from == to) revert ZeroAmount();
        _settle(msg.sender, d);
        uint256 bonded = d.bonded;
        uint256 round = _currentRound();
        Orchestrator storage target = _orchestrators[to];
        uint256 added = amount;
        if (from != to) {
            if (bonded != 0) {
                if (from == msg.sender && _orchestrators[from].registered) {
                    revert OrchestratorCannotDelegate(msg.sender);
                }
                Orchestrator storage source = _orchestrators[from];
                _removeStake(from, source, d, bonded, round);
                _updateActiveStake(from, source);
                emit DelegateChanged(msg.sender, from, to, bonded);
                added += bonded;
            }
            if (target.rewardFactor == 0) target.rewardFactor = uint160(FACTOR_ONE);
            d.delegate = to;
            d.rewardFactor = target.rewardFactor;
            d.feeFactor = target.feeFactor;
        }
        _addStake(to, target, d, added, round);
        uint256 newBonded = bonded + amount;
        d.bonded = uint96(newBonded); // never above target.stake, which fits in 96 bits
        _updateActiveStake(to, target);
        emit Bonded(msg.sender, to, amount, newBonded);
        if (amount != 0) token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Unbonds `amount` of the caller's stake. All of the caller's unbonding stake unlocks
    /// `unbondingPeriod` rounds from now. An orchestrator that unbonds all its own stake resigns.
    function unbond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Delegator storage d = _delegators[msg.sender];
        _settle(msg.sender, d);
        uint256 bonded = d.bonded;
        if (amount > bonded) revert InsufficientBond(amount, bonded);
        address orch = d.delegate;
        Orchestrator storage o = _orchestrators[orch];
        _removeStake(orch, o, d, amount, _currentRound());
        d.bonded = uint96(bonded - amount);
        if (orch == msg.sender && bonded == amount && o.registered) {
            o.registered = false;
            emit OrchestratorResigned(orch);
        }
        _updateActiveStake(orch, o);
        uint256 withdrawRound = _currentRound() + unbondingPeriod;
        d.unbonding += uint128(amount);
        d.withdrawRound = withdrawRound.toUint64();
        emit Unbonded(msg.sender, orch, amount, withdrawRound);
    }

    /// @notice Withdraws the caller's unbonded stake once its unbonding period is over.
    function withdrawStake() external nonReentrant {
        Delegator storage d = _delegators[msg.sender];
        uint256 amount = d.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        uint256 withdrawRound = d.withdrawRound;
        if (_currentRound() < withdrawRound) revert UnbondingLocked(withdrawRound);
        d.unbonding = 0;
        d.withdrawRound = 0;
        emit StakeWithdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Settles the caller's earnings: rewards compound into its bonded stake and fees become
    /// withdrawable. Optional: every other action settles first.
    function claimEarnings() external {
        _settle(msg.sender, _delegators[msg.sender]);
    }

    /// @notice Sends `amount` wei of the caller's earned fees to `recipient`.
    function withdrawFees(address payable recipient, uint256 amount) external nonReentrant {
        if (recipient == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        Delegator storage d = _delegators[msg.sender];
        _settle(msg.sender, d);
        Orchestrator storage own = _orchestrators[msg.sender];
        uint256 ownerFees = own.ownerFees;
        uint256 available = uint256(d.fees) + ownerFees;
        if (amount > available) revert InsufficientFees(amount, available);
        if (ownerFees != 0) own.ownerFees = 0;
        d.fees = (available - amount).toUint128();
        emit FeesWithdrawn(msg.sender, recipient, amount);
        // The fees' ETH stays in the TicketBroker that redeemed them; it pays on this order.
        ITicketBroker(ticketBroker).payFees(recipient, amount);
    }

    // ---------------------------------------------------------------- orchestrators

    /// @notice Registers the caller as an orchestrator. It must be bonded to itself.
    /// @param rewardCut Share of each round's reward the orchestrator keeps, in PPM.
    /// @param feeShare Share of ticket fees paid to its delegators, in PPM.
    function registerOrchestrator(uint256 rewardCut, uint256 feeShare) external {
        Delegator storage d = _delegators[msg.sender];
        if (d.delegate != msg.sender || d.bonded == 0) revert NotSelfBonded(msg.sender);
        Orchestrator storage o = _orchestrators[msg.sender];
        if (o.registered) revert AlreadyRegistered(msg.sender);
        o.registered = true;
        emit OrchestratorRegistered(msg.sender, rewardCut, feeShare);
        _setParams(msg.sender, o, rewardCut, feeShare);
        _updateActiveStake(msg.sender, o);
    }

    /// @notice Changes the caller's reward cut and fee share from the next round on.
    function setOrchestratorParams(uint256 rewardCut, uint256 feeShare) external {
        Orchestrator storage o = _orchestrators[msg.sender];
        if (!o.registered) revert NotRegistered(msg.sender);
        _setParams(msg.sender, o, rewardCut, feeShare);
    }

    /// @notice Deregisters the caller. Its stake and its delegators' stay bonded.
    function resign() external {
        Orchestrator storage o = _orchestrators[msg.sender];
        if (!o.registered) revert NotRegistered(msg.sender);
        o.registered = false;
        emit OrchestratorResigned(msg.sender);
        _updateActiveStake(msg.sender, o);
    }

    /// @notice Mints the caller's reward for the current round; callable once per round by an orchestrator
    /// active at the start of the round: `inflationPPB` of its active stake at the start of the round (or
    /// of the stake still counted in the round, if lower). Stake bonded during the round gets no part.
    function reward() external {
        Orchestrator storage o = _orchestrators[msg.sender];
        if (!o.registered) revert NotRegistered(msg.sender);
        uint256 round = _currentRound();
        if (!rounds.currentRoundInitialized()) revert RoundNotInitialized(round);
        if (o.nextRewardRound > round) revert RewardAlreadyClaimed(round);
        uint256 weight = Math.min(_startActiveStake(o, round), o.activeStake);
        if (weight == 0) revert NotActive(msg.sender);
        o.nextRewardRound = uint64(round + 1);
        _roll(msg.sender, o, round);
        // Only the stake bonded since the round's start earns, and it shares the delegators' part.
        uint256 counted = o.counted;
        weight = Math.min(weight, counted);

        // Inflation is relative to the active stake, so a reward multiplies an orchestrator's stake by at
        // most 1 + inflationPPB / PPB: the reward factor grows at a bounded rate whatever the bonding rate.
        uint256 amount = (weight * inflationPPB) / PPB;
        uint256 cut = (amount * (round >= o.paramsRound ? o.rewardCut : o.prevRewardCut)) / PPM;
        if (amount != 0) {
            uint256 delegatorPart = amount - cut;
            o.rewardFactor = Math.mulDiv(o.rewardFactor, counted + delegatorPart, counted).toUint160();
            o.counted = uint96(counted + delegatorPart); // below stake + amount, checked below
            if (o.increased) o.moved = true;
            o.stake = (uint256(o.stake) + delegatorPart).toUint96();
            // The cut is new stake of the orchestrator's own: it earns from the next round.
            Delegator storage self = _delegators[msg.sender];
            _settle(msg.sender, self);
            _addStake(msg.sender, o, self, cut, round);
            self.bonded = (uint256(self.bonded) + cut).toUint96();
            _updateActiveStake(msg.sender, o);
        }
        emit Reward(msg.sender, round, amount, cut);
        if (amount != 0) token.mint(address(this), amount);
    }

    // ---------------------------------------------------------------- protocol callbacks

    /// @inheritdoc IBondingManager
    function creditFees(address orchestrator, uint256 creationRound, uint256 fees) external {
        if (msg.sender != ticketBroker) revert Unauthorized(msg.sender);
        Orchestrator storage o = _orchestrators[orchestrator];
        // Only a registered orchestrator earns fees, as in Livepeer: tickets pay staked, registered
        // orchestrators and their delegators, never an arbitrary address (which would let a sender move its
        // deposit to an address of its own at once instead of unlocking it). `registered` shares the slot
        // read below, so the check costs no extra storage read.
        if (!o.registered) revert NotRegistered(orchestrator);
        uint256 share = creationRound >= o.paramsRound ? o.feeShare : o.prevFeeShare;
        uint256 round = _currentRound();
        if (o.round != round) _roll(orchestrator, o, round);
        // Shared over the stake bonded at the start of the round (rewards included), not the stake now.
        uint256 counted = o.counted;
        uint256 owed = o.ownerFees;
        bool increased = o.increased;
        uint256 delegatorShare;
        if (counted != 0 && share != 0) {
            // Cannot overflow: fees are below 2^128 (all ether) and share at most PPM.
            unchecked {
                delegatorShare = (fees * share) / PPM;
            }
            o.feeFactor += Math.mulDiv(delegatorShare, o.rewardFactor, counted);
        }
        // The orchestrator's cut stays in its record (the slot written anyway), withdrawable at once.
        // Cannot overflow or underflow: owed < 2^80, fees < 2^128 and delegatorShare <= fees.
        unchecked {
            owed += fees - delegatorShare;
        }
        if (owed > type(uint80).max) {
            Delegator storage self = _delegators[orchestrator];
            self.fees = (uint256(self.fees) + owed).toUint128();
            owed = 0;
        }
        if (increased && delegatorShare != 0) o.moved = true;
        o.ownerFees = uint80(owed);
        emit FeesCredited(orchestrator, creationRound, fees, delegatorShare);
    }

    /// @inheritdoc IBondingManager
    function slash(address orchestrator, uint256 fractionPPM, address finder, uint256 finderFeePPM)
        external
        nonReentrant
    {
        if (msg.sender != faultVerifier) revert Unauthorized(msg.sender);
        if (fractionPPM > PPM) revert InvalidPPM(fractionPPM);
        if (finderFeePPM > PPM) revert InvalidPPM(finderFeePPM);
        Delegator storage d = _delegators[orchestrator];
        _settle(orchestrator, d);
        uint256 bondedPenalty = (uint256(d.bonded) * fractionPPM) / PPM;
        uint256 unbondingPenalty = (uint256(d.unbonding) * fractionPPM) / PPM;
        address delegate = d.delegate;
        Orchestrator storage o = _orchestrators[delegate];
        if (bondedPenalty != 0) {
            _removeStake(delegate, o, d, bondedPenalty, _currentRound());
            d.bonded -= uint96(bondedPenalty);
        }
        d.unbonding -= uint128(unbondingPenalty);
        Orchestrator storage slashed = _orchestrators[orchestrator];
        if (slashed.registered) {
            // A proven fault ends the registration; the orchestrator may register again.
            slashed.registered = false;
            emit OrchestratorResigned(orchestrator);
        }
        _updateActiveStake(orchestrator, slashed);
        if (delegate != orchestrator) _updateActiveStake(delegate, o);
        uint256 penalty = bondedPenalty + unbondingPenalty;
        uint256 finderFee = finder == address(0) ? 0 : (penalty * finderFeePPM) / PPM;
        emit Slashed(orchestrator, finder, penalty, finderFee);
        if (penalty > finderFee) token.burn(penalty - finderFee);
        if (finderFee != 0) token.safeTransfer(finder, finderFee);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IBondingManager
    function poolInfo(address orchestrator) external view returns (bool active, uint256 poolSize) {
        uint256 round = _currentRound();
        active = _startActiveStake(_orchestrators[orchestrator], round) != 0;
        ActivePool memory p = _pool;
        poolSize = p.round == round ? p.startCount : p.count;
    }

    /// @inheritdoc IBondingManager
    function reserveWeight(address orchestrator) external view returns (uint256 stake, uint256 total) {
        uint256 round = _currentRound();
        stake = _startActiveStake(_orchestrators[orchestrator], round);
        total = _startTotalActive(round);
    }

    /// @notice Whether `orchestrator` is active in the current round (as of the round's start).
    function isActive(address orchestrator) public view returns (bool) {
        return _startActiveStake(_orchestrators[orchestrator], _currentRound()) != 0;
    }

    /// @notice Number of orchestrators active in the current round (as of the round's start).
    function activePoolSize() external view returns (uint256) {
        ActivePool memory p = _pool;
        return p.round == _currentRound() ? p.startCount : p.count;
    }

    /// @notice Total stake of the orchestrators active in the current round (as of the round's start).
    function totalActiveStake() external view returns (uint256) {
        return _startTotalActive(_currentRound());
    }

    /// @notice Number of orchestrators that would be active if a round started now, and their stake.
    function nextRoundPool() external view returns (uint256 count, uint256 total) {
        ActivePool memory p = _pool;
        return (p.count, p.total);
    }

    /// @inheritdoc IBondingManager
    function orchestratorInfo(address orchestrator) external view returns (OrchestratorView memory v) {
        Orchestrator storage o = _orchestrators[orchestrator];
        uint256 round = _currentRound();
        bool current = round >= o.paramsRound;
        v.registered = o.registered;
        v.active = _startActiveStake(o, round) != 0;
        v.stake = o.stake;
        v.rewardCut = current ? o.rewardCut : o.prevRewardCut;
        v.feeShare = current ? o.feeShare : o.prevFeeShare;
        v.lastRewardRound = o.nextRewardRound == 0 ? 0 : o.nextRewardRound - 1;
    }

    /// @notice Full state of an orchestrator: parameters in force now, the ones set for `paramsRound` on,
    /// and the accounting factors.
    function orchestratorState(address orchestrator)
        external
        view
        returns (
            bool registered,
            uint256 stake,
            uint256 activeStake,
            uint256 rewardCut,
            uint256 feeShare,
            uint256 prevRewardCut,
            uint256 prevFeeShare,
            uint256 paramsRound,
            uint256 lastRewardRound,
            uint256 rewardFactor,
            uint256 feeFactor
        )
    {
        Orchestrator storage o = _orchestrators[orchestrator];
        return (
            o.registered,
            o.stake,
            o.activeStake,
            o.rewardCut,
            o.feeShare,
            o.prevRewardCut,
            o.prevFeeShare,
            o.paramsRound,
            o.nextRewardRound == 0 ? 0 : o.nextRewardRound - 1,
            o.rewardFactor,
            o.feeFactor
        );
    }

    /// @notice Fee share (PPM) applied to fees of tickets created in `creationRound`.
    function feeShareForRound(address orchestrator, uint256 creationRound) external view returns (uint256) {
        Orchestrator storage o = _orchestrators[orchestrator];
        return creationRound >= o.paramsRound ? o.feeShare : o.prevFeeShare;
    }

    /// @notice A delegator's state with earnings settled up to now: its delegate, bonded stake (rewards
    /// included), withdrawable fees, unbonding stake and the round that stake unlocks.
    function delegatorInfo(address delegator)
        external
        view
        returns (address delegate, uint256 stake, uint256 fees, uint256 unbonding, uint256 withdrawRound)
    {
        Delegator storage d = _delegators[delegator];
        (stake, fees) = _pending(delegator);
        return (d.delegate, stake, fees, d.unbonding, d.withdrawRound);
    }

    /// @notice A delegator's bonded stake, rewards included.
    function pendingStake(address delegator) external view returns (uint256 stake) {
        (stake,) = _pending(delegator);
    }

    /// @notice A delegator's withdrawable fees, including those not settled yet.
    function pendingFees(address delegator) external view returns (uint256 fees) {
        (, fees) = _pending(delegator);
    }

    /// @notice The stake sharing `orchestrator`'s earnings of the current round: what was bonded to it at
    /// the round's start, plus this round's rewards, minus what left since. Stake bonded during the round
    /// earns from the next round on.
    function earningStake(address orchestrator) external view returns (uint256) {
        Orchestrator storage o = _orchestrators[orchestrator];
        return o.round == _currentRound() ? o.counted : o.stake;
    }

    /// @notice The current round, computed from the RoundsManager's immutable round length.
    function currentRound() external view returns (uint256) {
        return _currentRound();
    }

    // ---------------------------------------------------------------- internals

    function _currentRound() internal view override returns (uint256) {
        return block.number / roundLength;
    }

    function _pending(address delegator) private view returns (uint256 stake, uint256 fees) {
        Delegator storage d = _delegators[delegator];
        (stake, fees,,,) = _earnings(d);
        fees += uint256(d.fees) + _orchestrators[delegator].ownerFees;
    }

    /// @dev Brings a delegator's bonded stake and fees up to date with its delegate's factors.
    function _settle(address delegator, Delegator storage d) private {
        uint256 oldBonded = d.bonded;
        (uint256 bonded, uint256 fees, uint256 rf, uint256 ff, uint256 added) = _earnings(d);
        if (rf == d.rewardFactor && ff == d.feeFactor && added == d.added) return;
        if (oldBonded != 0) {
            d.bonded = uint96(bonded); // bounded by the delegate's 96-bit stake
            d.fees = (uint256(d.fees) + fees).toUint128();
            d.added = uint96(added);
            emit EarningsClaimed(delegator, d.delegate, bonded - oldBonded, fees);
        }
        d.rewardFactor = uint160(rf);
        d.feeFactor = ff;
    }

    /// @dev Applies a parameter change from the next round, keeping the values in force now for tickets
    /// already created. Refuses a change while tickets created under the previous values may be redeemed.
    function _setParams(address orch, Orchestrator storage o, uint256 rewardCut, uint256 feeShare) private {
        if (rewardCut > PPM) revert InvalidPPM(rewardCut);
        if (feeShare > PPM) revert InvalidPPM(feeShare);
        uint256 round = _currentRound();
        uint256 effective;
        if (!o.paramsSet) {
            // First registration: nothing was promised under other values; effective at once.
            o.paramsSet = true;
            o.prevRewardCut = uint24(rewardCut);
            o.prevFeeShare = uint24(feeShare);
            effective = round;
        } else {
            // Unchanged values (a re-registration, say) need no checkpoint.
            if (rewardCut == o.rewardCut && feeShare == o.feeShare) return;
            // The previous values serve tickets created before paramsRound, redeemable up to round
            // paramsRound - 1 + validity - 1; a change in round r drops them, so r >= paramsRound + validity - 1.
            uint256 limit = uint256(o.paramsRound) + ticketValidityPeriod;
            if (round + 1 < limit) revert ParamsChangeTooSoon(limit - 1);
            o.prevRewardCut = o.rewardCut;
            o.prevFeeShare = o.feeShare;
            effective = round + 1;
        }
        o.rewardCut = uint24(rewardCut);
        o.feeShare = uint24(feeShare);
        o.paramsRound = uint64(effective);
        emit OrchestratorParamsSet(orch, rewardCut, feeShare, effective);
    }

    /// @dev Recomputes the stake counted for an orchestrator's activity and the active totals, keeping the
    /// values they had at the start of the current round.
    function _updateActiveStake(address orch, Orchestrator storage o) private {
        uint256 stake = o.stake;
        uint256 next = (o.registered && stake >= minActiveStake) ? stake : 0;
        uint256 prev = o.activeStake;
        if (next == prev) return;
        uint64 round = uint64(_currentRound());
        if (o.activeRound != round) {
            o.startActiveStake = uint96(prev);
            o.activeRound = round;
        }
        o.activeStake = uint96(next);

        ActivePool memory p = _pool;
        if (p.round != round) {
            p.startCount = p.count;
            _startTotal = p.total;
            p.round = round;
        }
        if (prev == 0) ++p.count;
        else if (next == 0) --p.count;
        p.total = p.total + uint128(next) - uint128(prev);
        _pool = p;
        emit ActiveStakeChanged(orch, next);
    }

    function _startActiveStake(Orchestrator storage o, uint256 round) private view returns (uint256) {
        return o.activeRound == round ? o.startActiveStake : o.activeStake;
    }

    function _startTotalActive(uint256 round) private view returns (uint256) {
        ActivePool memory p = _pool;
        return p.round == round ? _startTotal : p.total;
    }
}
